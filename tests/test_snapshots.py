"""Monthly snapshots (village_snapshots) are always exact: after a late approval, a reopening, a
bulk approval, a historical import and a month boundary, every month's, quarter's and year's rates
read from the snapshots equal the from-scratch statement over the inspections and the plain-Python
reference; the snapshot table equals one rebuilt from nothing; `flask rates verify` says so, and
says when it is not; a trend is one statement over the snapshots with the same points."""
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, text, update

from app.extensions import db
from app.models import Division, Inspection, Target
from app.models.village_status import SnapshotMonth, VillageSnapshot
from app.services import rates
from app.services.imports import import_inspections
from app.services.village_status import build_snapshot_month, drop_snapshots, missing_snapshot_months
from tests.factories import create_inspection
from tests.rates_reference import reference_rates

CN = timezone(timedelta(hours=8))
HEADER = ("client_uuid,village_code,observed_at,lon,lat,garbage_stable,sewage_treated,village_clean,"
          "households,households_with_tap,status\n")
TOWNSHIP, OTHER_TOWNSHIP = "230382100", "230382101"
FIRST, LAST = (2025, 5), (2026, 10)  # the imported history, and the last month built at first
PERIODS = ([f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)]
           + [f"{y}-Q{q}" for y in (2025, 2026) for q in range(1, 5)] + ["2025", "2026"])


def months_between(first, last):
    (y, m), out = first, []
    while (y, m) <= last:
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def villages(app):
    with app.app_context():
        return db.session.scalars(select(Division.code).where(
            Division.level == "village", Division.code.startswith("230382")).order_by(Division.code)).all()


def in_township(app):
    """The villages of 密山镇, the demo reviewer's scope."""
    return [c for c in villages(app) if c.startswith(TOWNSHIP)]


def csv_row(rng, village, when, status="approved"):
    b = lambda p: rng.choice(["true", "false", ""]) if rng.random() < 0.2 else ("true" if rng.random() < p else "false")  # noqa: E731
    households = 100 + rng.randint(0, 50)
    with_tap = "" if rng.random() < 0.3 else str(households - rng.randint(0, 5))
    return (f"{uuid.UUID(int=rng.getrandbits(128))},{village},{when.isoformat()},,,{b(0.8)},{b(0.5)},{b(0.7)},"
            f"{households},{with_tap},{status}\n")


def import_csv(app, text_rows):
    with app.app_context():
        import_inspections(HEADER + "".join(text_rows))
        db.session.commit()


def build_through(app, through):
    with app.app_context():
        months = missing_snapshot_months(through)
        for month in months:
            build_snapshot_month(month)
            db.session.commit()
    return months


@pytest.fixture
def history(database):
    """Monthly history for the villages of two townships of 密山市 (and a few others) from May 2025
    to October 2026, a mix of statuses and partial answers; snapshots built through October 2026."""
    app = database
    rng = random.Random(15)
    codes = [c for c in villages(app) if c.startswith((TOWNSHIP, OTHER_TOWNSHIP))] + villages(app)[-6:]
    rows = []
    for y, m in months_between(FIRST, LAST):
        for code in codes:
            if rng.random() < 0.2:
                continue
            when = datetime(y, m, rng.randint(1, 28), rng.randint(7, 18), rng.randint(0, 59), tzinfo=CN)
            rows.append(csv_row(rng, code, when, rng.choice(["approved"] * 6 + ["rejected", "submitted", "returned"])))
    # the last half hour of September and the first minutes of October, China time
    rows.append(csv_row(rng, codes[0], datetime(2026, 9, 30, 23, 30, tzinfo=CN)))
    rows.append(csv_row(rng, codes[0], datetime(2026, 10, 1, 0, 10, tzinfo=CN)))
    import_csv(app, rows)
    built = build_through(app, 202610)
    assert built[0] == 202505 and built[-1] == 202610
    return app


