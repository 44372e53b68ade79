"""Photo upload: sniffing, limits, EXIF facts of real-world files, variants, serving, scope."""
import io
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.models import Photo, PhotoUpload
from app.storage import get_store, photo_key
from tests.factories import refused
from tests.photos import PHOTOS, jpeg_bytes, make_exif, pattern_image, real_photo, upload


def image_of(response):
    return Image.open(io.BytesIO(response.data))


# --- EXIF of the real files -----------------------------------------------------------------

def test_phone_photo_gives_gps_device_and_china_time(client, inspector):
    r = upload(client, inspector, real_photo("gps_htc_desire.jpg"))
    assert r.status_code == 201
    body = r.get_json()
    assert (body["width"], body["height"], body["content_type"]) == (776, 909, "image/jpeg")
    exif = body["exif"]
    assert exif["lat"] == pytest.approx(45.500667, abs=1e-5) and exif["lon"] == pytest.approx(9.110333, abs=1e-5)
    assert exif["altitude"] == 217.0
    assert (exif["make"], exif["model"], exif["orientation"]) == ("HTC", "HTC Desire", 1)
    # 2011:05:06 09:59:48 carries no zone: read as China time (UTC+8)
    assert exif["taken_at"] == "2011-05-06T01:59:48+00:00" and exif["taken_at_zone"] == "assumed_china"


def test_gps_block_at_zero_zero_is_dropped(client, inspector):
    exif = upload(client, inspector, real_photo("gps_zero_samsung_gt-i9000_orient6.jpg")).get_json()["exif"]
    assert exif["lat"] is None and exif["lon"] is None and exif["altitude"] is None
    assert any("0,0" in reason for reason in exif["dropped"])
    assert exif["make"] == "SAMSUNG" and exif["orientation"] == 6


def test_nan_rational_in_gps_is_dropped_but_the_rest_kept(client, inspector):
    r = upload(client, inspector, real_photo("gps_malformed_nan_nikon_d5000.jpg"))
    assert r.status_code == 201
    exif = r.get_json()["exif"]
    assert exif["lat"] is None and exif["lon"] is None
    assert exif["altitude"] == pytest.approx(324.14, abs=0.01)
    assert exif["model"] == "NIKON D5000" and exif["taken_at"] is not None


def test_empty_gps_ifd_gives_no_position(client, inspector):
    r = upload(client, inspector, real_photo("nogps_empty_gps_ifd_xiaomi_redmi_note9s.jpg"))
    assert r.status_code == 201
    body = r.get_json()
    assert body["exif"]["lat"] is None and body["has_exif"] is True and body["exif"]["make"] == "Xiaomi"


def test_one_pixel_image_is_accepted_with_its_gps(client, inspector):
    body = upload(client, inspector, real_photo("gps_apple_iphone_xr_issue508.jpg")).get_json()
    assert (body["width"], body["height"]) == (1, 1)
    assert body["exif"]["lat"] == pytest.approx(43.859469, abs=1e-5)
    assert body["exif"]["gps_accuracy_m"] == pytest.approx(4.79, abs=0.01)
    thumb = image_of(client.get(f"/api/v1/photos/{body['id']}/thumb", headers=inspector.headers))
    assert thumb.size == (1, 1)


@pytest.mark.parametrize("name", sorted(p.name for p in PHOTOS.glob("*.jpg")))
def test_every_real_photo_uploads_and_has_variants(client, inspector, name):
    r = upload(client, inspector, real_photo(name))
    assert r.status_code == 201, r.get_json()
    photo_id = r.get_json()["id"]
    for variant in ("thumb", "display"):
        v = client.get(f"/api/v1/photos/{photo_id}/{variant}", headers=inspector.headers)
        assert v.status_code == 200 and v.mimetype == "image/jpeg"
        assert max(image_of(v).size) <= (320 if variant == "thumb" else 1600)


