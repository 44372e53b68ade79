"""The maintained tables of each village's latest approved answer per metric.

`village_latest` holds the latest answer of all time; `village_snapshots` holds, for every month
listed in `snapshot_months`, the latest answer observed before that month's end (China time). Both
are rewritten from the inspections, for the villages concerned, in the same transaction as every
change that can move a village's latest approved answer: an approval (single or bulk), the
reopening of an approved inspection, and a historical import (`refresh_village_latest`). A change
to an inspection observed in month M rewrites the snapshots of its village from M onward, month by
month: each month is the previous month's snapshot plus that month's approvals. So the rates can
read a past period from the snapshot of its last month (O(villages)) and be exact; tests prove
every period's rates from the snapshots equal to the from-scratch statement after each path.

A month's snapshot is built for every village once (`build_snapshot_month`, `flask rates
build-snapshots`, run from cron at the start of each month and after `flask db upgrade`): from the
previous month's snapshot plus the month's approvals, or from all approvals before the month's end
when the previous month is not built. Until a month is built the rates read it from the
latest-answer table or the inspections (exact, slower).

Concurrency (PostgreSQL): the villages being rewritten are locked first (`FOR NO KEY UPDATE` on
their division rows, which inserts of inspections never wait for), so two approvals in one village
rewrite one after the other and the second sees the first (their townships' rows too, for the
township aggregate); a month's build locks `snapshot_months`
EXCLUSIVE, and the maintenance reads the list of built months under ROW SHARE: a build waits for
the approvals in flight, and an approval that comes during a build waits for it and then also
rewrites the new month. On SQLite writers are serialised anyway (BEGIN IMMEDIATE).

The township aggregate (`township_snapshots`, app/models/township_status.py) is rewritten with the
village snapshots it sums, in the same transaction: whenever the snapshots of some villages are
rewritten for a month whose aggregate is built, the rows of their townships for that month are
computed again from that month's village snapshots (O(villages of the township)), with the
validity days and counted kinds the month was built with. A month's build builds its aggregate too
(with the current settings and divisions); `build_township_months` rebuilds the months built with
other settings, or before a division changed (those months are not read meanwhile).
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, text

from app.extensions import db
from app.models import CODE_LENGTH, LEVELS, METRICS, Division, VillageLatest
from app.models.township_status import TownshipSnapshot, TownshipSnapshotMonth
from app.models.types import utcnow
from app.models.village_status import SnapshotMonth, VillageSnapshot
from app.services.rates import (
    LATEST_CTE,
    RANKED_ALL_TIME_CTE,
    Statement,
    kinds_key,
    month_bounds,
    month_key,
    ranked_cte,
    subtree_bounds,
    township_aggregate_statement,
    with_ctes,
)

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


# --- the monthly snapshot statements --------------------------------------------------------

MONTH_WINDOW = "i.observed_at >= :month_start AND i.observed_at < :month_end"
BEFORE_MONTH_END = "i.observed_at < :month_end"


def _villages(column, listed):
    """The villages rewritten: a list (IN :codes) or a code range."""
    return f"{column} IN :codes" if listed else f"{column} >= :lo AND {column} < :hi"


def _village_params(listed):
    return ("codes",) if listed else ("lo", "hi")


def _carried(column):
    """A snapshot column: this month's latest answer when the village has one, else the previous
    month's. Every answer of the month was observed after every answer of the previous snapshot
    (which ends where the month starts), so the month's answer, when there is one, is the latest."""
    for m in METRICS:
        if column in (m, f"{m}_at", f"{m}_id"):
            answered = f"l.{m}_id IS NOT NULL"
            break
    else:  # the tap-water household numbers go with the tap-water answer
        answered = "l.tap_water_id IS NOT NULL"
    fresh = f"CASE WHEN l.{column} = 1 THEN TRUE WHEN l.{column} = 0 THEN FALSE END" if column in METRICS else f"l.{column}"
    return f"CASE WHEN {answered} THEN {fresh} ELSE b.{column} END"