def plain_data(app):
    with app.app_context():
        divisions = [dict(r) for r in db.session.execute(select(
            Division.code, Division.name, Division.level, Division.kind, Division.households, Division.active)).mappings()]
        inspections = [dict(r) for r in db.session.execute(select(
            Inspection.id, Inspection.village_code, Inspection.status, Inspection.observed_at,
            Inspection.garbage_stable, Inspection.sewage_treated, Inspection.village_clean, Inspection.tap_water,
            Inspection.tap_households, Inspection.tap_households_with_tap).where(
            Inspection.status == "approved")).mappings()]
        targets = [dict(r) for r in db.session.execute(select(
            Target.metric, Target.year, Target.division_code, Target.value)).mappings()]
    return divisions, inspections, targets


def comparable(answer):
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("target_source", "as_of", "definition")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return strip(answer)


def snapshot_table(app):
    with app.app_context():
        rows = db.session.scalars(select(VillageSnapshot).order_by(VillageSnapshot.month, VillageSnapshot.village_code))
        return [{c.name: getattr(r, c.key) for c in VillageSnapshot.__table__.columns} for r in rows]


def assert_every_period_exact(app):
    """Every period: from the snapshots == from the inspections (2303 by county, 230382 by village)
    == the reference (two townships); and the table equals a rebuild from nothing."""
    data = plain_data(app)
    read_from_snapshots = 0
    with app.app_context():
        built = {m for m in db.session.scalars(select(SnapshotMonth.month))}
        for period in PERIODS:
            for code, level, reference in (("2303", "county", False), ("230382", "village", False),
                                           (TOWNSHIP, "village", True), (OTHER_TOWNSHIP, "township", True)):
                query = rates.make_query(db.session.get(Division, code), period, level)
                scratch = comparable(rates.compute_rates(query, source="inspections"))
                if reference:
                    assert scratch == reference_rates(*data, code, period, level), (code, period, level)
                if rates.last_month(query.period) in built:
                    answer = rates.compute_rates(query)
                    assert answer["definition"]["source"]["read_from"] == "snapshot"
                    assert comparable(answer) == scratch, (code, period, level)
                    read_from_snapshots += 1
        db.session.rollback()
    assert read_from_snapshots >= 4 * 20
    kept = snapshot_table(app)
    with app.app_context():  # the same months again, from nothing
        drop_snapshots()
        db.session.commit()
        for month in sorted(built):
            build_snapshot_month(month)
            db.session.commit()
    assert snapshot_table(app) == kept


def test_snapshots_built_month_by_month_equal_every_period_from_scratch(history):
    assert_every_period_exact(history)


def test_a_past_period_reads_the_snapshot_of_its_last_month(history, client, bureau):
    answer = client.get("/api/v1/rates", query_string={"division": "230382", "period": "2026-Q2"},
                        headers=bureau.headers).json
    assert answer["definition"]["source"] == {"read_from": "snapshot", "month": "2026-06",
                                              "note": rates.SOURCE_NOTES["snapshot"]}
    assert "as_of" in answer


def test_a_month_not_built_is_read_from_the_other_sources(history, client, bureau):
    answer = client.get("/api/v1/rates", query_string={"division": "230382", "period": "2026-12"},
                        headers=bureau.headers).json
    assert answer["definition"]["source"]["read_from"] == "latest"
    answer = client.get("/api/v1/rates", query_string={"division": "230382", "period": "2025-03"},
                        headers=bureau.headers).json
    assert answer["definition"]["source"]["read_from"] == "inspections"


def submitted(app, village, when, **metrics):
    return create_inspection(app, village=village, status="submitted", observed_at=when.astimezone(timezone.utc),
                             **metrics)


def test_a_late_approval_rewrites_the_snapshots_from_its_month_on(history, client, reviewer):
    village = in_township(history)[1]
    late = submitted(history, village, datetime(2026, 3, 31, 23, 50, tzinfo=CN), garbage_stable=False,
                     sewage_treated=True, tap_water=True, tap_households=80, tap_households_with_tap=80)
    r = client.post(f"/api/v1/inspections/{late.id}/review", json={"decision": "approve", "version": 1},
                    headers=reviewer.headers)
    assert r.status_code == 200, r.json
    assert_every_period_exact(history)


