from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import CodeString, UTCDateTime


class VillageLatest(db.Model):
    """Each village's latest approved answer per metric (all time), kept in step with every
    approval, reopening and import in the same transaction (services/village_status.py). Rates for a
    period after which nothing approved has been observed read it instead of the inspections."""

    __tablename__ = "village_latest"

    village_code: Mapped[str] = mapped_column(CodeString, ForeignKey("divisions.code"), primary_key=True)
    garbage_stable: Mapped[bool | None] = mapped_column(Boolean)
    garbage_stable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    garbage_stable_id: Mapped[int | None] = mapped_column(BigInteger)
    sewage_treated: Mapped[bool | None] = mapped_column(Boolean)
    sewage_treated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sewage_treated_id: Mapped[int | None] = mapped_column(BigInteger)
    village_clean: Mapped[bool | None] = mapped_column(Boolean)
    village_clean_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    village_clean_id: Mapped[int | None] = mapped_column(BigInteger)
    tap_water: Mapped[bool | None] = mapped_column(Boolean)
    tap_water_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tap_water_id: Mapped[int | None] = mapped_column(BigInteger)
    tap_households: Mapped[int | None] = mapped_column(Integer)
    tap_households_with_tap: Mapped[int | None] = mapped_column(Integer)
