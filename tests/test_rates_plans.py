"""PostgreSQL plans of the rates statements: they are never prepared by the driver (so never run
with a generic plan, blind to the subtree and the window), and the "approved after the period?"
probe reads the partial index in order instead of scanning the inspections."""
import json
import random
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import Division
from app.services import rates
from app.services.imports import import_inspections

CN = timezone(timedelta(hours=8))
HEADER = ("client_uuid,village_code,observed_at,lon,lat,garbage_stable,sewage_treated,village_clean,"
          "households,households_with_tap,status\n")


@pytest.fixture
def postgres(database, engine_name):
    if engine_name != "postgresql":
        pytest.skip("plans and prepared statements are PostgreSQL's")
    return database


@pytest.fixture
def history(postgres):
    """A year of monthly inspections in 密山市 (approved, and recent ones still waiting), analysed."""
    rng = random.Random(5)
    with postgres.app_context():
        codes = db.session.execute(text("SELECT code FROM divisions WHERE level = 'village' AND code LIKE '230382%' "
                                        "ORDER BY code")).scalars().all()
        rows = []
        for month in range(1, 12):
            for code in codes:
                for status in ("approved", "submitted" if month >= 10 else "rejected"):
                    when = datetime(2026, month, rng.randint(1, 20), 10, tzinfo=CN)
                    rows.append(f"{uuid.UUID(int=rng.getrandbits(128))},{code},{when.isoformat()},,,"
                                f"true,{rng.choice(['true', 'false'])},true,120,119,{status}\n")
        import_inspections(HEADER + "".join(rows))
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return postgres


def rollup_query(code="230382", period="2026-Q3", level="township"):
    return rates.make_query(db.session.get(Division, code), period, level)


def prepared_statements():
    return db.session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()


def test_ten_rates_requests_leave_no_rates_statement_prepared(history):
    with history.app_context():
        for _ in range(10):
            for source in ("inspections", "latest"):
                rates.compute_rates(rollup_query(), source=source)
            rates.compute_rates(rollup_query(level="village"))
        reads = [s for s in prepared_statements() if ("ranked AS" in s or "latest AS" in s) and "INSERT" not in s]
        assert not reads
        # the app's other statements keep the driver's default (prepared after five executions)
        assert db.session.connection().connection.dbapi_connection.prepare_threshold == 5
        db.session.rollback()


def test_the_driver_would_have_prepared_the_rollup_by_its_tenth_execution(history):
    """The check above can fail: run plainly, the same statement is prepared by then."""
    with history.app_context():
        statement = rates.ROLLUP
        for _ in range(10):
            db.session.execute(statement.clause(), statement.values(rates.query_values(rollup_query()))).all()
        assert [s for s in prepared_statements() if "ranked AS" in s]
        db.session.rollback()


def plan_of(statement, values):
    explain = rates.Statement("explain", "EXPLAIN (ANALYZE, FORMAT JSON)" + statement.sql, statement.params)
    (row,) = rates.execute_unprepared(explain, explain.values(values))
    plan = row["QUERY PLAN"]
    return plan if isinstance(plan, list) else json.loads(plan)


def nodes(plan):
    stack = [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("Plans", []))


def test_the_tenth_execution_is_planned_for_its_values_like_the_first(history):
    with history.app_context():
        values = rates.query_values(rollup_query())
        plans = [plan_of(rates.ROLLUP, values) for _ in range(10)]
        first, tenth = plans[0], plans[-1]
        shape = lambda plan: [(n["Node Type"], n.get("Index Name"), n["Actual Loops"]) for n in nodes(plan)]  # noqa: E731
        assert shape(tenth) == shape(first)
        # a custom plan: the subtree's bounds are constants in the index condition, not $n parameters
        conditions = " ".join(str(n.get("Index Cond", "")) + str(n.get("Filter", "")) for n in nodes(tenth))
        assert "230382" in conditions and "$" not in conditions
        # the window aggregation runs once, not once per village
        assert [n["Actual Loops"] for n in nodes(tenth) if n["Node Type"] == "WindowAgg"] == [1]
        db.session.rollback()