def test_a_reopening_rewrites_the_snapshots_from_its_month_on(history, client, bureau):
    with history.app_context():
        target = db.session.scalars(select(Inspection.id).where(
            Inspection.status == "approved", Inspection.village_code.startswith(TOWNSHIP),
            Inspection.observed_at >= datetime(2026, 1, 1, tzinfo=CN)).order_by(Inspection.observed_at)).first()
    r = client.post(f"/api/v1/inspections/{target}/reopen", json={"reason": "photo of another village"},
                    headers=bureau.headers)
    assert r.status_code == 200, r.json
    assert_every_period_exact(history)


def test_a_bulk_approval_rewrites_the_snapshots_of_each_village(history, client, reviewer):
    codes = in_township(history)
    when = [datetime(2025, 12, 10 + n, 9, tzinfo=CN) if n % 2 else datetime(2026, 8, 10 + n, 9, tzinfo=CN)
            for n in range(6)]
    made = [submitted(history, codes[n], when[n], village_clean=n % 3 == 0, garbage_stable=True) for n in range(6)]
    r = client.post("/api/v1/reviews/bulk", json={"ids": [m.id for m in made], "decision": "approve"},
                    headers=reviewer.headers)
    assert r.status_code == 200 and r.json["succeeded"] == 6, r.json
    assert_every_period_exact(history)


def test_an_import_rewrites_the_snapshots_even_before_the_first_built_month(history):
    rng = random.Random(7)
    codes = villages(history)
    rows = [csv_row(rng, codes[n], datetime(y, m, 12, 10, tzinfo=CN))
            for n, (y, m) in enumerate([(2025, 3), (2025, 5), (2026, 2), (2026, 10), (2026, 10)])]
    import_csv(history, rows)
    assert_every_period_exact(history)
    assert build_through(history, 202610) == [202503, 202504]  # the months the import brought
    assert_every_period_exact(history)


def test_a_month_boundary_builds_the_new_month_from_the_last_one(history, client, reviewer):
    """November was not built when approvals observed in November came; building it then (the
    start of a month) gives the same numbers as the from-scratch statement."""
    village = in_township(history)[2]
    for day in (3, 5):
        made = submitted(history, village, datetime(2026, 11, day, 10, tzinfo=CN), village_clean=day == 5,
                         garbage_stable=False)
        r = client.post(f"/api/v1/inspections/{made.id}/review", json={"decision": "approve", "version": 1},
                        headers=reviewer.headers)
        assert r.status_code == 200
    assert_every_period_exact(history)
    result = history.test_cli_runner().invoke(args=["rates", "build-snapshots", "--through", "2026-11"])
    assert result.exit_code == 0, result.output
    assert "built 2026-11" in result.output
    with history.app_context():
        assert rates.built_months([202611]) == {202611}
    assert_every_period_exact(history)
    again = history.test_cli_runner().invoke(args=["rates", "build-snapshots", "--through", "2026-11"])
    assert "0 month(s) built" in again.output


def test_verify_reports_equal_and_exits_zero(history):
    result = history.test_cli_runner().invoke(args=["rates", "verify", "--period", "2026-Q2", "--period", "2026-09",
                                                    "--division", "2303"])
    assert result.exit_code == 0, result.output
    assert "2303 2026-Q2 by village: equal (from the inspections vs snapshot)" in result.output


def test_verify_reports_a_difference_and_exits_non_zero(history):
    with history.app_context():
        row = db.session.scalars(select(VillageSnapshot).where(
            VillageSnapshot.month == 202606, VillageSnapshot.garbage_stable.is_not(None),
            VillageSnapshot.garbage_stable_at >= datetime(2026, 1, 1, tzinfo=CN))).first()
        code, value = row.village_code, row.garbage_stable
        db.session.execute(update(VillageSnapshot).where(VillageSnapshot.month == 202606, VillageSnapshot.village_code == code)
                           .values(garbage_stable=not value))
        db.session.commit()
    result = history.test_cli_runner().invoke(args=["rates", "verify", "--period", "2026-06", "--division", "2303"])
    assert result.exit_code == 1, result.output
    assert f"DIFFERENT 2303 2026-06 snapshot rows[{code}].metrics.garbage_stable.status" in result.output


