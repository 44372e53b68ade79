"""The maintained table of each village's latest approved answer per metric (`village_latest`).

It is rewritten from the inspections, for the villages concerned, in the same transaction as
every change that can move a village's latest approved answer: an approval (single or bulk), the
reopening of an approved inspection, and a historical import. The rates read it for periods after
which nothing approved was observed (services/rates.py); tests prove it equal to the from-scratch
statement.
"""
from sqlalchemy import delete

from app.extensions import db
from app.models import METRICS, VillageLatest
from app.services.rates import LATEST_CTE, RANKED_ALL_TIME_CTE, Statement, subtree_bounds, with_ctes

# Above this many villages one statement rewrites their code range instead of village by village.
BULK_THRESHOLD = 200
_COLUMNS = [c for m in METRICS for c in (m, f"{m}_at", f"{m}_id")] + ["tap_households", "tap_households_with_tap"]
_VALUES = [
    (f"CASE WHEN l.{c} = 1 THEN TRUE WHEN l.{c} = 0 THEN FALSE END" if c in METRICS else f"l.{c}")
    for c in _COLUMNS
]
# The rates' own latest answers (services/rates.py) over all time instead of a period's window.
REFRESH = Statement(
    "refresh_village_latest",
    f"INSERT INTO village_latest (village_code, {', '.join(_COLUMNS)})"
    + with_ctes(RANKED_ALL_TIME_CTE, LATEST_CTE)
    + f"\nSELECT l.village_code, {', '.join(_VALUES)} FROM latest l",
    ("lo", "hi"))
REFRESH_SQL = REFRESH.sql  # migration 0002 fills the table with it


def _refresh_range(lo, hi):
    db.session.execute(delete(VillageLatest).where(VillageLatest.village_code >= lo, VillageLatest.village_code < hi))
    db.session.execute(REFRESH.clause(), REFRESH.values({"lo": lo, "hi": hi}))


def refresh_village_latest(village_codes=None):
    """Rewrite the latest approved answers of `village_codes` (all villages when None)."""
    codes = sorted(set(village_codes)) if village_codes is not None else None
    db.session.flush()
    if codes is None:
        _refresh_range("", "~")
    elif len(codes) > BULK_THRESHOLD:
        # one statement over the code range from the first to the last village; villages in
        # between that did not change are rewritten to what they were
        _refresh_range(codes[0], subtree_bounds(codes[-1])[1])
    else:
        for code in codes:
            _refresh_range(*subtree_bounds(code))
