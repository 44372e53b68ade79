from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import BigId, JSONType, UTCDateTime, utcnow


class Photo(db.Model):
    """An uploaded photo. Bytes are stored content-addressed by sha256; one row per content."""

    __tablename__ = "photos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    # EXIF facts as data (see services.photos); the columns below are the ones flags query.
    exif: Mapped[dict] = mapped_column(JSONType, default=dict)
    has_exif: Mapped[bool] = mapped_column(Boolean, default=False)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exif_lat: Mapped[float | None] = mapped_column(Float)
    exif_lon: Mapped[float | None] = mapped_column(Float)
    # 64-bit perceptual hash as 16 hex digits, for near-duplicate detection
    phash: Mapped[str | None] = mapped_column(String(16), index=True)
    # the display/thumb variants and the hash: `pending` until the photo job has made them (app/jobs.py),
    # then `ready`; `failed` when the stored original cannot be rendered (services.photos.complete_photo)
    variants_status: Mapped[str] = mapped_column(String(16), default="ready", server_default="ready", index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PhotoUpload(db.Model):
    """Who uploaded which photo: identical bytes from two users are one Photo, two uploads."""

    __tablename__ = "photo_uploads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    photo_id: Mapped[str] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


PHASH_BANDS = 8  # a 64-bit perceptual hash is stored as 8 one-byte bands (PhotoHashBand)


def phash_bands(phash):
    """[(band, value)] of a 16-hex-digit hash: band i is its i-th byte (0..255)."""
    return [(band, int(phash[2 * band:2 * band + 2], 16)) for band in range(PHASH_BANDS)]


class PhotoHashBand(db.Model):
    """One byte of a photo's perceptual hash, indexed on (band, value), for the near-duplicate
    search: two hashes within Hamming distance d differ in at most d bytes, so they share at least
    8 - d bands exactly (at least 2 for the default d = 6). Candidates are the photos sharing
    enough bands (an index lookup per band); the exact distance is then computed on them alone.
    Written with the photo (services.photos.store_photo); a photo without a hash has no bands."""

    __tablename__ = "photo_hash_bands"
    __table_args__ = (Index("ix_photo_hash_bands_band_value", "band", "value"),)

    photo_id: Mapped[str] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(SmallInteger)


def photo_hash_band_rows(photo):
    """The PhotoHashBand rows of `photo` (none without a hash)."""
    if not photo.phash:
        return []
    return [PhotoHashBand(photo_id=photo.id, band=band, value=value) for band, value in phash_bands(photo.phash)]
