"""Photos: type sniffing, limits, EXIF facts, variants, perceptual hash, storage.

The pipeline for one upload (`store_photo`): check the size, sniff the type from the bytes (the
client's name and content type are never trusted), read the header (pixel limits before any
decoder allocates), read EXIF facts, take a decode slot, decode once to prove the pixel data is
all there — a baseline JPEG at 1/8 scale (draft mode), other kinds at full size — refusing images
with missing pixel data, write the original atomically, and only then insert the row (variants
`pending`) — so no row ever points at a missing original. Identical bytes are one photo with one id.

The rest does not keep the phone waiting: after the commit, the job `photos.complete`
(`complete_photo`, app/jobs.py) decodes the original again, makes the display variant (~1600 px)
and the thumbnail (~320 px) with the EXIF orientation applied and no metadata, hashes the
thumbnail perceptually, writes them, marks the photo `ready` and runs the `photo_reused` check
again for the inspections that use it (services.flags.recheck_photo_reused). Until then a variant
is served from the original, downscaled on the fly (`open_variant`), never a broken image; and
the periodic sweep (`sweep_pending_photos`) completes any photo left pending by a lost job.

Memory. A baseline JPEG is decoded by libjpeg at 1/2 to 1/8 scale: a few MB whatever its size.
Nothing else can be: Pillow's `draft` is a no-op for PNG and WebP, pillow-heif's `draft` swaps in
an embedded thumbnail (whose content is the file's word, not the image's; disabled below),
`Image.reduce` works on an image already decoded, and a progressive (or multi-scan) JPEG keeps
every DCT coefficient whatever the output scale. Measured peak per pixel (README "Limits"): WebP
~16 bytes (libwebp's canvas and previous-frame buffers, the frame copy, Pillow's image), PNG 5-10,
HEIC 7-11 (8-bit without alpha to 10-bit with), progressive JPEG 7-9. Those kinds have their own,
lower pixel limits (MAX_DECODE_PIXELS); at most PHOTO_DECODE_CONCURRENCY decodes run at once per
worker (`decode_slot`), and freed decoder memory is returned to the system after each, so a
worker's peak is bounded by one worst-case decode per slot.
"""
import ctypes
import hashlib
import io
import logging
import math
import re
import threading
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import imagehash
from flask import current_app, g, has_request_context
from PIL import Image, ImageFile, ImageStat, JpegImagePlugin, UnidentifiedImageError
from pillow_heif import register_heif_opener
from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError

from app.access import get_visible_photo, may_see_originals
from app.errors import Forbidden, PhotoTooLarge, ServiceUnavailable, UnprocessablePhoto, UnsupportedMediaType
from app.extensions import db
from app.jobs import enqueue_after_commit, job, periodic, setting as job_setting
from app.models import InspectionPhoto, Photo, PhotoHashBand, PhotoUpload
from app.models.photo import photo_hash_band_rows
from app.models.types import CHINA
from app.services.flags import recheck_photo_reused
from app.storage import get_store, photo_key, sniff_type

log = logging.getLogger(__name__)

register_heif_opener(thumbnails=False)  # never an embedded thumbnail in place of the image
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated upload is an error, never half an image

DISPLAY_PX = 1600
THUMB_PX = 320
VARIANT_QUALITY = 82
# bumped when the variant recipe changes, so caches revalidate
VARIANT_REVISION = "1"
FLAT_STDDEV = 2.0  # grey-level spread below which an image has no content to hash

HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
PILLOW_FORMATS = {"image/jpeg": {"JPEG", "MPO"}, "image/png": {"PNG"}, "image/webp": {"WEBP"},
                  "image/heic": {"HEIF"}}
# what limits a photo's pixels: MAX_PHOTO_PIXELS for all, MAX_DECODE_PIXELS[kind] for the kinds
# decoded at full size ("jpeg" is baseline JPEG, decoded at reduced scale)
KINDS = {"image/png": "png", "image/webp": "webp", "image/heic": "heic"}
KIND_NAMES = {"jpeg": "JPEG", "jpeg_progressive": "progressive JPEG", "png": "PNG", "webp": "WebP", "heic": "HEIC"}

