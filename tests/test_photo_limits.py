"""A bad file cannot exhaust a worker: peak memory of worst-case decodes (measured in a subprocess),
per-format pixel limits, the per-worker decode slots, caps on multipart parts and photos per
inspection (refused before any photo is stored), and images that decode "successfully" with
missing pixel data (refused as 422 unprocessable_photo)."""
import io
import json
import math
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pillow_heif import register_heif_opener
from werkzeug.datastructures import MultiDict

from app.models import Inspection, Photo
from app.storage import get_store
from tests.factories import GARBAGE_ONLY, count, submission
from tests.photos import PHOTOS, pattern_image, real_photo, upload

ROOT = Path(__file__).resolve().parent.parent
register_heif_opener()  # the tests write HEIC files
# One worst-case decode (at its format's limit) must stay under this peak RSS, interpreter and
# app modules included: the per-worker budget of README "Limits".
DECODE_PEAK_BOUND_MB = 600


# --- helpers ------------------------------------------------------------------------------------

def encode(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def blocky(seed, size=(96, 64)):
    """A small picture with content (different seeds differ)."""
    return pattern_image(seed, size)


def error_of(response):
    assert response.is_json, (response.status_code, response.data[:200])
    error = response.get_json()["error"]
    assert error["status"] == response.status_code and error["message"] and error["message_zh"]
    return error


def photo_files(app):
    """Every file under PHOTO_ROOT (the store of this engine's app)."""
    with app.app_context():
        root = Path(get_store().root)
    return {p for p in root.rglob("*") if p.is_file()}


def side_for(pixels):
    """The side of the largest square with at most `pixels` pixels."""
    return math.isqrt(pixels)


def chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(width, height, rows, color_type=2, interlace=0, bit_depth=8):
    """A PNG declaring width×height whose (complete, valid) zlib stream holds `rows` raw rows."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = b"\x00" + bytes(range(256)) * (width * channels * bit_depth // 8 // 256 + 1)
    row = row[: 1 + math.ceil(width * channels * bit_depth / 8)]
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * rows))
            + chunk(b"IEND", b""))


# --- peak memory, measured in a subprocess --------------------------------------------------------

# the peak resident memory of this process since exec (ru_maxrss would include the parent's at fork)
PEAK = r"""
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

DECODE_SCRIPT = PEAK + r"""
import json, sys
from flask import Flask
from config import TestingConfig
from app.services.photos import process_photo

app = Flask("probe")
app.config.from_object(TestingConfig)
data = open(sys.argv[1], "rb").read()
with app.app_context():
    try:
        photo = process_photo(data)
        outcome = f"ok {photo.width}x{photo.height}"
    except Exception as exc:
        outcome = f"{type(exc).__name__} {getattr(exc, 'status', '')} {getattr(exc, 'code', '')}"
print(json.dumps({"outcome": outcome, "peak_mb": peak_mb()}))
"""


def decode_in_subprocess(tmp_path, data):
    path = tmp_path / "photo"
    path.write_bytes(data)
    out = subprocess.run([sys.executable, "-c", DECODE_SCRIPT, str(path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def worst_case(kind, limits):
    """(bytes, pixels) of the costliest photo of `kind` its limit lets through (measured): a flat
    square, with alpha where the format has it (compositing needs a second full-size buffer)."""
    if kind == "webp":
        side = min(side_for(limits["webp"]), 16383)
        return encode(Image.new("RGBA", (side, side), (90, 140, 60, 128)), "WEBP", lossless=True), side * side
    if kind == "png":  # a palette with a transparent entry: palette, RGBA and RGB copies at full size
        side = side_for(limits["png"])
        return encode(Image.new("P", (side, side), 3), "PNG", compress_level=1, transparency=3), side * side
    if kind == "jpeg_progressive":  # every coefficient is kept; CMYK without subsampling is the most
        side = side_for(limits["jpeg_progressive"])
        image = Image.new("CMYK", (side, side), (10, 90, 140, 60))
        return encode(image, "JPEG", quality=10, progressive=True), side * side
    if kind == "jpeg":  # baseline: decoded at reduced scale, so the general limit applies
        side = side_for(limits["jpeg"])
        return encode(Image.new("RGB", (side, side), (90, 140, 60)), "JPEG", quality=10), side * side
    if kind == "heic":
        side = side_for(limits["heic"])
        image = Image.new("RGBA", (side, side), (90, 140, 60, 128))
        return encode(image, "HEIF", quality=1, enc_params={"preset": "ultrafast"}), side * side
    raise ValueError(kind)


def default_limits():
    from config import TestingConfig

    return {**TestingConfig.MAX_DECODE_PIXELS, "jpeg": TestingConfig.MAX_PHOTO_PIXELS}


@pytest.mark.parametrize("kind", ["webp", "png", "jpeg_progressive", "jpeg", "heic"])
def test_worst_case_decode_at_the_limit_stays_under_the_memory_bound(tmp_path, kind):
    data, pixels = worst_case(kind, default_limits())
    result = decode_in_subprocess(tmp_path, data)
    assert result["outcome"].startswith("ok"), result
    assert result["peak_mb"] < DECODE_PEAK_BOUND_MB, (kind, pixels, result)


def test_the_reported_webp_bomb_is_refused_before_its_decoder_allocates(tmp_path):
    """The 2 354-byte WebP of the report: 7745×7745, just under MAX_PHOTO_PIXELS (~1 GB before)."""
    data = encode(Image.new("RGB", (7745, 7745), (90, 140, 60)), "WEBP", lossless=True)
    assert len(data) < 4000
    result = decode_in_subprocess(tmp_path, data)
    assert result["outcome"].split()[:2] == ["PhotoTooLarge", "413"], result
    assert result["peak_mb"] < 200, result


# --- limits per format, through the API (both engines) ---------------------------------------------

FORMATS = {
    "webp": lambda image: encode(image, "WEBP"),
    "png": lambda image: encode(image, "PNG"),
    "heic": lambda image: encode(image, "HEIF"),
    "jpeg_progressive": lambda image: encode(image, "JPEG", progressive=True),
}


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_full_size_decodes_have_their_own_pixel_limit(client, inspector, monkeypatch, kind):
    image = blocky(1, (96, 64))
    limits = {**client.application.config["MAX_DECODE_PIXELS"], kind: 96 * 64 - 1}
    monkeypatch.setitem(client.application.config, "MAX_DECODE_PIXELS", limits)
    r = upload(client, inspector, FORMATS[kind](image))
    error = error_of(r)
    assert r.status_code == 413 and error["code"] == "photo_too_large"
    assert error["details"] == {"width": 96, "height": 64, "max_pixels": 96 * 64 - 1, "format": kind}
    # a baseline JPEG of the same size is decoded at reduced scale: only MAX_PHOTO_PIXELS applies
    assert upload(client, inspector, encode(image, "JPEG")).status_code == 201
    assert count(client.application, Photo) == 1


def test_oversized_webp_never_reaches_the_webp_decoder(client, inspector, monkeypatch):
    """The WebP decoder allocates its canvases when the file is opened: the header is checked first."""
    from PIL import WebPImagePlugin

    def refuse(*args):
        raise AssertionError("the WebP decoder was created")

    monkeypatch.setattr(WebPImagePlugin._webp, "WebPAnimDecoder", refuse)
    data = encode(Image.new("RGB", (5000, 5000)), "WEBP", lossless=True)
    r = upload(client, inspector, data)
    assert r.status_code == 413 and error_of(r)["details"]["format"] == "webp"


def test_a_busy_decoder_answers_503_with_retry_after(client, inspector, monkeypatch):
    from app.services.photos import decode_slots

    monkeypatch.setitem(client.application.config, "PHOTO_DECODE_WAIT_SECONDS", 0.2)
    with client.application.app_context():
        slots = decode_slots()
    taken = [slots.acquire(timeout=1) for _ in range(client.application.config["PHOTO_DECODE_CONCURRENCY"])]
    try:
        r = upload(client, inspector, encode(blocky(2), "JPEG"))
    finally:
        for _ in taken:
            slots.release()
    error = error_of(r)
    assert r.status_code == 503 and error["code"] == "service_unavailable" and r.headers["Retry-After"]
    assert count(client.application, Photo) == 0
    assert upload(client, inspector, encode(blocky(2), "JPEG")).status_code == 201


CONCURRENT_SCRIPT = PEAK + r"""
import io, json, sys, threading
from app import create_app

url, root, token, paths = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
app = create_app("testing", DATABASE_URL=url, PHOTO_ROOT=root)
statuses = []
barrier = threading.Barrier(len(paths))

def send(path):
    client = app.test_client()
    data = open(path, "rb").read()
    barrier.wait()
    r = client.post("/api/v1/photos", headers={"Authorization": f"Bearer {token}"},
                    data={"file": (io.BytesIO(data), "bomb.webp")}, content_type="multipart/form-data")
    statuses.append(r.status_code)

threads = [threading.Thread(target=send, args=(p,)) for p in paths]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"statuses": statuses, "peak_mb": peak_mb()}))
"""


def test_concurrent_worst_case_uploads_share_one_decode_budget(app, client, inspector, tmp_path):
    """Four worst-case WebPs at once through the app in one worker process (threads): the decode
    slots (PHOTO_DECODE_CONCURRENCY = 1) keep the peak at one decode's, not four (~4× before)."""
    assert app.config["PHOTO_DECODE_CONCURRENCY"] == 1
    side = min(side_for(app.config["MAX_DECODE_PIXELS"]["webp"]), 16383)
    paths = []
    for n in range(4):
        path = tmp_path / f"bomb{n}.webp"
        path.write_bytes(encode(Image.new("RGBA", (side, side), (90, 140, 60 + n, 128)), "WEBP", lossless=True))
        paths.append(str(path))
    out = subprocess.run([sys.executable, "-c", CONCURRENT_SCRIPT, app.config["DATABASE_URL"],
                          str(photo_root(app)), inspector.token, *paths],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert sorted(result["statuses"]) == [201] * 4, result
    assert result["peak_mb"] < DECODE_PEAK_BOUND_MB + 100, result
    assert count(app, Photo) == 4


def photo_root(app):
    with app.app_context():
        return get_store().root


# --- multipart parts and photos per inspection -------------------------------------------------------

def inspection_json(app, photos=None):
    """The `inspection` part: garbage answered, its photos in the parts (and `photos` ids)."""
    return json.dumps(submission(app, photos or {}, answers=GARBAGE_ONLY))


def multipart_inspection(client, user, text, parts):
    """POST /inspections as multipart: the JSON part, then (part name, file bytes) in order."""
    fields = [("inspection", text)] + [(name, (io.BytesIO(payload), f"p{n}.jpg")) for n, (name, payload) in enumerate(parts)]
    return client.post("/api/v1/inspections", headers=user.headers, content_type="multipart/form-data",
                       data=MultiDict(fields))


@pytest.mark.parametrize("parts", [30, 900])
def test_too_many_parts_is_413_before_any_photo_is_stored(app, client, inspector, parts):
    assert app.config["MAX_FORM_PARTS"] < 30
    before = photo_files(app)
    r = multipart_inspection(client, inspector, inspection_json(app), [("photos.garbage", encode(blocky(3), "JPEG"))] * parts)
    error = error_of(r)
    assert r.status_code == 413 and error["code"] == "payload_too_large"
    assert error["details"]["max_parts"] == app.config["MAX_FORM_PARTS"]
    assert count(app, Photo) == 0 and count(app, Inspection) == 0
    assert photo_files(app) == before


def test_photos_over_the_per_inspection_limit_are_422_before_any_is_stored(app, client, inspector):
    limit = app.config["MAX_PHOTOS_PER_INSPECTION"]
    assert limit + 1 < app.config["MAX_FORM_PARTS"]
    before = photo_files(app)
    parts = [("photos.garbage", encode(blocky(100 + n), "JPEG")) for n in range(limit + 1)]
    r = multipart_inspection(client, inspector, inspection_json(app), parts)
    error = error_of(r)
    assert r.status_code == 422 and error["code"] == "validation_error" and list(error["fields"]) == ["photos"]
    assert count(app, Photo) == 0 and photo_files(app) == before
    # the ids of the JSON part count too
    ids = {"garbage": [f"{n:032x}" for n in range(limit - 1)]}
    r = multipart_inspection(client, inspector, inspection_json(app, ids), parts[:2])
    assert r.status_code == 422 and list(error_of(r)["fields"]) == ["photos"]
    assert count(app, Photo) == 0 and photo_files(app) == before


def test_photo_ids_over_the_per_inspection_limit_are_422(app, client, inspector):
    limit = app.config["MAX_PHOTOS_PER_INSPECTION"]
    per_aspect = limit // 4 + 1
    photos = {aspect: [f"{aspect[:2]}{n:030x}" for n in range(per_aspect)]
              for aspect in ("garbage", "sewage", "cleanliness", "tap_water")}
    r = client.post("/api/v1/inspections", headers=inspector.headers, json=json.loads(inspection_json(app, photos)))
    error = error_of(r)
    assert r.status_code == 422 and list(error["fields"]) == ["photos"] and str(limit) in error["fields"]["photos"][0]


def test_one_bad_photo_part_stores_no_file_of_the_others(app, client, inspector):
    before = photo_files(app)
    good = [("photos.garbage", encode(blocky(200 + n), "JPEG")) for n in range(2)]
    bad = ("photos.garbage", encode(blocky(210), "JPEG")[:300])
    r = multipart_inspection(client, inspector, inspection_json(app), good + [bad])
    assert r.status_code == 422 and error_of(r)["code"] == "unprocessable_photo"
    assert count(app, Photo) == 0 and count(app, Inspection) == 0
    assert photo_files(app) == before


def test_a_multipart_inspection_with_photos_still_works(app, client, inspector):
    parts = [("photos.garbage", encode(blocky(300 + n), "JPEG")) for n in range(3)]
    r = multipart_inspection(client, inspector, inspection_json(app), parts)
    assert r.status_code == 201, r.get_json()
    assert len(r.get_json()["photos"]["garbage"]) == 3 and count(app, Photo) == 3


# --- images with missing pixel data ------------------------------------------------------------

def jpeg_with_short_scan():
    """A 16×16 JPEG whose frame header claims 256×256: the scan covers one MCU of 256."""
    data = bytearray(encode(blocky(4, (16, 16)), "JPEG", quality=90))
    at = data.find(b"\xff\xc0")
    data[at + 5:at + 9] = struct.pack(">HH", 256, 256)
    return bytes(data)


def jpeg_cut_with_eoi():
    """A JPEG cut in the middle of its scan, an end-of-image marker appended."""
    data = encode(blocky(5, (640, 480)), "JPEG", quality=95)
    return data[: len(data) // 2] + b"\xff\xd9"


MISSING_DATA = {
    "png-1-row-of-64": lambda: png(64, 64, rows=1),
    "png-63-rows-of-64": lambda: png(64, 64, rows=63),
    "png-1-row-of-2": lambda: png(300, 2, rows=1, color_type=6),
    "png-interlaced-short": lambda: png(64, 64, rows=20, interlace=1),
    "jpeg-scan-16x16-of-256x256": jpeg_with_short_scan,
    "jpeg-cut-plus-eoi": jpeg_cut_with_eoi,
    "webp-cut": lambda: encode(blocky(6, (320, 240)), "WEBP", quality=90)[:-200],
    "heic-cut": lambda: encode(blocky(7, (320, 240)), "HEIF")[:-300],
}


@pytest.mark.parametrize("name", sorted(MISSING_DATA))
def test_image_with_missing_pixel_data_is_422(client, inspector, name):
    r = upload(client, inspector, MISSING_DATA[name]())
    error = error_of(r)
    assert r.status_code == 422 and error["code"] == "unprocessable_photo", error
    assert count(client.application, Photo) == 0


COMPLETE = {
    "png-complete": lambda: png(64, 64, rows=64),
    "png-interlaced": lambda: _interlaced_png(),
    "png-16bit-grey": lambda: encode(Image.new("I;16", (40, 30), 3000), "PNG"),
    "png-1bit": lambda: encode(blocky(9).convert("1"), "PNG"),
    "png-palette-alpha": lambda: encode(blocky(10).convert("P"), "PNG", transparency=0),
    "jpeg-progressive": lambda: encode(blocky(11, (300, 200)), "JPEG", progressive=True),
    "jpeg-restart-markers": lambda: encode(blocky(12, (300, 200)), "JPEG", restart_marker_blocks=4),
    "jpeg-cmyk": lambda: encode(blocky(13).convert("CMYK"), "JPEG"),
    "jpeg-grey": lambda: encode(blocky(14).convert("L"), "JPEG"),
    "jpeg-trailing-bytes": lambda: encode(blocky(15), "JPEG") + b"\x00" * 100 + b"SEFT trailer",
    "jpeg-mpo": lambda: encode(blocky(16), "MPO", save_all=True, append_images=[blocky(17)]),
    "webp-lossless-alpha": lambda: encode(blocky(18).convert("RGBA"), "WEBP", lossless=True),
    "heic": lambda: encode(blocky(19, (320, 240)), "HEIF"),
    "jpeg-flat": lambda: encode(Image.new("RGB", (256, 256), (128, 128, 128)), "JPEG"),
}


def _interlaced_png():
    """An Adam7 PNG written by hand (Pillow does not write interlaced PNGs)."""
    width, height = 13, 11
    pixels = blocky(20, (width, height)).tobytes()
    raw = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
        for y in range(y0, height, dy):
            row = b"".join(pixels[(y * width + x) * 3:(y * width + x) * 3 + 3] for x in range(x0, width, dx))
            if row:
                raw += b"\x00" + row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("name", sorted(COMPLETE))
def test_complete_images_of_every_kind_are_accepted(client, inspector, name):
    r = upload(client, inspector, COMPLETE[name]())
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("name", sorted(p.name for p in PHOTOS.glob("*.jpg")))
def test_real_photos_are_not_mistaken_for_missing_data(client, inspector, name):
    r = upload(client, inspector, real_photo(name))
    assert r.status_code == 201, r.get_json()


def test_interlaced_png_fixture_is_valid():
    image = Image.open(io.BytesIO(_interlaced_png()))
    image.load()
    assert image.info.get("interlace") == 1 and image.tobytes() == blocky(20, (13, 11)).tobytes()


def test_full_size_pixels_of_one_request_are_budgeted_before_any_decode(app, client, inspector, monkeypatch):
    import app.services.photos as photos

    pngs = [("photos.garbage", encode(blocky(400 + n), "PNG")) for n in range(3)]  # 96×64 each
    monkeypatch.setitem(app.config, "MAX_DECODE_PIXELS_PER_REQUEST", 2 * 96 * 64)
    monkeypatch.setattr(photos, "make_variants", lambda *args: pytest.fail("a photo was decoded"))
    before = photo_files(app)
    r = multipart_inspection(client, inspector, inspection_json(app), pngs)
    error = error_of(r)
    assert r.status_code == 413 and error["code"] == "photo_too_large"
    assert error["details"] == {"max_request_pixels": 2 * 96 * 64}
    assert count(app, Photo) == 0 and photo_files(app) == before
    # baseline JPEGs are decoded at reduced scale: they do not count
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "MAX_DECODE_PIXELS_PER_REQUEST", 2 * 96 * 64)
    jpegs = [("photos.garbage", encode(blocky(410 + n), "JPEG")) for n in range(3)]
    assert multipart_inspection(client, inspector, inspection_json(app), jpegs).status_code == 201