def test_a_generic_plan_would_show_parameters(history):
    """What the assertion above tells apart: the same statement prepared and run with a generic plan."""
    with history.app_context():
        values = rates.query_values(rollup_query())
        names = list(rates.ROLLUP.params)
        number = lambda m: f"(${names.index(m[1]) + 1})" if m[1] == "kinds" else f"${names.index(m[1]) + 1}"  # noqa: E731
        sql = re.sub(r"(?<![:\w]):(\w+)\b", number, rates.ROLLUP.sql)
        conn = db.session.connection()
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql(f"PREPARE generic_rollup AS {sql}")
        def literal(value):
            if isinstance(value, datetime):
                return f"'{value.isoformat()}'::timestamptz"
            if isinstance(value, list):
                return literal(value[0])
            return str(value).lower() if isinstance(value, (bool, int)) else f"'{value}'"
        args = ", ".join(literal(values[name]) for name in names)
        plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) EXECUTE generic_rollup({args})").scalar()
        plan = plan if isinstance(plan, list) else json.loads(plan)
        conditions = " ".join(str(n.get("Index Cond", "")) + str(n.get("Filter", "")) for n in nodes(plan))
        assert "$" in conditions
        db.session.rollback()


def test_the_approved_after_probe_reads_the_partial_index_in_order(history):
    with history.app_context():
        for period in ("2026-Q3", "2026-11", "2026"):
            stmt = rates.approved_after_statement(rollup_query(period=period))
            compiled = stmt.compile(dialect=db.engine.dialect)
            plan = db.session.connection().exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled),
                                                           compiled.params).scalar()
            plan = plan if isinstance(plan, list) else json.loads(plan)
            found = list(nodes(plan))
            assert found[0]["Node Type"] == "Limit"
            scans = [n for n in found if n.get("Relation Name") == "inspections"]
            assert scans and all(n["Node Type"] in ("Index Scan", "Index Only Scan") for n in scans), scans
            assert {n["Index Name"] for n in scans} == {"ix_inspections_approved_observed"}
            assert not [n for n in found if n["Node Type"] == "Sort"]
        db.session.rollback()


def test_the_township_aggregate_reads_are_never_prepared_and_planned_for_their_values(history):
    """A past period and a trend above township level read the township aggregate (township_snapshots)
    alone: unprepared like every rates read, each plan with the subtree's bounds as constants."""
    from app.services.village_status import build_snapshot_month

    with history.app_context():
        for month in range(202601, 202612):
            build_snapshot_month(month)
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        county = db.session.get(Division, "230382")
        for _ in range(10):
            answer = rates.compute_rates(rollup_query(period="2026-Q2", level="county"))
            assert answer["definition"]["source"]["read_from"] == "township_snapshot"
            rates.compute_trend(county, "village_clean", "2026-01", "2026-09", "month")
        # neither the reads nor the aggregate's own INSERT (a DELETE by key range may be)
        assert not [s for s in prepared_statements() if "township_snapshots" in s and not s.startswith("DELETE")]
        values = {**rates.query_values(rollup_query(period="2026-Q2", level="county")), "month": 202606}
        plan = plan_of(rates.TOWNSHIP_ROLLUP, values)
        relations = {n.get("Relation Name") for n in nodes(plan)} - {None}
        assert relations == {"township_snapshots", "divisions"}
        conditions = " ".join(str(n.get("Index Cond", "")) + str(n.get("Filter", "")) for n in nodes(plan))
        assert "230382" in conditions and "$" not in conditions
        trend = rates.township_trend_statement(3)
        plan = plan_of(trend, {"lo": "230382", "hi": "230383", "month_0": 202604, "month_1": 202605, "month_2": 202606})
        assert {n.get("Relation Name") for n in nodes(plan)} - {None} == {"township_snapshots"}
        db.session.rollback()
