"""The per-township monthly aggregate of the village snapshots (services/village_status.py).

For every month listed in `township_snapshot_months` and every township, the counts the rates sum
over the township's counted villages, from that month's village snapshots with the validity window
applied at the month's end: so a past period or a trend of a division above township level reads
O(townships) rows instead of O(villages). The ledger row says what the month was built with (the
validity days, the counted kinds, and the divisions as they stood); a read with another setting,
or after a division changed, does not use it (it falls back to the village snapshots)."""
from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.division import Division
from app.models.inspection import METRICS
from app.models.types import CodeString, UTCDateTime


class TownshipSnapshot(db.Model):
    """One township's rates counts for one month: exactly what the roll-up sums over its villages."""

    __tablename__ = "township_snapshots"

    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # yyyymm, China time
    # a read takes one month and a subtree's code range: the primary key's order
    township_code: Mapped[str] = mapped_column(CodeString, primary_key=True)
    population: Mapped[int] = mapped_column(Integer)
    sewage_households_known: Mapped[int | None] = mapped_column(Integer)
    sewage_households_met: Mapped[int | None] = mapped_column(Integer)
    tap_households: Mapped[int | None] = mapped_column(Integer)
    tap_households_with_tap: Mapped[int | None] = mapped_column(Integer)
    # villages met / not met per metric (unknown = population - met - not met)
    garbage_stable_met: Mapped[int | None] = mapped_column(Integer)
    garbage_stable_not_met: Mapped[int | None] = mapped_column(Integer)
    sewage_treated_met: Mapped[int | None] = mapped_column(Integer)
    sewage_treated_not_met: Mapped[int | None] = mapped_column(Integer)
    village_clean_met: Mapped[int | None] = mapped_column(Integer)
    village_clean_not_met: Mapped[int | None] = mapped_column(Integer)
    tap_water_met: Mapped[int | None] = mapped_column(Integer)
    tap_water_not_met: Mapped[int | None] = mapped_column(Integer)


COUNT_COLUMNS = ("population", "sewage_households_known", "sewage_households_met", "tap_households",
                 "tap_households_with_tap") + tuple(f"{m}_{s}" for m in METRICS for s in ("met", "not_met"))


class TownshipSnapshotMonth(db.Model):
    """The months whose township aggregate is built, and what with."""

    __tablename__ = "township_snapshot_months"

    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # yyyymm, China time
    validity_days: Mapped[int] = mapped_column(Integer)
    counted_kinds: Mapped[str] = mapped_column(String(64))  # sorted, comma-separated
    # the latest divisions.updated_at when built: a division changed since (kind, households,
    # active, a new village) makes the month unusable until rebuilt
    divisions_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The freshness check above reads max(divisions.updated_at): an index makes it one probe.
Index("ix_divisions_updated_at", Division.__table__.c.updated_at)