def test_orientation_6_is_applied_and_metadata_stripped_in_variants(client, inspector):
    body = upload(client, inspector, real_photo("orient6_sony_cybershot.jpg")).get_json()
    assert (body["width"], body["height"]) == (311, 450)  # stored as in the file (portrait pixels)
    for variant in ("thumb", "display"):
        image = image_of(client.get(f"/api/v1/photos/{body['id']}/{variant}", headers=inspector.headers))
        assert image.width > image.height  # rotated 90° clockwise as orientation 6 says
        assert len(image.getexif()) == 0 and "exif" not in image.info and "icc_profile" not in image.info


def test_original_is_kept_byte_for_byte(client, reviewer, inspector):
    data = real_photo("gps_sony_dsc-hx5v.jpg")
    photo_id = upload(client, inspector, data).get_json()["id"]
    with client.application.app_context():
        # the reviewer sees it once it is attached in scope; here read the store directly
        sha = db.session.get(Photo, photo_id).sha256
        assert get_store().read(photo_key(sha)) == data
    r = client.get(f"/api/v1/photos/{photo_id}/original", headers=inspector.headers)
    refused(r, 403)  # originals are for reviewers and above


def test_offset_time_original_overrides_china_time(client, inspector):
    data = jpeg_bytes(5, exif=make_exif("2026:09:12 10:00:00", offset="+09:00"))
    exif = upload(client, inspector, data).get_json()["exif"]
    assert exif["taken_at"] == "2026-09-12T01:00:00+00:00" and exif["taken_at_zone"] == "exif"


# --- types ----------------------------------------------------------------------------------

def test_text_named_jpg_is_415(client, inspector):
    r = upload(client, inspector, b"this is not a photo\n" * 10, name="photo.jpg")
    assert r.status_code == 415 and r.get_json()["error"]["code"] == "unsupported_media_type"


def test_png_named_jpg_is_accepted_as_png(client, inspector):
    out = io.BytesIO()
    pattern_image(3).save(out, "PNG")
    r = upload(client, inspector, out.getvalue(), name="photo.jpg", content_type="image/jpeg")
    assert r.status_code == 201
    body = r.get_json()
    assert body["content_type"] == "image/png" and body["has_exif"] is False


def test_webp_is_accepted(client, inspector):
    out = io.BytesIO()
    pattern_image(4).save(out, "WEBP", exif=make_exif("2026:01:02 03:04:05"))
    body = upload(client, inspector, out.getvalue(), name="x.webp").get_json()
    assert body["content_type"] == "image/webp" and body["exif"]["make"] == "TestMake"


def test_heic_from_pillow_heif_is_accepted_with_exif(client, inspector):
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    image = pattern_image(6, (320, 240))
    image.save(out, format="HEIF", quality=80, exif=make_exif("2026:03:04 05:06:07", make="Apple").tobytes())
    r = upload(client, inspector, out.getvalue(), name="IMG_0001.HEIC", content_type="image/heic")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["content_type"] == "image/heic" and (body["width"], body["height"]) == (320, 240)
    assert body["exif"]["make"] == "Apple" and body["exif"]["taken_at"] == "2026-03-03T21:06:07+00:00"
    thumb = client.get(f"/api/v1/photos/{body['id']}/thumb", headers=inspector.headers)
    assert thumb.status_code == 200 and image_of(thumb).format == "JPEG"


# --- limits and damage ----------------------------------------------------------------------

def test_size_limit_is_413(client, inspector, monkeypatch):
    data = jpeg_bytes(7)
    monkeypatch.setitem(client.application.config, "MAX_PHOTO_BYTES", len(data) - 1)
    r = upload(client, inspector, data)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "photo_too_large"


def test_pixel_limit_from_config_is_413(client, inspector, monkeypatch):
    monkeypatch.setitem(client.application.config, "MAX_PHOTO_PIXELS", 1000)
    r = upload(client, inspector, jpeg_bytes(8, size=(40, 30)))
    assert r.status_code == 413 and r.get_json()["error"]["details"]["max_pixels"] == 1000