def snapshot_statement(from_previous, listed):
    """INSERT the snapshot of :month for the selected villages: from the snapshot of :base_month
    plus the approvals observed in the month (`from_previous`), or from every approval observed
    before the month's end."""
    villages = _villages("i.village_code", listed)
    insert = f"INSERT INTO village_snapshots (village_code, month, {', '.join(_COLUMNS)})"
    if not from_previous:
        return Statement(
            f"snapshot_from_scratch{'_listed' if listed else ''}",
            insert + with_ctes(ranked_cte(BEFORE_MONTH_END, villages), LATEST_CTE)
            + f"\nSELECT l.village_code, :month, {', '.join(_VALUES)} FROM latest l",
            ("month", "month_end") + _village_params(listed))
    base = f"""base AS (
  SELECT * FROM village_snapshots b WHERE b.month = :base_month AND {_villages('b.village_code', listed)}
)"""
    return Statement(
        f"snapshot_from_previous{'_listed' if listed else ''}",
        insert + with_ctes(ranked_cte(MONTH_WINDOW, villages), LATEST_CTE, base)
        + f"\nSELECT COALESCE(l.village_code, b.village_code), :month, {', '.join(_carried(c) for c in _COLUMNS)}"
        + "\nFROM latest l FULL OUTER JOIN base b ON b.village_code = l.village_code",
        ("month", "base_month", "month_start", "month_end") + _village_params(listed))


SNAPSHOT_STATEMENTS = {(p, listed): snapshot_statement(p, listed) for p in (True, False) for listed in (True, False)}


def previous_month(month):
    year, number = divmod(month, 100)
    return month - 1 if number > 1 else (year - 1) * 100 + 12


def next_month(month):
    year, number = divmod(month, 100)
    return month + 1 if number < 12 else (year + 1) * 100 + 1


def _postgres():
    return db.session.get_bind().dialect.name == "postgresql"


def _write_month(month, built, selection):
    """Rewrite the snapshot of `month` for the selection ({"codes": [...]}, {"lo", "hi"})."""
    listed = "codes" in selection
    start, end = month_bounds(month)
    if listed:
        where = VillageSnapshot.village_code.in_(selection["codes"])
    else:
        where = (VillageSnapshot.village_code >= selection["lo"]) & (VillageSnapshot.village_code < selection["hi"])
    db.session.execute(delete(VillageSnapshot).where(VillageSnapshot.month == month, where))
    from_previous = previous_month(month) in built
    statement = SNAPSHOT_STATEMENTS[(from_previous, listed)]
    values = {**selection, "month": month, "base_month": previous_month(month), "month_start": start, "month_end": end}
    db.session.execute(statement.clause(), statement.values(values))


# --- keeping them in step ---------------------------------------------------------------------

def _selection(codes):
    """Bind values selecting `codes`: the list itself, or the code range from the first to the last."""
    if codes is None:
        return {"lo": "", "hi": "~"}
    if len(codes) > BULK_THRESHOLD:
        return {"lo": codes[0], "hi": subtree_bounds(codes[-1])[1]}
    return {"codes": codes}


def _townships(codes):
    """The township codes of villages `codes`."""
    return sorted({code[:CODE_LENGTH["township"]] for code in codes if len(code) > CODE_LENGTH["township"]})


def _lock_villages(codes):
    """PostgreSQL: rewrite one village at a time, and one township's aggregate at a time (see the
    module doc); the township rows sort before their villages, one order for every writer."""
    if not _postgres():
        return
    if codes is None or len(codes) > BULK_THRESHOLD:
        # a whole range (imports): one writer at a time on the maintained tables
        db.session.execute(text("LOCK TABLE village_latest IN SHARE ROW EXCLUSIVE MODE"))
        return
    db.session.execute(select(Division.code).where(Division.code.in_(codes + _townships(codes)))
                       .order_by(Division.code).with_for_update(key_share=True))


