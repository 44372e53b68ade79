from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.township_status import TownshipSnapshot, TownshipSnapshotMonth  # noqa: F401  (their aggregate)
from app.models.types import CodeString, UTCDateTime


class LatestAnswers:
    """Per metric: the latest approved answer (value, observed_at, inspection id); the household
    numbers of the latest tap-water answer."""

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


class VillageLatest(LatestAnswers, db.Model):
    """Each village's latest approved answer per metric (all time), kept in step with every
    approval, reopening and import in the same transaction (services/village_status.py). Rates for a
    period after which nothing approved has been observed read it instead of the inspections."""

    __tablename__ = "village_latest"

    village_code: Mapped[str] = mapped_column(CodeString, ForeignKey("divisions.code"), primary_key=True)


class VillageSnapshot(LatestAnswers, db.Model):
    """Each village's latest approved answer per metric observed before the end of a month (China
    time): one row per village with any such answer, for every month listed in `snapshot_months`.
    Kept exact in the same transaction as every approval, reopening and import
    (services/village_status.py); a past period reads the snapshot of its last month."""

    __tablename__ = "village_snapshots"
    __table_args__ = (
        # a period's read: one month, a subtree's code range
        Index("ix_village_snapshots_month_village", "month", "village_code"),
    )

    # the primary key is the (village, month) index the maintenance reads and rewrites by
    village_code: Mapped[str] = mapped_column(CodeString, ForeignKey("divisions.code"), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # yyyymm, China time


class SnapshotMonth(db.Model):
    """The months whose snapshot is built (`flask rates build-snapshots`); only these are read, and
    only these are kept in step."""

    __tablename__ = "snapshot_months"

    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # yyyymm, China time
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the first instant after the month
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