@pytest.mark.parametrize("side", [9_000, 100_000])  # over our limit; over Pillow's bomb limit too
def test_crafted_png_header_claiming_huge_size_is_413_without_decoding(client, inspector, side):
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")
    r = upload(client, inspector, bomb, name="bomb.png")
    error = r.get_json()["error"]
    assert r.status_code == 413 and error["code"] == "photo_too_large" and "max_pixels" in error["details"]


def test_truncated_jpeg_is_422_and_nothing_is_stored(client, inspector):
    data = real_photo("gps_htc_desire.jpg")[:60_000]
    r = upload(client, inspector, data)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unprocessable_photo"
    with client.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 0


def test_missing_file_part_is_a_validation_error(client, inspector):
    r = client.post("/api/v1/photos", headers=inspector.headers, data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.get_json()["error"]["fields"]


# --- content addressing ---------------------------------------------------------------------

def test_same_bytes_twice_is_one_photo_with_the_same_id(client, inspector, make_user):
    data = jpeg_bytes(9)
    first = upload(client, inspector, data)
    second = upload(client, inspector, data)
    other = make_user("inspector", "230382100")
    third = upload(client, other, data)
    assert (first.status_code, second.status_code, third.status_code) == (201, 200, 200)
    assert first.get_json() == second.get_json() == third.get_json()
    with client.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 1
        uploads = db.session.scalars(select(PhotoUpload.user_id).order_by(PhotoUpload.user_id)).all()
        assert uploads == sorted([inspector.id, other.id])


def test_lost_files_are_rewritten_on_the_next_upload(client, inspector):
    data = jpeg_bytes(10)
    body = upload(client, inspector, data).get_json()
    with client.application.app_context():
        get_store().delete(photo_key(body["sha256"], "thumb"))
    assert upload(client, inspector, data).status_code == 200
    assert client.get(f"/api/v1/photos/{body['id']}/thumb", headers=inspector.headers).status_code == 200


def test_no_temporary_files_are_left_behind(client, inspector):
    upload(client, inspector, jpeg_bytes(11))
    with client.application.app_context():
        root = get_store().root
    assert not [p for p in root.rglob(".tmp-*")]


# --- serving and scope ----------------------------------------------------------------------

def test_variant_has_etag_cache_control_and_304(client, inspector):
    photo_id = upload(client, inspector, jpeg_bytes(12)).get_json()["id"]
    url = f"/api/v1/photos/{photo_id}/display"
    first = client.get(url, headers=inspector.headers)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and "private" in first.headers["Cache-Control"]
    assert "max-age" in first.headers["Cache-Control"]
    again = client.get(url, headers={**inspector.headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_photo_metadata_is_served_to_the_uploader(client, inspector):
    body = upload(client, inspector, jpeg_bytes(13)).get_json()
    r = client.get(f"/api/v1/photos/{body['id']}", headers=inspector.headers)
    assert r.status_code == 200 and r.get_json()["sha256"] == body["sha256"]
    assert r.get_json()["urls"]["thumb"] == f"/api/v1/photos/{body['id']}/thumb"


def test_photo_of_someone_else_not_attached_is_404(client, inspector, make_user):
    photo_id = upload(client, inspector, jpeg_bytes(14)).get_json()["id"]
    stranger = make_user("inspector", "230382101")
    for url in (f"/api/v1/photos/{photo_id}", f"/api/v1/photos/{photo_id}/thumb"):
        r = client.get(url, headers=stranger.headers)
        refused(r, 404)


def test_upload_needs_a_token(client):
    r = client.post("/api/v1/photos", data={"file": (io.BytesIO(jpeg_bytes(15)), "a.jpg")},
                    content_type="multipart/form-data")
    assert r.status_code == 401
