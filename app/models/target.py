from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import CodeString, UTCDateTime, utcnow

# DESIGN §1: the city's 2026 commitments. Rows in `targets` override these per year and division.
DEFAULT_TARGETS = {"garbage_stable": 1.0, "sewage_treated": 0.45, "village_clean": 0.95, "tap_water": 0.98}


class Target(db.Model):
    """A target for one metric and year; `division_code` empty means the default for every division."""

    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("metric", "year", "division_code", name="uq_targets_metric_year_division"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    # '' = all divisions (a real value, so the unique constraint holds on both engines)
    division_code: Mapped[str] = mapped_column(CodeString, default="")
    value: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
