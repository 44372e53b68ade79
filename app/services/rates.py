"""The bureau's rates (DESIGN §4), computed by one set-based SQL statement per request shape.

For a division D, a period P and a metric M:

- population: the active villages in D's subtree whose kind is in RATES_COUNTED_KINDS;
- a village's status for M comes from its latest *approved* inspection that answered M with
  `observed_at` in the window [end(P) − validity, end(P)), where end(P) is the first instant after
  the period in China time (Asia/Shanghai); ties on `observed_at` go to the higher id; no such
  inspection: `unknown`;
- rate = met / population (unknown counts as not met), coverage = (met + not_met) / population;
- gap = max(0, ceil(target × population) − met);
- sewage_treated also has a household-weighted rate over the counted villages whose household
  number is known (the division table's `households`);
- tap_water is household-weighted: households with tap ÷ households, summed over the counted
  villages whose latest approved tap-water answer gives both numbers; its gap is in households.

"Latest answering M" is found without a sort per metric: one window per village, in (observed_at,
id) order, counts for each metric the answers from each row to the last; the row where M is not
null and that count is 1 is the latest answer. The approved rows are read in that order from a
partial index, so PostgreSQL needs no sort at all. Villages are then grouped by the code prefix of the
requested level. Each statement is composed of named CTEs (ranked, latest, pop, grouped) and a final
select, and lists its bind parameters (`Statement`).
"""
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from flask import current_app
from sqlalchemy import bindparam, select, text

from app.database import read_session
from app.domain import PERIOD_PATTERN, YEAR_MAX, YEAR_MIN
from app.errors import ValidationFailed
from app.extensions import db
from app.models import (
    CODE_LENGTH,
    DEFAULT_TARGETS,
    LEVELS,
    METRICS,
    Division,
    Inspection,
    Target,
)
from app.models.township_status import COUNT_COLUMNS, TownshipSnapshotMonth
from app.models.types import CHINA, UTCDateTime, utcnow
from app.models.village_status import SnapshotMonth

RATE_DIGITS = 4

RULES = {
    "population": "Active villages in the division's subtree whose kind is one of counted_kinds.",
    "status": ("A village's status for a metric comes from its latest approved inspection that answered "
               "the metric and was observed in [period end - validity_days, period end); ties go to the "
               "higher inspection id. Without such an inspection the status is unknown. Submitted, "
               "returned and rejected inspections never count."),
    "rate": "met / population; unknown counts as not met.",
    "coverage": "(met + not_met) / population: the share of villages with a valid approved answer.",
    "target": ("The target of the period's year: an override set on the division itself or its nearest "
               "ancestor, else the year's default, else the built-in 2026 plan."),
    "gap": "max(0, ceil(target x population) - met): how many more villages must meet the metric.",
    "sewage_treated.households": ("Household-weighted: households of counted villages with sewage treated / "
                                  "households of counted villages whose household number is known."),
    "tap_water": ("Household-weighted: households with tap water / households, summed over the counted "
                  "villages whose latest approved tap-water answer gives both numbers; gap is in households."),
}


# --- periods --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    key: str
    year: int
    start: datetime  # China time, inclusive
    end: datetime    # China time, exclusive (the first instant after the period)

    def as_dict(self):
        return {"key": self.key, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "start_utc": _utc_iso(self.start), "end_utc": _utc_iso(self.end)}


def _utc_iso(moment):
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _month_start(year, month):
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=CHINA)


def parse_period(key):
    """'2026' | '2026-Q3' | '2026-09' -> Period in China time; ValidationFailed otherwise."""
    match = re.match(PERIOD_PATTERN, key or "")
    if not match:
        raise ValidationFailed(fields={"period": ["Use a year (2026), a quarter (2026-Q3) or a month (2026-09)."]})
    year, quarter, month = int(match[1]), match[2], match[3]
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise ValidationFailed(fields={"period": [f"The year must be between {YEAR_MIN} and {YEAR_MAX}."]})
    if quarter:
        first = 3 * (int(quarter) - 1) + 1
        return Period(key, year, _month_start(year, first), _month_start(year, first + 3))
    if month:
        return Period(key, year, _month_start(year, int(month)), _month_start(year, int(month) + 1))
    return Period(key, year, _month_start(year, 1), _month_start(year + 1, 1))


def current_year_key():
    return str(datetime.now(CHINA).year)


