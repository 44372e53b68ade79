"""Rates benchmark: a synthetic tree and history loaded through the project's own import paths
(`import_divisions`, `import_inspections`), the monthly snapshots and their per-township aggregate
built (`build_snapshot_month`), then the rates endpoint measured through HTTP (Flask test client)
and, for PostgreSQL, beside the fastest hand-written SQL for the same numbers: the current period
(2026-Q3, nothing approved after it), a past quarter with later approvals (2026-Q2) and a 12-month
trend, each beside the same statement over the village snapshots and the from-scratch statement
over the inspections in the same run; and what one late approval's maintenance costs with and
without the township aggregate.

Sizes:
  small     SQLite, Jixi's real tree, 12 months of history (CI; a few seconds)
  jixi      SQLite, Jixi's real tree (706 village-level units), 5 years of monthly inspections
  province  PostgreSQL, 10^4 villages, 1.2 x 10^5 approved inspections (goal: p50 < 100 ms)
  national  PostgreSQL, 5 x 10^5 villages, 6 x 10^6 inspections (goal: p50 < 2 s, ratio <= 1.5)

The PostgreSQL sizes create and drop their own database on the server given by --postgres-url.
`--load-only` loads one and keeps it (printing its URL); `--database-url URL` then measures that
database (upgrading it first) and drops it: so the 20-minute national load can run before the code
it measures is finished.

    .venv/bin/python benchmarks/bench_rates.py --size small
    .venv/bin/python benchmarks/bench_rates.py --size province --postgres-url postgresql://postgres@127.0.0.1:5432/test
"""
import argparse
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_migrate  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.auth import issue_token  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Division  # noqa: E402
from app.services.divisions import import_divisions  # noqa: E402
from app.services.imports import import_inspections  # noqa: E402
from app.services.users import create_user  # noqa: E402
from benchmarks.figures import figure  # noqa: E402

CN = timezone(timedelta(hours=8))
HEADER = ("client_uuid,village_code,observed_at,lon,lat,garbage_stable,sewage_treated,village_clean,"
          "households,households_with_tap,status\n")
SIZES = {
    # engine, tree (None = Jixi's real one, else fan-out cities, counties, townships, villages), months, repeats
    "small": ("sqlite", None, 12, 5),
    "jixi": ("sqlite", None, 60, 20),
    "province": ("postgresql", (10, 10, 10, 10), 12, 30),
    "national": ("postgresql", (50, 20, 25, 20), 12, 5),
}
PERIOD = "2026-Q3"
PAST_PERIOD = "2026-Q2"
TREND = ("2025-10", "2026-09")
LAST_MONTH = datetime(2026, 9, 1, tzinfo=CN)


def synthetic_tree_csv(fanout):
    """A province `91` with cities, counties, townships, villages; every 10th village an urban community."""
    cities, counties, townships, villages = fanout
    lines = ["code,name,level,parent_code,kind,households", "91,合成省,province,,,"]
    for c in range(1, cities + 1):
        city = f"91{c:02d}"
        lines.append(f"{city},合成{c}市,city,91,,")
        for k in range(1, counties + 1):
            county = f"{city}{k:02d}"
            lines.append(f"{county},合成{c}-{k}县,county,{city},,")
            for t in range(1, townships + 1):
                township = f"{county}{t:03d}"
                lines.append(f"{township},合成{t}镇,township,{county},,")
                for v in range(1, villages + 1):
                    name = f"合成{v}社区" if v % 10 == 0 else f"合成{v}村"
                    lines.append(f"{township}{v:03d},{name},village,{township},,{100 + (v * 37) % 400}")
    return "\n".join(lines) + "\n"


def history_chunks(villages, months, rng, approved_share, chunk_rows=100_000):
    """CSV texts of monthly inspections per village, going back `months` months from September 2026."""
    rows = []
    for m in range(months):
        month = LAST_MONTH.month - m
        year = LAST_MONTH.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        for code in villages:
            when = datetime(year, month, rng.randint(1, 28), rng.randint(7, 18), rng.randint(0, 59), tzinfo=CN)
            b = lambda p: "true" if rng.random() < p else "false"  # noqa: E731
            households = 100 + rng.randint(0, 400)
            status = "approved" if rng.random() < approved_share else rng.choice(("rejected", "returned", "submitted"))
            answered = rng.random()
            garbage = b(0.9) if answered > 0.05 else ""
            sewage = b(0.5) if answered > 0.1 else ""
            rows.append(f"{uuid.UUID(int=rng.getrandbits(128))},{code},{when.isoformat()},131.0,45.3,"
                        f"{garbage},{sewage},{b(0.85)},{households},{households - rng.randint(0, 10)},{status}\n")
            if len(rows) == chunk_rows:
                yield HEADER + "".join(rows)
                rows = []
    if rows:
        yield HEADER + "".join(rows)