def count_statements(app, run):
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            result = run()
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        db.session.rollback()
    return result, seen


@pytest.mark.parametrize("granularity,start,end", [("month", "2025-09", "2026-10"), ("quarter", "2025-Q3", "2026-Q3")])
def test_a_trend_is_one_statement_with_the_numbers_of_the_per_period_loop(history, granularity, start, end):
    with history.app_context():
        division = db.session.get(Division, "230382")
    for metric in rates.METRICS:
        trend, statements = count_statements(history, lambda: rates.compute_trend(
            db.session.get(Division, "230382"), metric, start, end, granularity))
        statements = [s for s in statements if not s.startswith("BEGIN")]
        assert len([s for s in statements if "village_snapshots" in s]) == 1
        assert not [s for s in statements if "inspections" in s]
        # the division, the built months, the trend, each year's targets: not one per period
        assert len(statements) == 3 + len({p["period"][:4] for p in trend["points"]})
        with history.app_context():
            for point in trend["points"]:
                query = rates.make_query(division, point["period"], division.level)
                loop = rates.compute_rates(query, source="inspections")["division"]
                assert {k: point[k] for k in loop["metrics"][metric]} == loop["metrics"][metric], point["period"]
                assert point["population"] == loop["population"]
    assert len(trend["points"]) == (14 if granularity == "month" else 5)


def test_a_trend_reaching_past_the_built_months_computes_those_points_one_by_one(history, client, bureau):
    response = client.get("/api/v1/rates/trend", headers=bureau.headers, query_string={
        "division": "230382", "metric": "village_clean", "from": "2026-09", "to": "2027-01", "granularity": "month"})
    assert response.status_code == 200
    points = response.json["points"]
    data = plain_data(history)
    for point in points:
        ref = reference_rates(*data, "230382", point["period"], "county")["division"]
        assert {k: point[k] for k in ref["metrics"]["village_clean"]} == ref["metrics"]["village_clean"]


def test_two_approvals_in_one_village_in_a_row_leave_the_snapshots_exact(history, client, reviewer):
    village = in_township(history)[3]
    made = [submitted(history, village, datetime(2026, 6, d, 9, tzinfo=CN), sewage_treated=d == 2) for d in (1, 2)]
    for m in reversed(made):
        assert client.post(f"/api/v1/inspections/{m.id}/review", json={"decision": "approve", "version": 1},
                           headers=reviewer.headers).status_code == 200
    with history.app_context():
        row = db.session.get(VillageSnapshot, (village, 202606))
        assert (row.sewage_treated, row.sewage_treated_id) == (True, made[1].id)
        later = db.session.get(VillageSnapshot, (village, 202610))
        assert later.sewage_treated_id in (made[1].id,) or later.sewage_treated_at > datetime(2026, 6, 2, tzinfo=CN)
    assert_every_period_exact(history)


def test_the_snapshots_read_only_one_month_of_rows(history, engine_name):
    """The period's read touches the month's rows through (month, village_code), not the inspections."""
    if engine_name != "postgresql":
        pytest.skip("EXPLAIN shape is checked on PostgreSQL")
    with history.app_context():
        db.session.execute(text("ANALYZE village_snapshots"))
        query = rates.make_query(db.session.get(Division, "2303"), "2026-Q2", "county")
        statement = rates.SNAPSHOT_ROLLUP
        explain = text("EXPLAIN " + statement.sql).bindparams(*(rates.declared_bind(n) for n in statement.params))
        plan = db.session.execute(explain, statement.values({**rates.query_values(query), "month": 202606})).scalars().all()
        db.session.rollback()
    assert "inspections" not in "\n".join(plan)