# EXIF tags (TIFF/EXIF 2.32)
TAG_MAKE, TAG_MODEL, TAG_ORIENTATION, TAG_DATETIME, TAG_SOFTWARE = 0x010F, 0x0110, 0x0112, 0x0132, 0x0131
IFD_EXIF, IFD_GPS = 0x8769, 0x8825
TAG_DATETIME_ORIGINAL, TAG_DATETIME_DIGITIZED, TAG_OFFSET_TIME_ORIGINAL = 0x9003, 0x9004, 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 1, 2, 3, 4, 5, 6
GPS_H_ERROR = 31
EXIF_DATETIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
EXIF_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


# --- sniffing and limits --------------------------------------------------------------------

def sniff_content_type(data):
    """The image type from the first bytes; raises 415 for anything not JPEG/PNG/WebP/HEIC."""
    kind = sniff_type(data)
    if kind in ("image/jpeg", "image/png", "image/webp"):
        return kind
    if kind == "image/heic":  # an ISO media file: HEIC/HEIF only by one of its brands
        size = int.from_bytes(data[:4], "big")
        brands = {data[i:i + 4] for i in range(8, min(max(size, 16), 64), 4)} - {data[12:16]}
        if brands & HEIF_BRANDS:
            return "image/heic"
    raise UnsupportedMediaType(
        "Only JPEG, PNG, WebP and HEIC/HEIF photos are accepted (the type is read from the bytes).",
        message_zh="仅支持 JPEG、PNG、WebP 和 HEIC/HEIF 格式的照片。",
    )


def check_size(size):
    limit = current_app.config["MAX_PHOTO_BYTES"]
    if size > limit:
        raise PhotoTooLarge(f"The photo has more than {limit} bytes.", message_zh=f"照片超过 {limit} 字节。",
                            details={"max_bytes": limit})


def check_pixels(width, height, kind="jpeg"):
    """413 over MAX_PHOTO_PIXELS, or over the kind's own MAX_DECODE_PIXELS when lower."""
    config = current_app.config
    limit = config["MAX_PHOTO_PIXELS"]
    decode_limit = config["MAX_DECODE_PIXELS"].get(kind)
    if decode_limit is not None and decode_limit < limit:
        limit = decode_limit
    if width * height > limit:
        name = KIND_NAMES[kind]
        raise PhotoTooLarge(
            f"The {name} photo has {width}×{height} pixels; at most {limit} are accepted for {name}.",
            message_zh=f"照片像素过多（{width}×{height}），{name} 格式最多 {limit} 像素。",
            details={"width": width, "height": height, "max_pixels": limit, "format": kind},
        )


def webp_size(data):
    """(width, height) of a WebP canvas from its first chunk header (VP8, VP8L or VP8X), or None.
    Read before Pillow opens the file: libwebp allocates the canvas when the decoder is created."""
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def check_request_pixels(pixels):
    """413 when the photos of one request need more than MAX_DECODE_PIXELS_PER_REQUEST pixels decoded
    at full size: many worst-case photos in one multipart request cannot outlast a worker's timeout."""
    limit = current_app.config["MAX_DECODE_PIXELS_PER_REQUEST"]
    if pixels > limit:
        raise PhotoTooLarge(
            f"The photos of this request have more than {limit} pixels to decode at full size; "
            "send fewer at a time (or as JPEG).",
            message_zh=f"本次请求的照片总像素超过 {limit}，请分批上传（或使用 JPEG）。",
            details={"max_request_pixels": limit},
        )


def count_request_pixels(kind, width, height):
    """Add a full-size decode to this request's count (check_request_pixels)."""
    if kind == "jpeg" or not has_request_context():
        return
    spent = g.get("photo_decoded_pixels", 0) + width * height
    check_request_pixels(spent)
    g.photo_decoded_pixels = spent


# --- decode slots -----------------------------------------------------------------------------

_slots_lock = threading.Lock()
try:  # glibc: hand freed decoder buffers back to the system (each thread's arena keeps them otherwise)
    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):
    _malloc_trim = None


def decode_slots():
    """This app's (this worker's) semaphore of PHOTO_DECODE_CONCURRENCY decode slots."""
    app = current_app._get_current_object()
    slots = app.extensions.get("photo_decode_slots")
    if slots is None:
        with _slots_lock:
            slots = app.extensions.setdefault(
                "photo_decode_slots", threading.BoundedSemaphore(app.config["PHOTO_DECODE_CONCURRENCY"]))
    return slots