def period_series(start_key, end_key, granularity):
    """Periods from the one holding `start_key` to the one holding `end_key` (months or quarters)."""
    first, last = parse_period(start_key), parse_period(end_key)
    if last.start < first.start:
        raise ValidationFailed(fields={"to": ["'to' is before 'from'."]})
    step = 1 if granularity == "month" else 3
    month = first.start.month if granularity == "month" else 3 * ((first.start.month - 1) // 3) + 1
    cursor = _month_start(first.start.year, month)
    keys = []
    while cursor < last.end:
        keys.append(f"{cursor.year}-{cursor.month:02d}" if step == 1 else f"{cursor.year}-Q{(cursor.month - 1) // 3 + 1}")
        cursor = _month_start(cursor.year, cursor.month + step)
        if len(keys) > 120:
            raise ValidationFailed(fields={"to": ["A trend holds at most 120 periods."]})
    return [parse_period(k) for k in keys]


# --- definition and targets -----------------------------------------------------------------

@dataclass(frozen=True)
class RatesQuery:
    division: Division
    period: Period
    level: str
    validity_days: int
    counted_kinds: tuple

    @property
    def window_start(self):
        return self.period.end - timedelta(days=self.validity_days)

    def definition(self):
        return {
            "validity_days": self.validity_days,
            "counted_kinds": list(self.counted_kinds),
            "period": self.period.as_dict(),
            "window": {"from": self.window_start.isoformat(), "to": self.period.end.isoformat(),
                       "from_utc": _utc_iso(self.window_start), "to_utc": _utc_iso(self.period.end)},
            "timezone": "Asia/Shanghai",
            "rules": RULES,
        }


def make_query(division, period_key, level=None):
    """Check the request against the tree and the configuration; returns a RatesQuery."""
    level = level or (LEVELS[LEVELS.index(division.level) + 1] if division.level != "village" else "village")
    if LEVELS.index(level) < LEVELS.index(division.level):
        raise ValidationFailed(fields={"level": [f"{level} is above the division's level ({division.level})."]})
    return RatesQuery(division, parse_period(period_key), level, current_app.config["RATES_VALIDITY_DAYS"],
                      tuple(current_app.config["RATES_COUNTED_KINDS"]))


class TargetBook:
    """The targets of one year: most specific (longest ancestor-or-self code) wins. `session`: the
    rates read them from read_session(); setting a target reads them from the primary (db.session)."""

    def __init__(self, year, session=None):
        self.year = year
        rows = (session or db.session).execute(select(Target.metric, Target.division_code, Target.value)
                                  .where(Target.year == year)).all()
        self.defaults = {m: v for m, c, v in rows if c == ""}
        self.overrides = sorted(((m, c, v) for m, c, v in rows if c), key=lambda r: -len(r[1]))

    def lookup(self, metric, code):
        """(value, source) for `metric` at division `code`."""
        for m, prefix, value in self.overrides:
            if m == metric and code.startswith(prefix):
                return value, f"division:{prefix}"
        if metric in self.defaults:
            return self.defaults[metric], f"year:{self.year}"
        return DEFAULT_TARGETS[metric], "plan:2026"


def needed(target, total):
    """ceil(target × total) computed in decimal, so 0.95 × 20 is 19, not 20."""
    return math.ceil(Decimal(str(target)) * total)


def _ratio(part, whole):
    return None if not whole else round(part / whole, RATE_DIGITS)


# --- the statements -------------------------------------------------------------------------
#
# Each statement is put together from the named parts below and lists its own bind parameters;
# tests/test_rates_sql.py checks that each list is exactly the binds of its text, and that the
# statements share their parts.

@dataclass(frozen=True)
class Statement:
    """A SQL statement and the names of the bind parameters it takes."""
    name: str
    sql: str
    params: tuple

    def clause(self):
        """The statement as text() with each of its parameters declared."""
        return text(self.sql).bindparams(*(declared_bind(name) for name in self.params))

    def values(self, available):
        """This statement's parameters, taken from `available` (a dict of every value by name)."""
        return {name: available[name] for name in self.params}


UTC_BINDS = ("window_start", "window_end", "month_start", "month_end")
LIST_BINDS = ("kinds", "codes")


def declared_bind(name):
    """Instants (the window's and a month's bounds, `window_start_<n>` of a trend) are stored as
    UTC; the counted kinds and a set of village codes are lists (IN)."""
    if name in UTC_BINDS or name.startswith("window_start_"):
        return bindparam(name, type_=UTCDateTime())
    if name in LIST_BINDS:
        return bindparam(name, expanding=True)
    return bindparam(name)


def with_ctes(*ctes):
    return "\nWITH " + ",\n".join(ctes)


PERIOD_WINDOW = "i.observed_at >= :window_start AND i.observed_at < :window_end"
VILLAGE_RANGE = "i.village_code >= :lo AND i.village_code < :hi"


def ranked_cte(period_window, villages=VILLAGE_RANGE):
    """The subtree's approved inspections (observed in the period's window when `period_window`;
    another condition on `i.observed_at` when it is a string), each with n_M: how many answers to M
    there are from it to the village's last, in (observed_at, id) order. n_M = 1 on a row answering
    M marks the latest answer to M. `villages`: the condition on `i.village_code`."""
    if period_window is True:
        period_window = PERIOD_WINDOW
    window = f"{period_window}\n    AND " if period_window else ""
    answers = ", ".join(f"i.{m}" for m in METRICS)
    counts = ",\n".join(f"         COUNT(i.{m}) OVER w AS n_{m}" for m in METRICS)
    return f"""ranked AS (
  SELECT i.village_code, i.id, i.observed_at, {answers},
         i.tap_households, i.tap_households_with_tap,
{counts}
  FROM inspections i
  WHERE i.status = 'approved' AND {window}{villages}
  WINDOW w AS (PARTITION BY i.village_code ORDER BY i.observed_at, i.id
               ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
)"""


def latest_cte():
    """One row per village from `ranked`: for each metric M its latest answer (1 or 0), the
    inspection's id (M_id) and observed_at (M_at); the household numbers of the latest tap-water answer."""
    columns = []
    for m in METRICS:
        first = f"n_{m} = 1 AND {m} IS NOT NULL"
        columns.append(f"    MAX(CASE WHEN {first} THEN CASE WHEN {m} THEN 1 ELSE 0 END END) AS {m}")
        columns.append(f"    MAX(CASE WHEN {first} THEN id END) AS {m}_id")
        columns.append(f"    MAX(CASE WHEN {first} THEN observed_at END) AS {m}_at")
    first = "n_tap_water = 1 AND tap_water IS NOT NULL"
    columns.append(f"    MAX(CASE WHEN {first} THEN tap_households END) AS tap_households")
    columns.append(f"    MAX(CASE WHEN {first} THEN tap_households_with_tap END) AS tap_households_with_tap")
    any_latest = " OR ".join(f"n_{m} <= 1" for m in METRICS)
    return "latest AS (\n  SELECT village_code,\n" + ",\n".join(columns) + f"""
  FROM ranked
  WHERE {any_latest}
  GROUP BY village_code
)"""


def maintained_latest_cte(snapshot=False):
    """`latest` read from the maintained table (services/village_status.py) instead of `ranked`:
    an answer observed before the window's start counts as no answer. `snapshot`: from the monthly
    snapshot of :month instead of the all-time table, with each answer's inspection id and time."""
    columns = [f"    CASE WHEN {m}_at >= :window_start THEN CASE WHEN {m} THEN 1 ELSE 0 END END AS {m}"
               for m in METRICS]
    if snapshot:
        columns += [f"    CASE WHEN {m}_at >= :window_start THEN {m}_{c} END AS {m}_{c}"
                    for m in METRICS for c in ("id", "at")]
    columns += [f"    CASE WHEN tap_water_at >= :window_start THEN {c} END AS {c}"
                for c in ("tap_households", "tap_households_with_tap")]
    source = "village_snapshots WHERE month = :month AND" if snapshot else "village_latest WHERE"
    return "latest AS (\n  SELECT village_code,\n" + ",\n".join(columns) + f"""
  FROM {source} village_code >= :lo AND village_code < :hi
)"""


POP_CTE = """pop AS (
  SELECT d.code, d.households FROM divisions d
  WHERE d.level = 'village' AND d.active = :true AND d.kind IN :kinds AND d.code >= :lo AND d.code < :hi
)"""


def _sums(population=True):
    """The counts of one group: population, met / not met per metric, households (without the
    population and the known households when `population` is false)."""
    counts = ",\n".join(f"    SUM(CASE WHEN l.{m} = 1 THEN 1 ELSE 0 END) AS {m}_met,\n"
                         f"    SUM(CASE WHEN l.{m} = 0 THEN 1 ELSE 0 END) AS {m}_not_met" for m in METRICS)
    head = "COUNT(*) AS population,\n" if population else "\n"
    known = "    SUM(pop.households) AS sewage_households_known,\n" if population else ""
    return f"""{head}{counts},
{known}    SUM(CASE WHEN l.sewage_treated = 1 THEN pop.households END) AS sewage_households_met,
    SUM(CASE WHEN l.tap_households IS NOT NULL AND l.tap_households_with_tap IS NOT NULL
             THEN l.tap_households END) AS tap_households,
    SUM(CASE WHEN l.tap_households IS NOT NULL AND l.tap_households_with_tap IS NOT NULL
             THEN l.tap_households_with_tap END) AS tap_households_with_tap"""


def grouped_cte():
    """The counted villages joined to `latest`, summed per code prefix of the requested level."""
    return f"""grouped AS (
  SELECT substr(pop.code, 1, :prefix_length) AS grp, {_sums()}
  FROM pop LEFT JOIN latest l ON l.village_code = pop.code
  GROUP BY substr(pop.code, 1, :prefix_length)
)"""


ROLLUP_SELECT = """
SELECT dv.code, dv.name, dv.level, g.*
FROM divisions dv LEFT JOIN grouped g ON g.grp = dv.code
WHERE dv.level = :level AND dv.code >= :lo AND dv.code < :hi
ORDER BY dv.code
"""

VILLAGES_SELECT = """
SELECT d.code, d.name, d.level, d.kind, d.households, l.*
FROM divisions d LEFT JOIN latest l ON l.village_code = d.code
WHERE d.level = 'village' AND d.active = :true AND d.code >= :lo AND d.code < :hi
ORDER BY d.code
"""

RANKED_CTE = ranked_cte(period_window=True)
RANKED_ALL_TIME_CTE = ranked_cte(period_window=False)  # the maintained table's refresh
LATEST_CTE = latest_cte()
MAINTAINED_LATEST_CTE = maintained_latest_cte()
GROUPED_CTE = grouped_cte()

# Grouped counts per division at the requested level, from the inspections.
ROLLUP = Statement(
    "rollup", with_ctes(RANKED_CTE, LATEST_CTE, POP_CTE, GROUPED_CTE) + ROLLUP_SELECT,
    ("window_start", "window_end", "lo", "hi", "true", "kinds", "prefix_length", "level"))

# The same from the maintained table of each village's latest approved answers: exact when nothing
# approved in the subtree was observed at or after the period's end, since each village's latest
# answer is then its latest before the end.
MAINTAINED_ROLLUP = Statement(
    "maintained_rollup", with_ctes(MAINTAINED_LATEST_CTE, POP_CTE, GROUPED_CTE) + ROLLUP_SELECT,
    ("window_start", "lo", "hi", "true", "kinds", "prefix_length", "level"))

# Every active village of the subtree with its latest answers.
VILLAGES = Statement(
    "villages", with_ctes(RANKED_CTE, LATEST_CTE) + VILLAGES_SELECT,
    ("window_start", "window_end", "lo", "hi", "true"))

# The same two from the monthly snapshot of the period's last month (services/village_status.py):
# each village's latest answer observed before the month's end, the window checked on its date.
SNAPSHOT_LATEST_CTE = maintained_latest_cte(snapshot=True)
SNAPSHOT_ROLLUP = Statement(
    "snapshot_rollup", with_ctes(SNAPSHOT_LATEST_CTE, POP_CTE, GROUPED_CTE) + ROLLUP_SELECT,
    ("window_start", "month", "lo", "hi", "true", "kinds", "prefix_length", "level"))
SNAPSHOT_VILLAGES = Statement(
    "snapshot_villages", with_ctes(SNAPSHOT_LATEST_CTE) + VILLAGES_SELECT,
    ("window_start", "month", "lo", "hi", "true"))


# The roll-up above township level read from the township aggregate (township_snapshots) of
# :month: O(townships) instead of O(villages).
_SUMMED = ",\n".join(f"    SUM(t.{c}) AS {c}" for c in COUNT_COLUMNS)
TOWNSHIP_GROUPED_CTE = f"""grouped AS (
  SELECT substr(t.township_code, 1, :prefix_length) AS grp,
{_SUMMED}
  FROM township_snapshots t
  WHERE t.month = :month AND t.township_code >= :lo AND t.township_code < :hi
  GROUP BY substr(t.township_code, 1, :prefix_length)
)"""
TOWNSHIP_ROLLUP = Statement(
    "township_rollup", with_ctes(TOWNSHIP_GROUPED_CTE) + ROLLUP_SELECT,
    ("month", "lo", "hi", "prefix_length", "level"))


def township_trend_statement(n):
    """The division's own counts for `n` months at once from the township aggregate (`month_<k>`):
    one row per month, O(townships) each."""
    values = ", ".join(f"(:month_{k})" for k in range(n))
    return Statement(f"township_trend_{n}", with_ctes(f"months (month) AS (VALUES {values})") + f"""
SELECT mo.month AS month,
{_SUMMED}
FROM months mo LEFT JOIN township_snapshots t
  ON t.month = mo.month AND t.township_code >= :lo AND t.township_code < :hi
GROUP BY mo.month
ORDER BY mo.month
""", tuple(f"month_{k}" for k in range(n)) + ("lo", "hi"))


def months_cte(n):
    """`n` months and each one's window start (`month_<k>`, `window_start_<k>`)."""
    values = ", ".join(f"(:month_{k}, :window_start_{k})" for k in range(n))
    return f"months (month, window_start) AS (VALUES {values})"


def monthly_latest_cte():
    """`latest` of every month in `months` from its snapshot, each with its own window: (month,
    village) rows for the villages with a snapshot row."""
    columns = []
    for m in METRICS:
        valid = f"s.{m}_at >= mo.window_start"
        columns.append(f"    CASE WHEN {valid} THEN CASE WHEN s.{m} THEN 1 ELSE 0 END END AS {m}")
    columns += [f"    CASE WHEN s.tap_water_at >= mo.window_start THEN s.{c} END AS {c}"
                for c in ("tap_households", "tap_households_with_tap")]
    return ("latest AS (\n  SELECT s.month, s.village_code,\n" + ",\n".join(columns) + """
  FROM months mo JOIN village_snapshots s ON s.month = mo.month
  WHERE s.village_code >= :lo AND s.village_code < :hi
)""")


MONTHLY_LATEST_CTE = monthly_latest_cte()


def township_aggregate_statement(n):
    """INSERT the township aggregate of `n` months at once (`month_<k>`, `window_start_<k>`: the
    validity window from each month's end) for the townships of a code range: per month and
    township, the roll-up's counts over the counted villages from that month's snapshot. One
    statement for every month a late approval rewrites, one per month for a build."""
    grouped = f"""grouped AS (
  SELECT mo.month AS month, substr(pop.code, 1, :prefix_length) AS grp, {_sums()}
  FROM months mo CROSS JOIN pop LEFT JOIN latest l ON l.month = mo.month AND l.village_code = pop.code
  GROUP BY mo.month, substr(pop.code, 1, :prefix_length)
)"""
    columns = ", ".join(COUNT_COLUMNS)
    params = tuple(f"{p}_{k}" for k in range(n) for p in ("month", "window_start"))
    return Statement(f"township_aggregate_{n}",
                     f"INSERT INTO township_snapshots (township_code, month, {columns})"
                     + with_ctes(months_cte(n), MONTHLY_LATEST_CTE, POP_CTE, grouped)
                     + f"\nSELECT grp, month, {columns} FROM grouped",
                     params + ("lo", "hi", "true", "kinds", "prefix_length"))


def trend_statement(n):
    """The division's own counts for `n` months at once, each from its snapshot with its own window
    (`month_<k>`, `window_start_<k>`): one row per month. The population does not depend on the
    month: it is counted once, and only the villages with a snapshot row are joined month by month."""
    months, latest = months_cte(n), MONTHLY_LATEST_CTE
    grouped = f"""grouped AS (
  SELECT l.month AS month, {_sums(population=False)}
  FROM pop JOIN latest l ON l.village_code = pop.code
  GROUP BY l.month
)"""
    totals = """totals AS (
  SELECT COUNT(*) AS population, SUM(pop.households) AS sewage_households_known FROM pop
)"""
    counted = [f"g.{m}_{s}" for m in METRICS for s in ("met", "not_met")]
    counted += ["g.sewage_households_met", "g.tap_households", "g.tap_households_with_tap"]
    select_ = f"""
SELECT mo.month AS month, t.population, t.sewage_households_known, {', '.join(counted)}
FROM months mo CROSS JOIN totals t LEFT JOIN grouped g ON g.month = mo.month
ORDER BY mo.month
"""
    params = tuple(f"{p}_{k}" for k in range(n) for p in ("month", "window_start"))
    return Statement(f"trend_{n}", with_ctes(months, latest, POP_CTE, grouped, totals) + select_,
                     params + ("lo", "hi", "true", "kinds"))


def subtree_bounds(code):
    return code, code[:-1] + chr(ord(code[-1]) + 1)


def query_values(query):
    """Every value a rates statement binds, by parameter name."""
    lo, hi = subtree_bounds(query.division.code)
    return {"window_start": query.window_start, "window_end": query.period.end, "lo": lo, "hi": hi,
            "kinds": list(query.counted_kinds), "prefix_length": CODE_LENGTH[query.level],
            "level": query.level, "true": True}


def execute_unprepared(statement, values):
    """Run a rates statement so that PostgreSQL plans it for these values every time.

    psycopg prepares a statement after its fifth execution on a connection, and PostgreSQL may then
    choose a generic plan, blind to the subtree's code range and the window: for the roll-up that
    plan reruns the window aggregation once per village (loops=459: 1.5 s instead of 10 ms). With
    preparing off for these statements each execution is an unnamed statement, planned with its
    parameters (a custom plan); the app's other statements keep psycopg's default."""
    connection = read_session().connection()
    if connection.dialect.name != "postgresql":
        return connection.execute(statement.clause(), values).mappings().all()
    driver = connection.connection.dbapi_connection
    threshold = driver.prepare_threshold
    driver.prepare_threshold = None
    try:
        return connection.execute(statement.clause(), values).mappings().all()
    finally:
        driver.prepare_threshold = threshold


def _rows(statement, query, **extra):
    return execute_unprepared(statement, statement.values({**query_values(query), **extra}))


def nothing_approved_after(query):
    """Whether no approved inspection in the subtree was observed at or after the period's end.

    Ordered by observed_at, the probe reads the partial index of approved rows by time
    (`ix_inspections_approved_observed`) from the period's end and stops at the first row in the
    subtree: a couple of pages for a current period, whatever the size of the table."""
    return read_session().scalar(approved_after_statement(query)) is None


def approved_after_statement(query):
    """The probe of `nothing_approved_after`: the first approved inspection of the subtree observed
    at or after the period's end, in the order of the partial index."""
    lo, hi = subtree_bounds(query.division.code)
    return (select(Inspection.id)
            .where(Inspection.status == "approved", Inspection.observed_at >= query.period.end,
                   Inspection.village_code >= lo, Inspection.village_code < hi)
            .order_by(Inspection.observed_at).limit(1))


# --- which table answers ----------------------------------------------------------------------

SOURCES = ("township_snapshot", "snapshot", "latest", "inspections")


def month_key(moment):
    """yyyymm of the China-time month holding `moment` (an aware datetime)."""
    local = moment.astimezone(CHINA)
    return local.year * 100 + local.month


def month_bounds(month):
    """(start, end) of month yyyymm in China time; end is the first instant after it."""
    year, number = divmod(month, 100)
    return _month_start(year, number), _month_start(year, number + 1)


def month_label(month):
    return f"{month // 100}-{month % 100:02d}"


def last_month(period):
    """yyyymm of the period's last month: the snapshot a period reads."""
    return month_key(period.end - timedelta(days=1))


def built_months(months):
    """Which of `months` (yyyymm) have a built snapshot (services/village_status.py)."""
    if not months:
        return set()
    return set(read_session().scalars(select(SnapshotMonth.month).where(SnapshotMonth.month.in_(sorted(set(months))))))


def kinds_key(counted_kinds):
    """The counted kinds as the township aggregate records them."""
    return ",".join(sorted(set(counted_kinds)))


def above_township(level):
    return LEVELS.index(level) < LEVELS.index("township")


def township_months(months, validity_days, counted_kinds):
    """Which of `months` have a township aggregate built with these validity days and counted kinds
    and no division changed since (services/village_status.py): only those months are read from it."""
    if not months:
        return set()
    session = read_session()  # the same database as the aggregate it vouches for
    rows = session.execute(select(TownshipSnapshotMonth.month, TownshipSnapshotMonth.divisions_at).where(
        TownshipSnapshotMonth.month.in_(sorted(set(months))), TownshipSnapshotMonth.validity_days == validity_days,
        TownshipSnapshotMonth.counted_kinds == kinds_key(counted_kinds))).all()
    if not rows:
        return set()
    changed = session.scalar(select(Division.updated_at).order_by(Division.updated_at.desc()).limit(1))
    return {month for month, built_with in rows
            if changed is None or (built_with is not None and built_with >= changed)}


def township_source_applies(query):
    """Whether the query's period can be read from the township aggregate: a breakdown above
    township level whose last month's aggregate was built with the query's settings."""
    return above_township(query.level) and bool(
        township_months([last_month(query.period)], query.validity_days, query.counted_kinds))


def choose_source(query):
    """The cheapest exact source for the query's period: for a breakdown above township level the
    township aggregate of its last month when built with the query's settings; else the village
    snapshot of its last month when that is built; else the maintained latest-answer table when
    nothing approved was observed at or after the period's end; else the inspections themselves."""
    if built_months([last_month(query.period)]):
        return "township_snapshot" if township_source_applies(query) else "snapshot"
    return "latest" if nothing_approved_after(query) else "inspections"


def source_of(query, maintained=None, source=None):
    if source is not None:
        return source
    if maintained is not None:
        return "latest" if maintained else "inspections"
    return choose_source(query)


def rollup_rows(query, maintained=None, source=None):
    """Raw grouped counts for each division at the query's level (one statement): from the
    snapshot of the period's last month, the maintained latest-answer table or the inspections
    (`choose_source`; `maintained`=True/False or `source` force one)."""
    source = source_of(query, maintained, source)
    if source == "township_snapshot":
        return _rows(TOWNSHIP_ROLLUP, query, month=last_month(query.period))
    if source == "snapshot":
        return _rows(SNAPSHOT_ROLLUP, query, month=last_month(query.period))
    return _rows(MAINTAINED_ROLLUP if source == "latest" else ROLLUP, query)


def village_rows(query, source=None):
    """Every active village of the subtree with its latest approved answer per metric (one
    statement): from the snapshot of the period's last month when it is built, else from the
    inspections (`source` = 'snapshot' or 'inspections' forces one)."""
    if source is None:
        source = "snapshot" if built_months([last_month(query.period)]) else "inspections"
    if source == "snapshot":
        return _rows(SNAPSHOT_VILLAGES, query, month=last_month(query.period))
    return _rows(VILLAGES, query)


# --- shaping the numbers --------------------------------------------------------------------

COUNT_KEYS = ["population", "sewage_households_known", "sewage_households_met", "tap_households",
              "tap_households_with_tap"] + [f"{m}_{s}" for m in METRICS for s in ("met", "not_met")]


def metric_block(metric, counts, target, target_source):
    population = counts["population"]
    met, not_met = counts[f"{metric}_met"], counts[f"{metric}_not_met"]
    block = {"met": met, "not_met": not_met, "unknown": population - met - not_met,
             "coverage": _ratio(met + not_met, population), "target": target, "target_source": target_source}
    if metric == "tap_water":
        total, with_tap = counts["tap_households"], counts["tap_households_with_tap"]
        block.update(basis="households", rate=_ratio(with_tap, total), households=total, households_met=with_tap,
                     gap=max(0, needed(target, total) - with_tap) if total else 0)
        block["on_target"] = None if not total else block["gap"] == 0
        return block
    block.update(basis="villages", rate=_ratio(met, population),
                 gap=max(0, needed(target, population) - met) if population else 0)
    block["on_target"] = None if not population else block["gap"] == 0
    if metric == "sewage_treated":
        known, hh_met = counts["sewage_households_known"], counts["sewage_households_met"]
        block["households"] = {"known": known, "met": hh_met, "rate": _ratio(hh_met, known)}
    return block


def summary_row(code, name, level, counts, targets):
    metrics = {}
    for m in METRICS:
        value, source = targets.lookup(m, code)
        metrics[m] = metric_block(m, counts, value, source)
    return {"code": code, "name": name, "level": level, "population": counts["population"], "metrics": metrics}


def _counts_of(raw):
    return {k: int(raw.get(k) or 0) for k in COUNT_KEYS}


def _village_counts(raw, counted):
    counts = dict.fromkeys(COUNT_KEYS, 0)
    if not counted:
        return counts
    counts["population"] = 1
    for m in METRICS:
        if raw[m] is not None:
            counts[f"{m}_met" if raw[m] else f"{m}_not_met"] = 1
    if raw["households"] is not None:
        counts["sewage_households_known"] = raw["households"]
        counts["sewage_households_met"] = raw["households"] if raw["sewage_treated"] else 0
    if raw["tap_households"] is not None and raw["tap_households_with_tap"] is not None:
        counts["tap_households"], counts["tap_households_with_tap"] = raw["tap_households"], raw["tap_households_with_tap"]
    return counts


def _instant_iso(value):
    """A stored UTC instant read by a text() statement (SQLite: text without a zone; PostgreSQL:
    a datetime) as ISO 8601 in UTC, written as the inspection's own `observed_at` is, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()


def _village_row(raw, counted_kinds):
    counted = raw["kind"] in counted_kinds
    metrics = {}
    for m in METRICS:
        value = raw[m]
        entry = {"status": "unknown" if value is None else ("met" if value else "not_met"),
                 "inspection_id": raw[f"{m}_id"], "observed_at": _instant_iso(raw[f"{m}_at"])}
        if m == "tap_water":
            entry.update(households=raw["tap_households"], households_with_tap=raw["tap_households_with_tap"])
        metrics[m] = entry
    row = {"code": raw["code"], "name": raw["name"], "level": "village", "kind": raw["kind"], "counted": counted,
           "households": raw["households"], "metrics": metrics}
    return row, _village_counts(raw, counted)


SOURCE_NOTES = {
    "township_snapshot": ("the per-township aggregate of the monthly snapshot of the period's last month "
                          "(township_snapshots), kept exact with every approval"),
    "snapshot": "the monthly snapshot of the period's last month (village_snapshots), kept exact with every approval",
    "latest": "each village's latest approved answer (village_latest): nothing approved was observed after the period",
    "inspections": "the approved inspections themselves",
}


def source_block(source, query):
    block = {"read_from": source, "note": SOURCE_NOTES[source]}
    if source in ("snapshot", "township_snapshot"):
        block["month"] = month_label(last_month(query.period))
    return block


def compute_rates(query, source=None, status=None, metric=None):
    """The rates response for a RatesQuery: the division's totals and one row per division at the level.

    With level=village, `metric` and `status` (met | not_met | unknown) keep only the counted villages
    with that status for that metric: the villages behind one cell of the rates table. The totals
    (`division`) stay the whole division's, so the kept rows number exactly the cell's count.

    `as_of` is the moment the numbers were read: every source is exact for the data committed by
    then (the snapshots and the latest-answer table change in the same transaction as the
    inspections), and one statement reads the whole answer. `definition.source` says which source."""
    targets = TargetBook(query.period.year, read_session())
    total = dict.fromkeys(COUNT_KEYS, 0)
    rows = []
    as_of = utcnow()
    if (status or metric) and query.level != "village":
        raise ValidationFailed(fields={"status" if status else "metric": ["Only with level=village."]})
    if status and not metric:
        raise ValidationFailed(fields={"metric": ["Name the metric whose status filters the villages."]})
    if query.level == "village":
        if source is None:
            source = "snapshot" if built_months([last_month(query.period)]) else "inspections"
        for raw in village_rows(query, source):
            row, counts = _village_row(raw, query.counted_kinds)
            total = {k: total[k] + counts[k] for k in COUNT_KEYS}
            if metric and not row["counted"]:
                continue
            if status and row["metrics"][metric]["status"] != status:
                continue
            rows.append(row)
    else:
        source = source_of(query, source=source)
        for raw in rollup_rows(query, source=source):
            counts = _counts_of(raw)
            rows.append(summary_row(raw["code"], raw["name"], raw["level"], counts, targets))
            total = {k: total[k] + counts[k] for k in COUNT_KEYS}
    d = query.division
    return {
        "division": summary_row(d.code, d.name, d.level, total, targets),
        "period": query.period.key, "level": query.level, "as_of": as_of,
        "definition": {**query.definition(), "source": source_block(source, query)}, "rows": rows,
    }


def trend_rows(division, periods, validity_days, counted_kinds):
    """{last month yyyymm: raw counts} of the division itself for every period whose last month
    has a built snapshot: one statement for all of them over the township aggregate (a division
    above township level, the months it is built for with these settings), one over the village
    snapshots for the others."""
    months = sorted(built_months([last_month(p) for p in periods]))
    if not months:
        return {}
    lo, hi = subtree_bounds(division.code)
    found = {}
    if above_township(division.level):
        aggregated = sorted(township_months(months, validity_days, counted_kinds))
        if aggregated:
            statement = township_trend_statement(len(aggregated))
            values = {"lo": lo, "hi": hi, **{f"month_{k}": month for k, month in enumerate(aggregated)}}
            found = {raw["month"]: raw for raw in execute_unprepared(statement, statement.values(values))}
            months = [m for m in months if m not in found]
            if not months:
                return found
    statement = trend_statement(len(months))
    values = {"lo": lo, "hi": hi, "true": True, "kinds": list(counted_kinds)}
    for k, month in enumerate(months):
        values[f"month_{k}"] = month
        values[f"window_start_{k}"] = month_bounds(month)[1] - timedelta(days=validity_days)
    return {**found, **{raw["month"]: raw for raw in execute_unprepared(statement, statement.values(values))}}


def compute_trend(division, metric, start_key, end_key, granularity):
    """One point per month or quarter: the division's own numbers for `metric`, each exactly the
    rates answer for that period. Every period whose last month has a snapshot comes from one
    statement over the snapshots; the others (months not built yet, e.g. the months ahead) are
    computed one by one as a rates request would."""
    periods = period_series(start_key, end_key, granularity)
    first = make_query(division, start_key, division.level)
    from_snapshots = trend_rows(division, periods, first.validity_days, first.counted_kinds)
    targets = {}
    points = []
    for period in periods:
        raw = from_snapshots.get(last_month(period))
        if raw is not None:
            if period.year not in targets:
                targets[period.year] = TargetBook(period.year, read_session())
            book = targets[period.year]
            summary = summary_row(division.code, division.name, division.level, _counts_of(raw), book)
        else:
            summary = compute_rates(make_query(division, period.key, division.level))["division"]
        points.append({"period": period.key, "start": period.start.isoformat(), "end": period.end.isoformat(),
                       "population": summary["population"], **summary["metrics"][metric]})
    definition = make_query(division, end_key, division.level).definition()
    definition.pop("period")
    definition.pop("window")
    return {"division": {"code": division.code, "name": division.name, "level": division.level},
            "metric": metric, "granularity": granularity, "definition": definition, "points": points}