def make_database(engine, server):
    if engine == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="bench-rates-")) / "bench.db"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    name = f"bench_rates_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop():
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def drop_database(server, url):
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def loaded(app):
    """What `load` returned, read back from a database it loaded earlier (--database-url)."""
    from app.models import Inspection, User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "bench-bureau"))
        villages = db.session.scalar(select(db.func.count()).select_from(Division).where(Division.level == "village"))
        total = db.session.scalar(select(db.func.count()).select_from(Inspection))
        token, _ = issue_token(user)
        db.session.commit()
        return user.scope_code, villages, total, {"Authorization": f"Bearer {token}"}


def load(app, fanout, months, rng):
    from app.services.demo import load_jixi_divisions

    with app.app_context():
        t0 = time.perf_counter()
        if fanout is None:
            load_jixi_divisions()
            top = "2303"
        else:
            import_divisions(synthetic_tree_csv(fanout))
            top = "91"
        db.session.commit()
        print(f"divisions loaded in {time.perf_counter() - t0:.1f} s")
        villages = db.session.scalars(select(Division.code).where(Division.level == "village")
                                      .order_by(Division.code)).all()
        total, t0 = 0, time.perf_counter()
        for chunk in history_chunks(villages, months, rng, 0.9 if fanout is None else 1.0):
            result = import_inspections(chunk, file_name="bench.csv")
            db.session.commit()
            total += result.created
        seconds = time.perf_counter() - t0
        print(f"inspections imported: {total} in {seconds:.1f} s ({total / seconds:,.0f} rows/s)")
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        user = create_user("bench-bureau", "bureau", top, "bench-password")
        token, _ = issue_token(user)
        db.session.commit()
        return top, len(villages), total, {"Authorization": f"Bearer {token}"}


def p50(samples):
    return statistics.median(samples) * 1000


def time_endpoint(client, headers, params, repeats):
    samples, answer = [], None
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        response = client.get("/api/v1/rates", query_string=params, headers=headers)
        samples.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        answer = response.json
    return p50(samples[1:]), answer  # the first request warms caches


# The fastest hand-written PostgreSQL found for the same numbers: DISTINCT ON per metric over the
# approved rows of the window, each an index-ordered pass, joined to the counted villages.
HAND_SQL = """
WITH pop AS (
  SELECT code, households FROM divisions
  WHERE level = 'village' AND active AND kind = 'rural' AND code >= :lo AND code < :hi
), w AS (
  SELECT village_code, id, observed_at, garbage_stable, sewage_treated, village_clean FROM inspections
  WHERE status = 'approved' AND observed_at >= :ws AND observed_at < :we AND village_code >= :lo AND village_code < :hi
), g AS (
  SELECT DISTINCT ON (village_code) village_code, garbage_stable AS v FROM w
  WHERE garbage_stable IS NOT NULL ORDER BY village_code, observed_at DESC, id DESC
), s AS (
  SELECT DISTINCT ON (village_code) village_code, sewage_treated AS v FROM w
  WHERE sewage_treated IS NOT NULL ORDER BY village_code, observed_at DESC, id DESC
), c AS (
  SELECT DISTINCT ON (village_code) village_code, village_clean AS v FROM w
  WHERE village_clean IS NOT NULL ORDER BY village_code, observed_at DESC, id DESC
)
SELECT substr(pop.code, 1, :n) AS grp, count(*) AS population,
       count(*) FILTER (WHERE g.v) AS garbage_met, count(*) FILTER (WHERE NOT g.v) AS garbage_not_met,
       count(*) FILTER (WHERE s.v) AS sewage_met, count(*) FILTER (WHERE NOT s.v) AS sewage_not_met,
       count(*) FILTER (WHERE c.v) AS clean_met, count(*) FILTER (WHERE NOT c.v) AS clean_not_met
FROM pop LEFT JOIN g ON g.village_code = pop.code LEFT JOIN s ON s.village_code = pop.code
         LEFT JOIN c ON c.village_code = pop.code
GROUP BY 1 ORDER BY 1
"""