@contextmanager
def decode_slot():
    """Hold one decode slot; after PHOTO_DECODE_WAIT_SECONDS without one, 503 with Retry-After.
    Yields a dict: set "trim" when the decode was full size, so that the freed buffers go back to
    the system (a draft-decoded JPEG's few MB are not worth the ~8 ms malloc_trim costs)."""
    slots = decode_slots()
    if not slots.acquire(timeout=current_app.config["PHOTO_DECODE_WAIT_SECONDS"]):
        retry = int(current_app.config.get("SERVICE_RETRY_AFTER_SECONDS", 5))
        raise ServiceUnavailable("Photos are being processed; send this one again shortly.",
                                 message_zh="照片处理繁忙，请稍后重新上传。", headers={"Retry-After": str(retry)},
                                 details={"retry_after": retry})
    state = {"trim": True}
    try:
        yield state
    finally:
        if _malloc_trim is not None and state["trim"]:
            _malloc_trim(0)
        slots.release()


def read_upload(file_storage):
    """The bytes of an uploaded file part, reading at most one byte past the limit."""
    data = file_storage.stream.read(current_app.config["MAX_PHOTO_BYTES"] + 1)
    check_size(len(data))
    return data


def unprocessable(reason):
    return UnprocessablePhoto(f"The photo could not be read: {reason}.", message_zh="照片无法读取（文件损坏或不完整）。",
                              details={"reason": reason})


# --- EXIF -----------------------------------------------------------------------------------