def _built_months(first=None):
    """The built months (from `first`), read so that no build can start before this transaction ends."""
    if _postgres():
        db.session.execute(text("LOCK TABLE snapshot_months IN ROW SHARE MODE"))
    stmt = select(SnapshotMonth.month).order_by(SnapshotMonth.month)
    if first is not None:
        stmt = stmt.where(SnapshotMonth.month >= first)
    return list(db.session.scalars(stmt))


def _refresh_range(lo, hi):
    db.session.execute(delete(VillageLatest).where(VillageLatest.village_code >= lo, VillageLatest.village_code < hi))
    db.session.execute(REFRESH.clause(), REFRESH.values({"lo": lo, "hi": hi}))


def refresh_village_latest(village_codes=None, since=None):
    """Rewrite the latest approved answers of `village_codes` (all villages when None): the
    latest-answer table, and the monthly snapshots from the month of `since` (the earliest
    observed_at of the inspections that changed) onward — every built month when None."""
    codes = sorted(set(village_codes)) if village_codes is not None else None
    if codes == []:
        return
    db.session.flush()
    _lock_villages(codes)
    if codes is None:
        _refresh_range("", "~")
    elif len(codes) > BULK_THRESHOLD:
        # one statement over the code range from the first to the last village; villages in
        # between that did not change are rewritten to what they were
        _refresh_range(codes[0], subtree_bounds(codes[-1])[1])
    else:
        for code in codes:
            _refresh_range(*subtree_bounds(code))
    refresh_village_snapshots(codes, since)


def refresh_village_snapshots(codes=None, since=None):
    """Rewrite the snapshots of `codes` (all villages when None) for every built month from the
    month of `since` on (all built months when None), each from the one before."""
    first = month_key(since) if since is not None else None
    built = _built_months(previous_month(first) if first is not None else None)
    months = [m for m in built if first is None or m >= first]
    if not months:
        return
    selection = _selection(codes)
    aggregated = _aggregated_months(months)
    ranges = _township_ranges(codes) if aggregated else []
    built = set(built)
    for month in months:
        _write_month(month, built, selection)
    # then their townships' aggregate, every month at once (each from its month's village snapshots)
    _write_townships(aggregated, ranges)


# --- the township aggregate -----------------------------------------------------------------------

# Above this many townships one statement rewrites their code range instead of township by township.
TOWNSHIP_THRESHOLD = 20


def _township_ranges(codes):
    """[(lo, hi)] of the townships of villages `codes` (all when None)."""
    if codes is None:
        return [("", "~")]
    townships = _townships(codes)
    if len(townships) > TOWNSHIP_THRESHOLD:
        return [(townships[0], subtree_bounds(townships[-1])[1])]
    return [subtree_bounds(t) for t in townships]


def _aggregated_months(months):
    """{month: its ledger row} for those of `months` whose township aggregate is built."""
    if not months:
        return {}
    return {row.month: row for row in db.session.scalars(
        select(TownshipSnapshotMonth).where(TownshipSnapshotMonth.month.in_(months)))}


def _write_townships(ledgers, ranges):
    """Rewrite the township aggregate of the months of `ledgers` ({month: ledger row}) for the
    township ranges, from each month's village snapshots, with the validity days and counted kinds
    of its ledger row: one DELETE and one INSERT per range for all the months built alike."""
    alike = {}
    for month, ledger in sorted(ledgers.items()):
        alike.setdefault((ledger.validity_days, ledger.counted_kinds), []).append(month)
    for (validity_days, kinds), months in alike.items():
        statement = township_aggregate_statement(len(months))
        values = {"kinds": kinds.split(","), "true": True, "prefix_length": CODE_LENGTH["township"]}
        for k, month in enumerate(months):
            values[f"month_{k}"] = month
            values[f"window_start_{k}"] = month_bounds(month)[1] - timedelta(days=validity_days)
        for lo, hi in ranges:
            db.session.execute(delete(TownshipSnapshot).where(
                TownshipSnapshot.month.in_(months), TownshipSnapshot.township_code >= lo,
                TownshipSnapshot.township_code < hi))
            _execute_unprepared(statement, {**values, "lo": lo, "hi": hi})