def time_hand_sql(app, top, level_length, repeats):
    from app.services.rates import parse_period

    period = parse_period(PERIOD)
    params = {"lo": top, "hi": top[:-1] + chr(ord(top[-1]) + 1), "n": level_length,
              "ws": period.end - timedelta(days=365), "we": period.end}
    samples = []
    with app.app_context():
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            rows = db.session.execute(text(HAND_SQL), params).mappings().all()
            samples.append(time.perf_counter() - t0)
        db.session.rollback()
    return p50(samples[1:]), rows


def time_from_scratch(app, top, level, repeats):
    """The roll-up statement over the inspections themselves, as periods with later approvals use it."""
    from app.services import rates

    samples = []
    with app.app_context():
        query = rates.make_query(db.session.get(Division, top), PERIOD, level)
        assert rates.nothing_approved_after(query)  # so the endpoint above read the maintained table
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            rates.rollup_rows(query, maintained=False)
            samples.append(time.perf_counter() - t0)
        db.session.rollback()
    return p50(samples[1:])


def build_snapshots(app):
    from app.services.village_status import build_snapshot_month, missing_snapshot_months

    with app.app_context():
        t0 = time.perf_counter()
        months = missing_snapshot_months()
        for month in months:
            build_snapshot_month(month)
            db.session.commit()
        seconds = time.perf_counter() - t0
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE village_snapshots"))
    print(f"monthly snapshots and their township aggregate: {len(months)} months built in {seconds:.1f} s "
          f"({seconds / max(1, len(months)):.2f} s a month)")
    from app.services.village_status import build_township_month

    with app.app_context():
        last = max(months) if months else None
        if last:
            t0 = time.perf_counter()
            build_township_month(last)
            aggregate = time.perf_counter() - t0
            db.session.rollback()
            print(f"  of which the township aggregate of one month: {aggregate:.2f} s")
            if db.engine.dialect.name == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("ANALYZE township_snapshots"))
    return seconds / max(1, len(months))


def time_late_approval(app, top, repeats):
    """One late approval's maintenance: the village's latest answer and its snapshots rewritten from a
    month 11 months back (`refresh_village_latest`), with the township aggregate and without it
    (its ledger emptied in the same transaction); each rolled back."""
    from app.models.township_status import TownshipSnapshotMonth
    from app.services.village_status import refresh_village_latest

    with app.app_context():
        village = db.session.scalar(select(Division.code).where(Division.level == "village",
                                                                Division.code >= top).order_by(Division.code).limit(1))
        since = LAST_MONTH - timedelta(days=330)
        figures = {}
        for label in ("with the township aggregate", "without"):
            samples = []
            for _ in range(repeats + 1):
                if label == "without":
                    db.session.execute(db.delete(TownshipSnapshotMonth))
                t0 = time.perf_counter()
                refresh_village_latest([village], since=since)
                db.session.flush()
                samples.append(time.perf_counter() - t0)
                db.session.rollback()
            figures[label] = p50(samples[1:])
    print(f"one late approval's maintenance (12 months of one village's snapshots): "
          f"{figures['with the township aggregate']:.1f} ms with the township aggregate, "
          f"{figures['without']:.1f} ms without")
    return figures


def time_statement(app, run, repeats):
    samples = []
    with app.app_context():
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            run()
            samples.append(time.perf_counter() - t0)
        db.session.rollback()
    return p50(samples[1:])