def _text(value, limit=100):
    """An EXIF string as clean text (no NULs, trimmed), or None."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:limit] or None


def _number(value):
    """A finite float from an EXIF rational/number, or None (0/0 gives NaN in Pillow)."""
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _dms(value, ref, limit):
    """Degrees/minutes/seconds + ref -> signed decimal degrees, or None when bogus."""
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 3:
        return None
    parts = [_number(v) for v in value]
    if any(p is None or p < 0 for p in parts):
        return None
    parts += [0.0] * (3 - len(parts))
    degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    if parts[1] >= 60 or parts[2] >= 60 or degrees > limit:
        return None
    ref = (_text(ref) or "").upper()[:1]
    return -degrees if ref in ("S", "W") else degrees


def _taken_at(exif, sub_ifd):
    """EXIF capture time as aware UTC: OffsetTimeOriginal if present, else read as China time."""
    for tag, ifd in ((TAG_DATETIME_ORIGINAL, sub_ifd), (TAG_DATETIME_DIGITIZED, sub_ifd), (TAG_DATETIME, exif)):
        raw = _text(ifd.get(tag))
        match = EXIF_DATETIME.match(raw or "")
        if not match:
            continue
        try:
            local = datetime(*map(int, match.groups()))
        except ValueError:
            continue  # 0000:00:00 00:00:00 and friends
        if not 1990 <= local.year <= 2100:
            continue
        offset = EXIF_OFFSET.match(_text(sub_ifd.get(TAG_OFFSET_TIME_ORIGINAL)) or "")
        if offset and tag == TAG_DATETIME_ORIGINAL:
            sign = -1 if offset.group(1) == "-" else 1
            delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
            if delta <= timedelta(hours=14):
                return local.replace(tzinfo=timezone(sign * delta)).astimezone(timezone.utc), raw, "exif"
        return local.replace(tzinfo=CHINA).astimezone(timezone.utc), raw, "assumed_china"
    return None, None, None


def read_exif(image):
    """EXIF facts of an opened image as plain data; bogus values are dropped, never raised.

    Returns (facts, has_exif). facts: taken_at (ISO UTC), taken_at_local (as written),
    taken_at_zone ('exif' or 'assumed_china'), lat, lon, altitude, gps_accuracy_m, make, model,
    orientation, software, dropped (what was ignored and why).
    """
    facts = {"taken_at": None, "lat": None, "lon": None, "altitude": None, "make": None, "model": None,
             "orientation": None}
    dropped = []
    try:
        exif = image.getexif()
        sub_ifd = exif.get_ifd(IFD_EXIF) if IFD_EXIF in exif else {}
        gps = exif.get_ifd(IFD_GPS) if IFD_GPS in exif else {}
    except Exception:  # a broken EXIF block is the same as none
        return {**facts, "dropped": ["exif: unreadable"]}, False
    has_exif = len(exif) > 0
    facts["make"] = _text(exif.get(TAG_MAKE))
    facts["model"] = _text(exif.get(TAG_MODEL))
    facts["software"] = _text(exif.get(TAG_SOFTWARE))
    orientation = exif.get(TAG_ORIENTATION)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        facts["orientation"] = orientation
    elif orientation is not None:
        dropped.append(f"orientation: {orientation!r} is not 1-8")
    taken_at, local, zone = _taken_at(exif, sub_ifd)
    if taken_at is not None:
        facts.update(taken_at=taken_at.isoformat(), taken_at_local=local, taken_at_zone=zone)

    if gps:
        lat = _dms(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), 90)
        lon = _dms(gps.get(GPS_LON), gps.get(GPS_LON_REF), 180)
        altitude = _number(gps.get(GPS_ALT))
        if GPS_LAT in gps or GPS_LON in gps:
            if lat is None or lon is None:
                dropped.append("gps: position unreadable (missing, NaN or out of range)")
            elif lat == 0 and lon == 0:
                dropped.append("gps: position 0,0 (no fix)")
                lat = lon = altitude = None
            else:
                facts["lat"], facts["lon"] = round(lat, 7), round(lon, 7)
        if altitude is not None:
            ref = gps.get(GPS_ALT_REF)
            below = ref in (1, b"\x01") or (isinstance(ref, bytes) and ref[:1] == b"\x01")
            facts["altitude"] = round(-altitude if below else altitude, 2)
        accuracy = _number(gps.get(GPS_H_ERROR))
        if accuracy is not None and accuracy >= 0 and facts["lat"] is not None:
            facts["gps_accuracy_m"] = round(accuracy, 2)
    if dropped:
        facts["dropped"] = dropped
    return facts, has_exif


# --- missing pixel data -----------------------------------------------------------------------
#
# With LOAD_TRUNCATED_IMAGES off, Pillow refuses a file whose data stops mid-stream. Two kinds of
# damage still decode "successfully", the rest of the image left blank: a PNG whose compressed
# stream is complete but holds fewer rows than the header declares (Pillow's decoder stops at the
# end of the stream), and a JPEG scan that ends early at a marker (libjpeg only warns, and fills
# the remaining blocks). PNG: the stream is inflated once more, counting bytes, not keeping them.
# JPEG: when the image is one interleaved sequential Huffman scan followed by its end marker (what
# cameras and phones write), it is decoded with the end marker replaced by a few zero bytes: a
# complete scan never needs them (libjpeg reads a little ahead, which they satisfy) and finishes;
# a short one runs out of data mid-scan, which Pillow reports as truncated. Progressive and
# multi-scan JPEGs need their end marker to be decoded at all and are not checked this way.

SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
SOF_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
SOF_SEQUENTIAL_HUFFMAN = {0xC0, 0xC1}
# the first marker after entropy-coded data (FF00 is a stuffed data byte, FFD0-FFD7 restart markers)
ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # a marker; fill bytes before it: see jpeg_layout
JPEG_END_PAD = b"\x00" * 16


@dataclass
class JpegLayout:
    buffered: bool  # progressive or several scans: libjpeg keeps every coefficient until the end
    scan_end: int | None  # end of the one sequential Huffman scan, when the end marker follows it


def jpeg_layout(data):
    """What the marker segments of the first image in a JPEG file say (no entropy decoding)."""
    sof = components = None
    scans, scan_end, pos, size = [], None, 2, len(data)
    while pos < size:
        if data[pos] != 0xFF:  # stray bytes between segments: libjpeg skips them too
            pos = data.find(b"\xff", pos)
            if pos < 0:
                break
        start = pos
        while pos < size and data[pos] == 0xFF:
            pos += 1
        if pos >= size:
            break
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # end of image
            buffered = sof in SOF_PROGRESSIVE or len(scans) > 1 or (bool(scans) and scans[0] != components)
            checkable = not buffered and sof in SOF_SEQUENTIAL_HUFFMAN and len(scans) == 1 and scan_end == start
            return JpegLayout(buffered, scan_end if checkable else None)
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue
        length = int.from_bytes(data[pos:pos + 2], "big")
        segment = data[pos + 2:pos + length]
        pos += length
        if marker in SOF_MARKERS and sof is None and len(segment) >= 6:
            sof, components = marker, segment[5]
        elif marker == 0xDA:
            scans.append(segment[0] if segment else 0)
            found = ENTROPY_END.search(data, pos)
            if found is None:
                break
            end = found.start()
            while end > pos and data[end - 1] == 0xFF:  # fill bytes belong to the marker
                end -= 1
            pos = scan_end = end
    # no end marker (truncated: the decoder says so), or not a JPEG we understand
    return JpegLayout(buffered=sof in SOF_PROGRESSIVE or len(scans) > 1, scan_end=None)


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def png_rows_missing(data):
    """True when the PNG's compressed image data ends before every declared row is there."""
    if data[12:16] != b"IHDR":
        return False  # Pillow refuses it
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    depth, color_type, interlace = data[24], data[25], data[28]
    bits = PNG_CHANNELS.get(color_type, 4) * depth
    passes = ADAM7 if interlace else ((0, 0, 1, 1),)
    expected = 0
    for x0, y0, dx, dy in passes:
        columns, rows = -(-(width - x0) // dx) if width > x0 else 0, -(-(height - y0) // dy) if height > y0 else 0
        if columns and rows:
            expected += rows * (1 + -(-columns * bits // 8))
    inflater, produced, pos = zlib.decompressobj(), 0, 8
    while pos + 8 <= len(data) and not inflater.eof:
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        if kind == b"IDAT":
            pending = data[pos + 8:pos + 8 + length]
            try:
                while pending and not inflater.eof:
                    produced += len(inflater.decompress(pending, 1 << 20))
                    pending = inflater.unconsumed_tail
            except zlib.error:
                return False  # corrupt: Pillow refuses it
        elif kind == b"IEND":
            break
        pos += 12 + length
    return inflater.eof and produced < expected


# --- decoding, variants, hash ---------------------------------------------------------------

@dataclass
class ProcessedPhoto:
    sha256: str
    content_type: str
    size_bytes: int
    width: int
    height: int
    exif: dict
    has_exif: bool
    phash: str | None = None  # made by the photos.complete job (render_photo)
    variants: dict = field(default_factory=dict)  # variant -> JPEG bytes, likewise

    @property
    def id(self):
        return photo_id_for(self.sha256)

    @property
    def taken_at(self):
        value = self.exif.get("taken_at")
        return datetime.fromisoformat(value) if value else None


def photo_id_for(sha256):
    """Photo ids are derived from the content: the same bytes always get the same id."""
    return sha256[:32]


def _fit(size, box):
    width, height = size
    scale = min(1.0, box / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _flatten(image):
    """The image without transparency (composited on white) in L or RGB, with as few full-size
    copies as its mode allows; the source is closed once copied (its memory freed)."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("LA", "1"):  # grey: one byte a pixel instead of four
        if image.mode == "1":
            flat = image.convert("L")
        else:
            grey, alpha = image.getchannel("L"), image.getchannel("A")
            flat = Image.new("L", image.size, 255)
            flat.paste(grey, mask=alpha)
        image.close()
        return flat
    if image.mode in ("RGBA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        rgba.close()
    else:
        flat = image.convert("RGB")
    image.close()
    return flat


def _encode(image):
    out = io.BytesIO()
    image.save(out, "JPEG", quality=VARIANT_QUALITY)  # no exif=, no icc_profile=: metadata stripped
    return out.getvalue()


def make_variants(image, orientation):
    """(display, thumb) RGB images with the orientation applied; the image is decoded here (and
    closed: the full-size pixels are freed as soon as the display variant is made)."""
    declared = image.size
    target = _fit(declared, DISPLAY_PX)
    if image.format in ("JPEG", "MPO"):
        image.draft("RGB", target)  # DCT-domain downscale: decode at 1/2, 1/4 or 1/8 where possible
    else:
        image.load()
        if image.size != declared:  # a decoder may disagree with the header (HEIC can)
            raise unprocessable("the decoded image is not the size its header declares")
    image = _flatten(image)
    if image.size != target:
        shrunk = image.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
        image.close()
        image = shrunk
    if image.mode != "RGB":  # grey, converted once small
        image = image.convert("RGB")
    if orientation in TRANSPOSE:
        image = image.transpose(TRANSPOSE[orientation])
    thumb = image.resize(_fit(image.size, THUMB_PX), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return image, thumb


def check_pixel_data(image):
    """Decode once to prove every pixel is there, keeping nothing (the image is closed): a baseline
    JPEG at 1/8 scale — libjpeg still reads every coefficient of every block, so a short scan
    fails as at full scale, but skips nearly all the inverse DCT, upsampling and colour work —
    other kinds at full size (they have no reduced-scale decode)."""
    declared = image.size
    if image.format in ("JPEG", "MPO"):
        image.draft("RGB", (max(1, declared[0] // 8), max(1, declared[1] // 8)))
    image.load()
    if image.format not in ("JPEG", "MPO") and image.size != declared:  # a decoder may disagree (HEIC can)
        raise unprocessable("the decoded image is not the size its header declares")
    image.close()


def perceptual_hash(image):
    """64-bit DCT perceptual hash as 16 hex digits; None for a flat image (every flat image hashes
    alike, so the hash would call unrelated blank photos near-identical)."""
    if ImageStat.Stat(image.convert("L")).stddev[0] < FLAT_STDDEV:
        return None
    return str(imagehash.phash(image))


@contextmanager
def refusals():
    """What Pillow and its plugins raise for a bad file, as the API's 413 and 422."""
    # a library imported later may turn truncated images on for itself (WeasyPrint does, at import):
    # an upload is decoded with them off whatever was imported since
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = current_app.config["MAX_PHOTO_PIXELS"]
        raise PhotoTooLarge(f"The photo has too many pixels; at most {limit} are accepted.",
                            message_zh=f"照片像素过多，最多 {limit} 像素。", details={"max_pixels": limit}) from None
    except UnidentifiedImageError:
        raise unprocessable("not a readable image") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, MemoryError) as exc:
        reason = "truncated" if "truncated" in str(exc) else "corrupt image data"
        raise unprocessable(reason) from None


def _open(data, content_type):
    """(image, kind) from the header only, the pixel limits checked. Not for WebP
    before its size is checked: libwebp allocates the whole canvas when the file is opened. A
    sequential JPEG is opened on bytes whose end marker is replaced by JPEG_END_PAD, so that a
    short scan fails to decode (see "missing pixel data")."""
    if content_type == "image/jpeg":
        layout = jpeg_layout(data)
        kind = "jpeg_progressive" if layout.buffered else "jpeg"
        if layout.scan_end is not None:
            data = data[:layout.scan_end] + JPEG_END_PAD
        image = JpegImagePlugin.JpegImageFile(io.BytesIO(data))  # the first image of an MPO too
    else:
        kind = KINDS[content_type]
        image = Image.open(io.BytesIO(data))
        if image.format not in PILLOW_FORMATS[content_type]:
            raise unprocessable(f"the bytes look like {content_type} but decode as {image.format}")
    check_pixels(*image.size, kind)
    return image, kind


def _webp_header(data):
    size = webp_size(data)
    if size is None:
        raise unprocessable("not a readable WebP header")
    check_pixels(*size, "webp")
    return size


def full_size_pixels(data):
    """The pixels this photo will be decoded at full size (0 for a baseline JPEG), from its header
    alone; raises what uploading it would for its size, type and pixels. Nothing is decoded, so a
    request can check all its photos before decoding any."""
    check_size(len(data))
    content_type = sniff_content_type(data)
    if content_type == "image/webp":
        width, height = _webp_header(data)
        return width * height
    with refusals():
        image, kind = _open(data, content_type)
        width, height = image.size
        image.close()
    return 0 if kind == "jpeg" else width * height


def process_photo(data, sha256=None):
    """Check one upload and decode it once (check_pixel_data); returns a ProcessedPhoto without
    variants or hash (the photos.complete job makes them), nothing stored yet. `sha256` when the
    caller has hashed the bytes already."""
    check_size(len(data))
    content_type = sniff_content_type(data)
    if content_type == "image/webp":
        _webp_header(data)  # before waiting for a slot, before libwebp allocates
    with refusals(), decode_slot() as slot:
        image, kind = _open(data, content_type)
        slot["trim"] = kind != "jpeg"
        width, height = image.size
        count_request_pixels(kind, width, height)
        if kind == "png" and png_rows_missing(data):
            raise unprocessable("truncated: the image data ends before its last row")
        exif, has_exif = read_exif(image)
        check_pixel_data(image)
    return ProcessedPhoto(
        sha256=sha256 or hashlib.sha256(data).hexdigest(), content_type=content_type, size_bytes=len(data),
        width=width, height=height, exif=exif, has_exif=has_exif,
    )


def render_photo(data, content_type, orientation):
    """({"display": JPEG bytes, "thumb": JPEG bytes}, perceptual hash or None) of stored bytes: the
    variants with `orientation` (EXIF 1-8) applied, decoded in a decode slot. Raises what
    process_photo raises for a file that is not (any more) a readable image."""
    if content_type == "image/webp":
        _webp_header(data)
    with refusals(), decode_slot() as slot:
        image, kind = _open(data, content_type)
        slot["trim"] = kind != "jpeg"
        display, thumb = make_variants(image, orientation)
        phash = perceptual_hash(thumb)
        return {"display": _encode(display), "thumb": _encode(thumb)}, phash


def prepare_photo(data):
    """Everything `store_photo` checks and computes, nothing written: the ProcessedPhoto to give it,
    or None when these bytes are stored already. Raises what process_photo raises."""
    check_size(len(data))
    sha256 = hashlib.sha256(data).hexdigest()
    if db.session.scalar(select(exists().where(Photo.sha256 == sha256))) and _original_present(sha256):
        return None
    return process_photo(data, sha256)


# --- storage and rows -----------------------------------------------------------------------

VARIANTS_MADE = ("display", "thumb")  # made by the photos.complete job; "original" is the upload


def _original_present(sha256):
    return get_store().exists(photo_key(sha256, "original"))


def _variants_present(sha256):
    store = get_store()
    return all(store.exists(photo_key(sha256, v)) for v in VARIANTS_MADE)


def _make_pending(photo):
    """The photo's variants are to be made (again) by a job, once this transaction commits."""
    if photo.variants_status == "ready" and not _variants_present(photo.sha256):
        photo.variants_status = "pending"  # its variant files were lost: made again
    if photo.variants_status == "pending":
        enqueue_after_commit("photos.complete", photo.id)


def _record_upload(photo_id, user):
    already = db.session.scalar(
        select(exists().where(PhotoUpload.photo_id == photo_id, PhotoUpload.user_id == user.id))
    )
    if not already:
        db.session.add(PhotoUpload(photo_id=photo_id, user_id=user.id))


def store_photo(data, user, processed=None):
    """Store an upload for `user`; returns (Photo, created). Same bytes -> the same Photo.
    `processed`: these bytes' ProcessedPhoto when the caller has made it already (prepare_photo)."""
    check_size(len(data))
    sha256 = hashlib.sha256(data).hexdigest()
    photo = db.session.scalar(select(Photo).where(Photo.sha256 == sha256))
    if photo is not None and _original_present(sha256):
        _make_pending(photo)
        _record_upload(photo.id, user)
        db.session.flush()
        return photo, False
    if processed is None or processed.sha256 != sha256:
        processed = process_photo(data, sha256)
    get_store().put(photo_key(sha256, "original"), data)  # the file first: a row never points at a missing file
    if photo is not None:  # the row survived but its files were lost: the original is back, variants follow
        _make_pending(photo)
        _record_upload(photo.id, user)
        db.session.flush()
        return photo, False
    row = Photo(
        id=processed.id, sha256=sha256, content_type=processed.content_type, size_bytes=processed.size_bytes,
        width=processed.width, height=processed.height, exif=processed.exif, has_exif=processed.has_exif,
        taken_at=processed.taken_at, exif_lat=processed.exif["lat"], exif_lon=processed.exif["lon"],
        phash=None, variants_status="pending", uploaded_by_id=user.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # the same bytes arrived concurrently; theirs won
        photo = db.session.scalar(select(Photo).where(Photo.sha256 == sha256).execution_options(populate_existing=True))
        if photo is None:
            raise
        _make_pending(photo)
        _record_upload(photo.id, user)
        db.session.flush()
        return photo, False
    _record_upload(row.id, user)
    enqueue_after_commit("photos.complete", row.id)
    db.session.flush()
    return row, True


# --- the variants job and its sweep ----------------------------------------------------------

@job("photos.complete")
def complete_photo(photo_id):
    """Make a pending photo's variants and hash, mark it ready and run the photo_reused check of
    the inspections using it again; commits. Idempotent: nothing to do for a ready photo whose
    files are there. Returns the photo's status afterwards (None without a row)."""
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.variants_status == "failed":
        return None if photo is None else photo.variants_status
    if photo.variants_status == "ready" and _variants_present(photo.sha256):
        return "ready"
    store = get_store()
    try:
        data = store.read(photo_key(photo.sha256, "original"))
        variants, phash = render_photo(data, photo.content_type, (photo.exif or {}).get("orientation"))
    except (FileNotFoundError, UnprocessablePhoto, PhotoTooLarge, UnsupportedMediaType) as error:
        log.error("photo %s: variants cannot be made (%s); marked failed", photo_id, error)
        photo.variants_status = "failed"
        db.session.commit()
        return "failed"
    for variant, content in variants.items():
        store.put(photo_key(photo.sha256, variant), content)
    try:
        db.session.execute(delete(PhotoHashBand).where(PhotoHashBand.photo_id == photo.id))
        photo.phash = phash
        db.session.add_all(photo_hash_band_rows(photo))  # the near-duplicate index (flags._photo_reused)
        photo.variants_status = "ready"
        db.session.flush()
        inspection_ids = db.session.scalars(
            select(InspectionPhoto.inspection_id).where(InspectionPhoto.photo_id == photo.id).distinct()).all()
        if inspection_ids:
            recheck_photo_reused(inspection_ids)
        db.session.commit()
    except IntegrityError:  # another run of this job (the sweep's, a retry's) wrote the bands first: its result stands
        db.session.rollback()
    return "ready"


def pending_photo_ids(min_age_seconds=0, limit=100):
    """Ids of photos still pending that were stored at least `min_age_seconds` ago, oldest first."""
    stmt = select(Photo.id).where(Photo.variants_status == "pending")
    if min_age_seconds:
        stmt = stmt.where(Photo.created_at <= datetime.now(timezone.utc) - timedelta(seconds=min_age_seconds))
    return db.session.scalars(stmt.order_by(Photo.created_at, Photo.id).limit(limit)).all()


@periodic("photos.sweep_pending")
def sweep_pending_photos(min_age_seconds=None, limit=100):
    """Complete the photos left pending (a job lost with a killed worker, a broker that was down):
    those older than JOB_SWEEP_MIN_AGE_SECONDS, so that a job just queued is not doubled. Returns
    {"ready": n, "failed": n}."""
    if min_age_seconds is None:
        min_age_seconds = job_setting("JOB_SWEEP_MIN_AGE_SECONDS", 60)
    counts = {"ready": 0, "failed": 0}
    ids = pending_photo_ids(min_age_seconds, limit)
    db.session.commit()
    for photo_id in ids:
        try:
            status = complete_photo(photo_id)
        except Exception:  # one bad photo does not stop the sweep; it stays pending
            log.exception("photo %s: the sweep could not complete it", photo_id)
            db.session.rollback()
            continue
        if status in counts:
            counts[status] += 1
    return counts


# --- reading ------------------------------------------------------------------------------

def open_photo_variant(photo_id, variant, user):
    """(photo, file object, content type) of one variant that `user` may see: 404 for a photo they
    may not see, 403 for an original below the reviewer role."""
    photo = get_visible_photo(photo_id, user)
    if variant == "original" and not may_see_originals(user):
        raise Forbidden("Original photos are for reviewers and above.", message_zh="原图仅供审核员及以上查看。")
    return (photo, *open_variant(photo, variant))


def open_variant(photo, variant):
    """(file object, content type) of one stored variant. A photo whose variants are not made yet
    (pending, or failed) is answered from its original, downscaled on the fly: the phone and the
    reviewer never see a broken image (variant_etag tells caches it is provisional)."""
    content_type = photo.content_type if variant == "original" else "image/jpeg"
    if variant != "original" and photo.variants_status != "ready":
        return io.BytesIO(provisional_variant(photo, variant)), content_type
    return get_store().open(photo_key(photo.sha256, variant)), content_type


def provisional_variant(photo, variant):
    """A variant made from the original now and kept nowhere (the job stores the real one)."""
    data = get_store().read(photo_key(photo.sha256, "original"))
    variants, _ = render_photo(data, photo.content_type, (photo.exif or {}).get("orientation"))
    return variants[variant]


def variant_is_final(photo, variant):
    return variant == "original" or photo.variants_status == "ready"


def variant_etag(photo, variant):
    if variant == "original":
        return f"{photo.id}-original"
    if photo.variants_status != "ready":
        return f"{photo.id}-{variant}-{VARIANT_REVISION}-provisional"
    return f"{photo.id}-{variant}-{VARIANT_REVISION}"

