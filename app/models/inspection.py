import uuid
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import geo
from app.extensions import db
from app.models.types import BigId, CodeString, JSONType, UTCDateTime, utcnow

STATUSES = ("submitted", "approved", "rejected", "returned")
ASPECTS = ("garbage", "sewage", "cleanliness", "tap_water")
METRICS = ("garbage_stable", "sewage_treated", "village_clean", "tap_water")


class Inspection(db.Model):
    """One visit to one village by one inspector."""

    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint("status IN ('submitted', 'approved', 'rejected', 'returned')", name="ck_inspections_status"),
        # rates: latest approved per village and metric
        Index("ix_inspections_village_status_observed", "village_code", "status", "observed_at"),
        # rates: the approved rows of a subtree and window, already in (village, time, id) order;
        # on PostgreSQL it covers every column the rates read (an index-only scan, no sort)
        Index("ix_inspections_approved_latest", "village_code", "observed_at", "id",
              sqlite_where=text("status = 'approved'"), postgresql_where=text("status = 'approved'"),
              postgresql_include=["garbage_stable", "sewage_treated", "village_clean", "tap_water",
                                  "tap_households", "tap_households_with_tap"]),
        # rates: "was anything approved observed after the period?" (the maintained table's test)
        Index("ix_inspections_approved_observed", "observed_at",
              sqlite_where=text("status = 'approved'"), postgresql_where=text("status = 'approved'")),
        # review queue and lists
        Index("ix_inspections_status_submitted", "status", "submitted_at"),
        Index("ix_inspections_inspector_created", "inspector_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_uuid: Mapped[uuid.UUID] = mapped_column(unique=True)
    village_code: Mapped[str] = mapped_column(CodeString, ForeignKey("divisions.code"))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # the phone's own clock reading as sent; observed_at is corrected by the offset the phone measured
    device_observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    location_geom = mapped_column("location", Geometry("POINT", srid=geo.SRID, spatial_index=False), nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    # the coordinates as sent (lat, lon, crs) before conversion to WGS-84
    location_input: Mapped[dict | None] = mapped_column(JSONType)
    answers: Mapped[dict] = mapped_column(JSONType, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="submitted")
    version: Mapped[int] = mapped_column(Integer, default=1)
    # sha256 of the canonical request: an identical retry is recognised by it
    content_hash: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(10), default="app")  # app | import

    # metrics derived from the answers (None: aspect not answered)
    garbage_stable: Mapped[bool | None] = mapped_column(Boolean)
    sewage_treated: Mapped[bool | None] = mapped_column(Boolean)
    village_clean: Mapped[bool | None] = mapped_column(Boolean)
    tap_water: Mapped[bool | None] = mapped_column(Boolean)
    households: Mapped[int | None] = mapped_column(Integer)
    sewage_households_covered: Mapped[int | None] = mapped_column(Integer)
    tap_households: Mapped[int | None] = mapped_column(Integer)
    tap_households_with_tap: Mapped[int | None] = mapped_column(Integer)

    flag_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    village = relationship("Division", lazy="joined")
    inspector = relationship("User", foreign_keys=[inspector_id], lazy="joined")
    photo_links = relationship(
        "InspectionPhoto", order_by="(InspectionPhoto.aspect, InspectionPhoto.position)",
        cascade="all, delete-orphan", lazy="selectin",
    )
    flags = relationship("InspectionFlag", cascade="all, delete-orphan", lazy="selectin", order_by="InspectionFlag.id")

    @property
    def location(self):
        return geo.from_db(self.location_geom)

    @location.setter
    def location(self, geometry):
        self.location_geom = geo.to_db(geometry)


class InspectionPhoto(db.Model):
    __tablename__ = "inspection_photos"
    __table_args__ = (UniqueConstraint("inspection_id", "aspect", "photo_id", name="uq_inspection_photos"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    photo_id: Mapped[str] = mapped_column(ForeignKey("photos.id"), index=True)
    aspect: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)

    photo = relationship("Photo", lazy="joined")


class InspectionFlag(db.Model):
    """A warning computed at submission, with the facts that raised it."""

    __tablename__ = "inspection_flags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    facts: Mapped[dict] = mapped_column(JSONType, default=dict)


class InspectionVersion(db.Model):
    """What the inspector sent for each version (history survives edits after a return)."""

    __tablename__ = "inspection_versions"
    __table_args__ = (UniqueConstraint("inspection_id", "version", name="uq_inspection_versions"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    device_observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    location_input: Mapped[dict | None] = mapped_column(JSONType)
    answers: Mapped[dict] = mapped_column(JSONType, default=dict)
    photos: Mapped[dict] = mapped_column(JSONType, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
