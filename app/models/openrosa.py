"""ODK Collect / KoboCollect / Enketo (OpenRosa): device keys, the published form versions and
the submissions received (one row per instanceID).

See services/openrosa.py for how a submission becomes an inspection and README's OpenRosa section.
"""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import BigId, CodeString, JSONType, UTCDateTime, utcnow


class DeviceKey(db.Model):
    """A long random key inside the server URL that a phone is set up with. Only its keyed hash is
    stored (like a bearer token); it acts for one inspector until revoked."""

    __tablename__ = "device_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", foreign_keys=[user_id], lazy="joined")
    created_by = relationship("User", foreign_keys=[created_by_id], lazy="joined")


class XFormVersion(db.Model):
    """One published version of the form for one scope (the village choices differ per scope).

    `input_digest` is the sha256 of everything the form is generated from (checklist, villages,
    generator versions): the same inputs are the same version with the same bytes; any change
    makes a new row. Rows are never deleted, so every version ever served can be downloaded again
    and its submissions are accepted."""

    __tablename__ = "xform_versions"
    __table_args__ = (UniqueConstraint("scope_code", "input_digest", name="uq_xform_versions_scope_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32), unique=True)
    scope_code: Mapped[str] = mapped_column(CodeString, ForeignKey("divisions.code"))
    input_digest: Mapped[str] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)
    md5: Mapped[str] = mapped_column(String(32))
    # media files: {filename: {"md5": ..., "content": text}} (villages.csv for long village lists)
    media: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OpenRosaSubmission(db.Model):
    """One instance (instanceID) sent by Collect, over one or several POSTs.

    The XML is kept as received: a repeat with byte-identical XML adds its attachments, a
    different XML is refused. `files` lists the photo file names the XML names, with their aspect;
    `received` maps the names that arrived (or were carried forward from the instance an edit
    replaces) to photo ids, `unreadable` the ones that arrived but could not be stored. The
    inspection is created, or resubmitted for an edit, once every named file has arrived (or at
    once, with the `photos_missing` flag, when OPENROSA_MISSING_PHOTOS=review)."""

    __tablename__ = "openrosa_submissions"
    __table_args__ = (
        Index("ix_openrosa_submissions_waiting", "complete", "village_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(100), unique=True)  # as sent, e.g. uuid:...
    deprecated_id: Mapped[str | None] = mapped_column(String(100))  # an edit: the instance it replaces
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    device_key_id: Mapped[int | None] = mapped_column(ForeignKey("device_keys.id", ondelete="SET NULL"))
    device_id: Mapped[str | None] = mapped_column(String(100))  # meta deviceid, e.g. collect:XXXX
    form_id: Mapped[str | None] = mapped_column(String(64))
    form_version: Mapped[str | None] = mapped_column(String(32))
    village_code: Mapped[str] = mapped_column(CodeString, ForeignKey("divisions.code"))
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    xml_sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[list] = mapped_column(JSONType, default=list)  # [[aspect, file name], ...] in XML order
    received: Mapped[dict] = mapped_column(JSONType, default=dict)  # {file name: photo id}
    unreadable: Mapped[dict] = mapped_column(JSONType, default=dict)  # {file name: reason}
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id", ondelete="SET NULL"), index=True)
    inspection_version: Mapped[int | None] = mapped_column(Integer)  # the version this instance made
    posts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user = relationship("User", foreign_keys=[user_id], lazy="joined")
    village = relationship("Division", lazy="joined")

    def waiting_for(self):
        """The named files that have neither arrived nor been found unreadable."""
        return [name for name in dict.fromkeys(f for _, f in self.files)
                if name not in self.received and name not in self.unreadable]