def _execute_unprepared(statement, values):
    """Run a maintenance statement on the primary planned for its values every time, as the rates
    reads are (rates.execute_unprepared): a generic plan would be blind to the township's range."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(statement.clause(), statement.values(values))
        return
    driver = connection.connection.dbapi_connection
    threshold = driver.prepare_threshold
    driver.prepare_threshold = None
    try:
        connection.execute(statement.clause(), statement.values(values))
    finally:
        driver.prepare_threshold = threshold


def _current_settings():
    return current_app.config["RATES_VALIDITY_DAYS"], kinds_key(current_app.config["RATES_COUNTED_KINDS"])


def _divisions_changed_at():
    return db.session.scalar(select(Division.updated_at).order_by(Division.updated_at.desc()).limit(1))


def build_township_month(month):
    """(Re)build the township aggregate of a month whose village snapshot is built, for every
    township, with the current settings and divisions (the caller commits). PostgreSQL: division
    changes wait until the transaction ends, so the recorded `divisions_at` covers what was read."""
    if _postgres():
        db.session.execute(text("LOCK TABLE divisions IN SHARE MODE"))
    validity_days, kinds = _current_settings()
    ledger = db.session.get(TownshipSnapshotMonth, month) or TownshipSnapshotMonth(month=month)
    ledger.validity_days, ledger.counted_kinds = validity_days, kinds
    ledger.divisions_at, ledger.built_at = _divisions_changed_at(), utcnow()
    db.session.add(ledger)
    db.session.flush()
    _write_townships({month: ledger}, [("", "~")])
    db.session.flush()


def stale_township_months():
    """The built months whose township aggregate is missing, built with other settings than the
    current ones, or built before a division last changed: the months `build_township_months`
    rebuilds (until then their reads fall back to the village snapshots)."""
    built = list(db.session.scalars(select(SnapshotMonth.month).order_by(SnapshotMonth.month)))
    if not built:
        return []
    ledgers = _aggregated_months(built)
    validity_days, kinds = _current_settings()
    changed = _divisions_changed_at()
    stale = []
    for month in built:
        ledger = ledgers.get(month)
        if (ledger is None or (ledger.validity_days, ledger.counted_kinds) != (validity_days, kinds)
                or (changed is not None and (ledger.divisions_at is None or ledger.divisions_at < changed))):
            stale.append(month)
    return stale


def build_township_months():
    """Rebuild every stale township month (`stale_township_months`), each in its own transaction
    with the village snapshots locked against a month's build; returns the months rebuilt."""
    months = stale_township_months()
    for month in months:
        if _postgres():
            db.session.execute(text("LOCK TABLE snapshot_months IN EXCLUSIVE MODE"))
        if db.session.get(SnapshotMonth, month) is not None:
            build_township_month(month)
        db.session.commit()
    return months


# --- building a month ---------------------------------------------------------------------------

def first_approved_month():
    """yyyymm of the earliest approved observation, or None."""
    from app.models import Inspection

    earliest = db.session.scalar(select(Inspection.observed_at).where(Inspection.status == "approved")
                                 .order_by(Inspection.observed_at).limit(1))
    return None if earliest is None else month_key(earliest)


def missing_snapshot_months(through=None):
    """The months from the earliest approved observation to `through` (yyyymm; default the
    current China month) whose snapshot is not built, oldest first."""
    first = first_approved_month()
    last = through if through is not None else month_key(utcnow())
    if first is None or first > last:
        return []
    built = set(db.session.scalars(select(SnapshotMonth.month).where(SnapshotMonth.month >= first)))
    months, month = [], first
    while month <= last:
        if month not in built:
            months.append(month)
        month = next_month(month)
    return months