def time_periods(app, client, headers, top, level, repeats, size=""):
    """The current period, a past quarter with later approvals and a 12-month trend: the endpoint
    (reading the snapshots) beside the from-scratch statement."""
    from app.services import rates

    figures = {}
    for label, period in (("current period", PERIOD), ("past quarter, later approvals exist", PAST_PERIOD)):
        median, answer = time_endpoint(client, headers, {"division": top, "period": period, "level": level}, repeats)
        source = answer["definition"]["source"]["read_from"]
        with app.app_context():
            query = rates.make_query(db.session.get(Division, top), period, level)
            assert rates.compute_rates(query, source="inspections")["rows"] == answer["rows"]
            db.session.rollback()
        scratch = time_statement(app, lambda: rates.rollup_rows(
            rates.make_query(db.session.get(Division, top), period, level), source="inspections"), repeats)
        villages_ms = time_statement(app, lambda: rates.rollup_rows(
            rates.make_query(db.session.get(Division, top), period, level), source="snapshot"), repeats)
        print(f"{label} {period} by {level}: endpoint p50 {median:.1f} ms (read from {source}); "
              f"the statement over the village snapshots {villages_ms:.1f} ms; from-scratch statement {scratch:.1f} ms")
        figures[f"{label} villages"] = villages_ms
        if period == PERIOD:
            latest = time_statement(app, lambda: rates.rollup_rows(
                rates.make_query(db.session.get(Division, top), period, level), source="latest"), repeats)
            aggregate = time_statement(app, lambda: rates.rollup_rows(
                rates.make_query(db.session.get(Division, top), period, level), source="township_snapshot"), repeats)
            print(f"  statements alone: from village_latest {latest:.1f} ms, from the month's township aggregate "
                  f"{aggregate:.1f} ms")
        figures[label] = median
    params = {"division": top, "metric": "village_clean", "from": TREND[0], "to": TREND[1], "granularity": "month"}
    samples, answer = [], None
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        response = client.get("/api/v1/rates/trend", query_string=params, headers=headers)
        samples.append(time.perf_counter() - t0)
        answer = response.json
    trend_ms = p50(samples[1:])

    def loop():
        division = db.session.get(Division, top)
        return [rates.compute_rates(rates.make_query(division, p.key, division.level), source="inspections")
                for p in rates.period_series(TREND[0], TREND[1], "month")]

    def over_villages():
        division = db.session.get(Division, top)
        periods = rates.period_series(TREND[0], TREND[1], "month")
        statement = rates.trend_statement(len(periods))
        lo, hi = rates.subtree_bounds(top)
        values = {"lo": lo, "hi": hi, "true": True, "kinds": list(app.config["RATES_COUNTED_KINDS"])}
        for k, period in enumerate(periods):
            values[f"month_{k}"] = rates.last_month(period)
            values[f"window_start_{k}"] = period.end - timedelta(days=app.config["RATES_VALIDITY_DAYS"])
        assert division is not None
        return rates.execute_unprepared(statement, statement.values(values))

    with app.app_context():
        expected = [r["division"]["metrics"]["village_clean"]["met"] for r in loop()]
        assert [int(r["village_clean_met"] or 0) for r in over_villages()] == expected
        db.session.rollback()
    assert [p["met"] for p in answer["points"]] == expected
    villages_trend_ms = time_statement(app, over_villages, repeats)
    loop_ms = time_statement(app, loop, max(1, repeats // 5))
    print(f"12-month trend {TREND[0]}..{TREND[1]} ({len(answer['points'])} points): endpoint p50 {trend_ms:.1f} ms "
          f"(one statement over the township aggregate); the statement over the village snapshots "
          f"{villages_trend_ms:.1f} ms; the per-period loop from scratch {loop_ms:.1f} ms")
    ratio = figures["past quarter, later approvals exist"] / figures["current period"]
    print(f"past period / current period = {ratio:.2f} (goal <= 1.5)")
    figure(f"rates {size}, current / past quarter by {level} (p50)",
           f"{figures['current period']:.1f} / {figures['past quarter, later approvals exist']:.1f} ms "
           f"(ratio {ratio:.2f}, goal <= 1.5; past quarter over the village snapshots "
           f"{figures['past quarter, later approvals exist villages']:.1f} ms)")
    figure(f"rates {size}, 12-month trend (p50)",
           f"{trend_ms:.1f} ms (over the village snapshots {villages_trend_ms:.1f} ms, "
           f"per-period loop from scratch {loop_ms:.1f} ms)")


def check_same(answer, hand_rows):
    by_code = {r["grp"]: r for r in hand_rows}
    for row in answer["rows"]:
        hand = by_code.get(row["code"])
        if hand is None:
            assert row["population"] == 0
            continue
        assert row["population"] == hand["population"]
        for metric, key in (("garbage_stable", "garbage"), ("sewage_treated", "sewage"), ("village_clean", "clean")):
            assert row["metrics"][metric]["met"] == hand[f"{key}_met"], (row["code"], metric)
            assert row["metrics"][metric]["not_met"] == hand[f"{key}_not_met"], (row["code"], metric)


def time_export(client, headers, fmt):
    t0 = time.perf_counter()
    response = client.get("/api/v1/inspections/export", query_string={"format": fmt}, headers=headers)
    size = sum(len(chunk) for chunk in response.response)
    return time.perf_counter() - t0, size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                   "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--exports", action="store_true", help="also time CSV and XLSX exports of every inspection")
    parser.add_argument("--load-only", action="store_true",
                        help="load the database, keep it and print its URL (for --database-url later)")
    parser.add_argument("--database-url", help="a database loaded by an earlier --load-only run of the same size: "
                                               "upgraded, measured, then dropped (kept when the run fails)")
    args = parser.parse_args(argv)
    engine, fanout, months, repeats = SIZES[args.size]
    print(f"rates benchmark, size {args.size} on {engine}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    measured = False
    if args.database_url:
        url, drop = args.database_url, lambda: drop_database(args.postgres_url, args.database_url)
    else:
        url, drop = make_database(engine, args.postgres_url)
    try:
        # a national month's build and the from-scratch statements outlast the app's 30 s statement timeout
        app = create_app("testing", DATABASE_URL=url, PHOTO_ROOT=tempfile.mkdtemp(prefix="bench-photos-"),
                         DATABASE_STATEMENT_TIMEOUT_MS=3_600_000)
        with app.app_context():
            flask_migrate.upgrade()
        if args.database_url:
            top, villages, inspections, headers = loaded(app)
        else:
            top, villages, inspections, headers = load(app, fanout, months, random.Random(2026))
        if args.load_only:
            print(f"loaded and kept: --database-url {url}")
            drop = lambda: None  # noqa: E731
            return
        with app.app_context():
            top_level = db.session.get(Division, top).level
        from app.models import CODE_LENGTH, LEVELS

        level = LEVELS[LEVELS.index(top_level) + 1]
        client = app.test_client()
        print(f"{villages} village-level units, {inspections} inspections")
        build_snapshots(app)
        time_periods(app, client, headers, top, level, repeats, size=f"{args.size} on {engine}")
        time_late_approval(app, top, min(repeats, 10))
        for lvl in (level, "township") if args.size != "national" else (level,):
            median, answer = time_endpoint(client, headers, {"division": top, "period": PERIOD, "level": lvl}, repeats)
            print(f"GET /api/v1/rates?division={top}&period={PERIOD}&level={lvl}: p50 {median:.1f} ms "
                  f"({len(answer['rows'])} rows, population {answer['division']['population']}, "
                  f"read from {answer['definition']['source']['read_from']})")
            if lvl == level:
                endpoint_ms, top_answer = median, answer
        scratch_ms = time_from_scratch(app, top, level, repeats)
        print(f"  the same roll-up from the inspections (no maintained table; what periods without a snapshot "
              f"and with later approvals use): p50 {scratch_ms:.1f} ms")
        figure(f"rates {args.size} on {engine}, GET /rates by {level} (p50)",
               f"{endpoint_ms:.1f} ms (from the inspections {scratch_ms:.1f} ms)")
        if engine == "postgresql":
            hand_ms, hand_rows = time_hand_sql(app, top, CODE_LENGTH[level], repeats)
            check_same(top_answer, hand_rows)
            print(f"hand-written SQL (DISTINCT ON per metric), same numbers: p50 {hand_ms:.1f} ms; "
                  f"endpoint / hand-written = {endpoint_ms / hand_ms:.2f}; "
                  f"from the inspections / hand-written = {scratch_ms / hand_ms:.2f}")
        if args.exports:
            for fmt in ("csv", "xlsx", "geojson"):
                seconds, size = time_export(client, headers, fmt)
                print(f"GET /api/v1/inspections/export?format={fmt}: {inspections} inspections, "
                      f"{size / 1e6:.1f} MB in {seconds:.1f} s")
        with app.app_context():
            db.engine.dispose()
        measured = True
    finally:
        if measured or not args.database_url:
            drop()


if __name__ == "__main__":
    main()
