"""Photos: type sniffing, limits, EXIF facts, variants, perceptual hash, storage.

The pipeline for one upload (`store_photo`): check the size, sniff the type from the bytes (the
client's name and content type are never trusted), read the header (pixel limit before any
decoding), read EXIF facts, decode once at reduced scale (JPEG draft mode) into the display
variant (~1600 px) and the thumbnail (~320 px) with the EXIF orientation applied and no metadata,
hash the thumbnail perceptually, write the files atomically, and only then insert the row — so
no row ever points at a missing file. Identical bytes are one photo with one id.
"""
import hashlib
import io
import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import imagehash
from flask import current_app
from PIL import Image, ImageFile, ImageStat, UnidentifiedImageError
from pillow_heif import register_heif_opener
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from app.access import get_visible_photo, may_see_originals
from app.errors import Forbidden, PhotoTooLarge, UnprocessablePhoto, UnsupportedMediaType
from app.extensions import db
from app.models import Photo, PhotoUpload
from app.models.types import CHINA
from app.storage import get_store, photo_key

register_heif_opener()
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
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        size = int.from_bytes(head[:4], "big")
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


def check_pixels(width, height):
    limit = current_app.config["MAX_PHOTO_PIXELS"]
    if width * height > limit:
        raise PhotoTooLarge(
            f"The photo has {width}×{height} pixels; at most {limit} are accepted.",
            message_zh=f"照片像素过多（{width}×{height}），最多 {limit} 像素。",
            details={"width": width, "height": height, "max_pixels": limit},
        )


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
    phash: str
    variants: dict = field(default_factory=dict)  # variant -> JPEG bytes

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


def _rgb(image):
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _encode(image):
    out = io.BytesIO()
    image.save(out, "JPEG", quality=VARIANT_QUALITY)  # no exif=, no icc_profile=: metadata stripped
    return out.getvalue()


def make_variants(image, orientation):
    """(display, thumb) RGB images with the orientation applied; the image is decoded here."""
    target = _fit(image.size, DISPLAY_PX)
    if image.format == "JPEG":
        image.draft("RGB", target)  # DCT-domain downscale: decode at 1/2, 1/4 or 1/8 where possible
    image = _rgb(image)
    if image.size != target:
        image = image.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
    if orientation in TRANSPOSE:
        image = image.transpose(TRANSPOSE[orientation])
    thumb = image.resize(_fit(image.size, THUMB_PX), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return image, thumb


def perceptual_hash(image):
    """64-bit DCT perceptual hash as 16 hex digits; None for a flat image (every flat image hashes
    alike, so the hash would call unrelated blank photos near-identical)."""
    if ImageStat.Stat(image.convert("L")).stddev[0] < FLAT_STDDEV:
        return None
    return str(imagehash.phash(image))


def process_photo(data, sha256=None):
    """Check and decode one upload; returns a ProcessedPhoto (nothing stored yet). `sha256` when
    the caller has hashed the bytes already."""
    check_size(len(data))
    content_type = sniff_content_type(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in PILLOW_FORMATS[content_type]:
                raise unprocessable(f"the bytes look like {content_type} but decode as {image.format}")
            width, height = image.size
            check_pixels(width, height)
            exif, has_exif = read_exif(image)
            display, thumb = make_variants(image, exif.get("orientation"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = current_app.config["MAX_PHOTO_PIXELS"]
        raise PhotoTooLarge(f"The photo has too many pixels; at most {limit} are accepted.",
                            message_zh=f"照片像素过多，最多 {limit} 像素。", details={"max_pixels": limit}) from None
    except UnidentifiedImageError:
        raise unprocessable("not a readable image") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, MemoryError) as exc:
        reason = "truncated" if "truncated" in str(exc) else "corrupt image data"
        raise unprocessable(reason) from None
    return ProcessedPhoto(
        sha256=sha256 or hashlib.sha256(data).hexdigest(), content_type=content_type, size_bytes=len(data),
        width=width, height=height, exif=exif, has_exif=has_exif, phash=perceptual_hash(thumb),
        variants={"display": _encode(display), "thumb": _encode(thumb)},
    )


# --- storage and rows -----------------------------------------------------------------------

def _write_files(processed, data):
    store = get_store()
    store.put(photo_key(processed.sha256, "original"), data)
    for variant, content in processed.variants.items():
        store.put(photo_key(processed.sha256, variant), content)


def _files_present(sha256):
    store = get_store()
    return all(store.exists(photo_key(sha256, v)) for v in ("original", "display", "thumb"))


def _record_upload(photo_id, user):
    already = db.session.scalar(
        select(exists().where(PhotoUpload.photo_id == photo_id, PhotoUpload.user_id == user.id))
    )
    if not already:
        db.session.add(PhotoUpload(photo_id=photo_id, user_id=user.id))


def store_photo(data, user):
    """Store an upload for `user`; returns (Photo, created). Same bytes -> the same Photo."""
    check_size(len(data))
    sha256 = hashlib.sha256(data).hexdigest()
    photo = db.session.scalar(select(Photo).where(Photo.sha256 == sha256))
    if photo is not None and _files_present(sha256):
        _record_upload(photo.id, user)
        db.session.flush()
        return photo, False
    processed = process_photo(data, sha256)
    _write_files(processed, data)  # files first: a row never points at a missing file
    if photo is not None:  # the row survived but files were lost: they are back now
        _record_upload(photo.id, user)
        db.session.flush()
        return photo, False
    row = Photo(
        id=processed.id, sha256=sha256, content_type=processed.content_type, size_bytes=processed.size_bytes,
        width=processed.width, height=processed.height, exif=processed.exif, has_exif=processed.has_exif,
        taken_at=processed.taken_at, exif_lat=processed.exif["lat"], exif_lon=processed.exif["lon"],
        phash=processed.phash, uploaded_by_id=user.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # the same bytes arrived concurrently; theirs won
        photo = db.session.scalar(select(Photo).where(Photo.sha256 == sha256).execution_options(populate_existing=True))
        if photo is None:
            raise
        _record_upload(photo.id, user)
        db.session.flush()
        return photo, False
    _record_upload(row.id, user)
    db.session.flush()
    return row, True


# --- reading ------------------------------------------------------------------------------

def open_photo_variant(photo_id, variant, user):
    """(photo, file object, content type) of one variant that `user` may see: 404 for a photo they
    may not see, 403 for an original below the reviewer role."""
    photo = get_visible_photo(photo_id, user)
    if variant == "original" and not may_see_originals(user):
        raise Forbidden("Original photos are for reviewers and above.", message_zh="原图仅供审核员及以上查看。")
    return (photo, *open_variant(photo, variant))


def open_variant(photo, variant):
    """(file object, content type) of one stored variant."""
    content_type = photo.content_type if variant == "original" else "image/jpeg"
    return get_store().open(photo_key(photo.sha256, variant)), content_type


def variant_etag(photo, variant):
    return f"{photo.id}-{variant}-{VARIANT_REVISION}" if variant != "original" else f"{photo.id}-original"