def build_snapshot_month(month, rebuild=False):
    """Build the snapshot of `month` for every village and list it as built (the caller commits).
    Returns False when it was built already (and `rebuild` is false)."""
    if _postgres():
        db.session.execute(text("LOCK TABLE snapshot_months IN EXCLUSIVE MODE"))
    db.session.flush()
    built = set(db.session.scalars(select(SnapshotMonth.month)))
    if month in built and not rebuild:
        return False
    _write_month(month, built, {"lo": "", "hi": "~"})
    row = db.session.get(SnapshotMonth, month) or SnapshotMonth(month=month)
    row.ends_at, row.built_at = month_bounds(month)[1], utcnow()
    db.session.add(row)
    db.session.flush()
    build_township_month(month)
    return True


def drop_snapshots(from_month=None):
    """Forget the snapshots (from `from_month` on): they are read again from the other sources
    until rebuilt."""
    if _postgres():
        db.session.execute(text("LOCK TABLE snapshot_months IN EXCLUSIVE MODE"))
    month_filter = [] if from_month is None else [VillageSnapshot.month >= from_month]
    ledger_filter = [] if from_month is None else [SnapshotMonth.month >= from_month]
    db.session.execute(delete(VillageSnapshot).where(*month_filter))
    db.session.execute(delete(SnapshotMonth).where(*ledger_filter))
    township_filter = [] if from_month is None else [TownshipSnapshot.month >= from_month]
    township_ledger_filter = [] if from_month is None else [TownshipSnapshotMonth.month >= from_month]
    db.session.execute(delete(TownshipSnapshot).where(*township_filter))
    db.session.execute(delete(TownshipSnapshotMonth).where(*township_ledger_filter))


# --- proving them equal -------------------------------------------------------------------------

def _comparable(value):
    """A rates answer without what differs by source (as_of, definition)."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k not in ("as_of", "definition")}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def _differences(expected, got, path=""):
    """[(path, expected, got)] where two answers differ."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key in sorted(set(expected) | set(got), key=str):
            out += _differences(expected.get(key), got.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(expected, list) and isinstance(got, list):
        out = []
        by_code = lambda rows: {r.get("code", n): r for n, r in enumerate(rows)}  # noqa: E731
        left, right = by_code(expected), by_code(got)
        for code in sorted(set(left) | set(right), key=str):
            out += _differences(left.get(code), right.get(code), f"{path}[{code}]")
        return out
    return [] if expected == got else [(path, expected, got)]


def compare_sources(query):
    """Compute the query's rates from the inspections (the from-scratch statement) and from every
    maintained source that claims to be exact for it; returns (sources compared, differences as
    [(source, path, from the inspections, from the source)]). The township aggregate is compared at
    the query's level when that is above township, else one level below the division when that is."""
    from dataclasses import replace

    from app.services.rates import (
        built_months,
        compute_rates,
        last_month,
        nothing_approved_after,
        township_source_applies,
    )

    truth = _comparable(compute_rates(query, source="inspections"))
    sources = []
    if built_months([last_month(query.period)]):
        sources.append("snapshot")
    if query.level != "village" and nothing_approved_after(query):
        sources.append("latest")
    differences = []
    for source in sources:
        got = _comparable(compute_rates(query, source=source))
        differences += [(source, *d) for d in _differences(truth, got)]
    division_level = LEVELS.index(query.division.level)
    upper = query if LEVELS.index(query.level) < LEVELS.index("township") else (
        replace(query, level=LEVELS[division_level + 1]) if division_level + 1 < LEVELS.index("township") else None)
    if upper is not None and built_months([last_month(upper.period)]) and township_source_applies(upper):
        sources.append("township_snapshot" if upper is query else f"township_snapshot (by {upper.level})")
        upper_truth = truth if upper is query else _comparable(compute_rates(upper, source="inspections"))
        got = _comparable(compute_rates(upper, source="township_snapshot"))
        differences += [("township_snapshot", *d) for d in _differences(upper_truth, got)]
    return sources, differences
