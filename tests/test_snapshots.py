"""Monthly snapshots (village_snapshots) and their per-township aggregate (township_snapshots) are
always exact: after a late approval, a reopening, a bulk approval, a historical import and a month
boundary, every month's, quarter's and year's rates read from the snapshots — through the township
aggregate above township level, the village snapshots below — equal the from-scratch statement over
the inspections and the plain-Python reference; both tables equal ones rebuilt from nothing; `flask
rates verify` says so, and says when it is not; a trend is one statement over the aggregate (or the
snapshots) with the same points; another validity or counted kinds, or a division changed, is never
read from an aggregate built before."""
import random
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, text, update

from app.extensions import db
from app.models import Division, Inspection, Target
from app.models.township_status import TownshipSnapshot, TownshipSnapshotMonth
from app.models.village_status import SnapshotMonth, VillageSnapshot
from app.services import rates
from app.services.imports import import_inspections
from app.services.village_status import (
    build_snapshot_month,
    build_township_months,
    drop_snapshots,
    missing_snapshot_months,
    stale_township_months,
)
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


def snapshot_table(app, model=VillageSnapshot):
    with app.app_context():
        rows = db.session.scalars(select(model).order_by(*model.__table__.primary_key.columns))
        return [{c.name: getattr(r, c.key) for c in model.__table__.columns} for r in rows]


# (division, level, compare with the plain-Python reference, the source it reads when built)
READS = (("2303", "county", False, "township_snapshot"), ("230382", "county", True, "township_snapshot"),
         ("230382", "village", False, "snapshot"), (TOWNSHIP, "village", True, "snapshot"),
         (OTHER_TOWNSHIP, "township", True, "snapshot"), ("230382", "township", False, "snapshot"))


def assert_every_period_exact(app):
    """Every period: from the township aggregate (above township level) and from the village
    snapshots == from the inspections == the reference (the county Mishan, two townships); each
    year's trend through the aggregate == the per-period answers; and both tables equal a rebuild
    from nothing."""
    data = plain_data(app)
    read_from = {"snapshot": 0, "township_snapshot": 0}
    with app.app_context():
        built = {m for m in db.session.scalars(select(SnapshotMonth.month))}
        assert set(db.session.scalars(select(TownshipSnapshotMonth.month))) == built
        for period in PERIODS:
            for code, level, reference, source in READS:
                query = rates.make_query(db.session.get(Division, code), period, level)
                scratch = comparable(rates.compute_rates(query, source="inspections"))
                if reference:
                    assert scratch == reference_rates(*data, code, period, level), (code, period, level)
                if rates.last_month(query.period) in built:
                    answer = rates.compute_rates(query)
                    assert answer["definition"]["source"]["read_from"] == source, (code, period, level)
                    assert comparable(answer) == scratch, (code, period, level, source)
                    read_from[source] += 1
                    if source == "township_snapshot":  # and the village snapshots say the same
                        assert comparable(rates.compute_rates(query, source="snapshot")) == scratch
        for start, end, granularity in (("2025-05", "2026-10", "month"), ("2025-Q2", "2026-Q3", "quarter")):
            trend = rates.compute_trend(db.session.get(Division, "230382"), "sewage_treated", start, end, granularity)
            for point in trend["points"]:
                whole = rates.compute_rates(rates.make_query(db.session.get(Division, "230382"), point["period"],
                                                             "county"), source="inspections")["division"]
                assert point["population"] == whole["population"]
                assert {k: point[k] for k in whole["metrics"]["sewage_treated"]} == whole["metrics"]["sewage_treated"]
        db.session.rollback()
    assert read_from["snapshot"] >= 4 * 18 and read_from["township_snapshot"] >= 2 * 18
    kept, kept_townships = snapshot_table(app), snapshot_table(app, TownshipSnapshot)
    assert kept_townships
    with app.app_context():  # the same months again, from nothing
        drop_snapshots()
        db.session.commit()
        for month in sorted(built):
            build_snapshot_month(month)
            db.session.commit()
    assert snapshot_table(app) == kept
    assert snapshot_table(app, TownshipSnapshot) == kept_townships


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
    assert ("2303 2026-Q2 by village: equal (from the inspections vs snapshot, township_snapshot (by county))"
            in result.output)
    result = history.test_cli_runner().invoke(args=["rates", "verify", "--period", "2026-Q2", "--division", "230382",
                                                    "--level", "county"])
    assert result.exit_code == 0, result.output
    assert "230382 2026-Q2 by county: equal (from the inspections vs snapshot, latest, township_snapshot)" \
        not in result.output  # something was approved after 2026-Q2
    assert "230382 2026-Q2 by county: equal (from the inspections vs snapshot, township_snapshot)" in result.output


def test_verify_reports_a_difference_in_the_township_aggregate(history):
    with history.app_context():
        db.session.execute(update(TownshipSnapshot).where(TownshipSnapshot.month == 202609,
                                                          TownshipSnapshot.township_code == TOWNSHIP)
                           .values(village_clean_met=TownshipSnapshot.village_clean_met + 1))
        db.session.commit()
    result = history.test_cli_runner().invoke(args=["rates", "verify", "--period", "2026-Q3", "--division", "2303"])
    assert result.exit_code == 1, result.output
    assert "DIFFERENT 2303 2026-Q3 township_snapshot rows[230382].metrics.village_clean.met" in result.output


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
        assert len([s for s in statements if "township_snapshots" in s]) == 1
        assert not [s for s in statements if "inspections" in s or "village_snapshots" in s]
        # the division, the built months, the aggregate's months, the divisions' last change, the
        # trend, each year's targets: not one per period
        assert len(statements) == 5 + len({p["period"][:4] for p in trend["points"]})
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


def source_and_answer(app, code, period, level):
    with app.app_context():
        query = rates.make_query(db.session.get(Division, code), period, level)
        answer = rates.compute_rates(query)
        scratch = rates.compute_rates(query, source="inspections")
        db.session.rollback()
    return answer["definition"]["source"]["read_from"], comparable(answer), comparable(scratch)


def test_another_validity_or_counted_kinds_reads_the_village_snapshots_until_rebuilt(history):
    assert source_and_answer(history, "2303", "2026-Q2", "county")[0] == "township_snapshot"
    for setting, value in (("RATES_VALIDITY_DAYS", 90), ("RATES_COUNTED_KINDS", ["rural", "farm"])):
        kept = history.config[setting]
        history.config[setting] = value
        try:
            source, answer, scratch = source_and_answer(history, "2303", "2026-Q2", "county")
            assert source == "snapshot" and answer == scratch
            with history.app_context():
                built = sorted(built_months_of(history))
                assert stale_township_months() == built and len(built) >= 18
                trend = rates.compute_trend(db.session.get(Division, "2303"), "garbage_stable", "2026-01", "2026-06",
                                            "month")
                for point in trend["points"]:
                    whole = rates.compute_rates(rates.make_query(db.session.get(Division, "2303"), point["period"]),
                                                source="inspections")["division"]
                    assert {k: point[k] for k in whole["metrics"]["garbage_stable"]} == whole["metrics"]["garbage_stable"]
            result = history.test_cli_runner().invoke(args=["rates", "build-snapshots"])
            assert result.exit_code == 0, result.output
            assert f"township aggregate: {len(built)} month(s) rebuilt" in result.output
            source, answer, scratch = source_and_answer(history, "2303", "2026-Q2", "county")
            assert source == "township_snapshot" and answer == scratch
        finally:
            history.config[setting] = kept
    with history.app_context():
        assert stale_township_months() == built
        assert build_township_months() == built
    assert_every_period_exact(history)


def built_months_of(app):
    return set(db.session.scalars(select(SnapshotMonth.month)))


@pytest.mark.parametrize("change", ["kind", "households", "inactive", "imported"])
def test_a_division_changed_since_the_build_reads_the_village_snapshots_until_rebuilt(history, fresh_divisions, change):
    village = in_township(history)[0]
    with history.app_context():
        division = db.session.get(Division, village)
        if change == "kind":
            division.kind = "urban" if division.kind == "rural" else "rural"
        elif change == "households":
            division.households = (division.households or 0) + 1000
        elif change == "inactive":  # as set_division_active does: one UPDATE statement, no ORM object
            db.session.execute(update(Division).where(Division.code == village).values(active=False)
                               .execution_options(synchronize_session=False))
        else:  # as import_divisions does: a bulk UPDATE by primary key
            db.session.execute(update(Division), [{"code": village, "households": 7}])
        db.session.commit()
    source, answer, scratch = source_and_answer(history, "2303", "2026-Q2", "county")
    assert source == "snapshot" and answer == scratch
    with history.app_context():
        assert build_township_months() == sorted(built_months_of(history))
        assert stale_township_months() == []
    assert source_and_answer(history, "2303", "2026-Q2", "county")[0] == "township_snapshot"
    assert_every_period_exact(history)


def test_the_township_aggregate_reads_only_one_month_of_township_rows(history, engine_name):
    if engine_name != "postgresql":
        pytest.skip("EXPLAIN shape is checked on PostgreSQL")
    with history.app_context():
        db.session.execute(text("ANALYZE township_snapshots"))
        query = rates.make_query(db.session.get(Division, "2303"), "2026-Q2", "county")
        statement = rates.TOWNSHIP_ROLLUP
        explain = text("EXPLAIN " + statement.sql).bindparams(*(rates.declared_bind(n) for n in statement.params))
        plan = "\n".join(db.session.execute(explain, statement.values({**rates.query_values(query), "month": 202606}))
                         .scalars().all())
        db.session.rollback()
    assert "township_snapshots" in plan
    assert "village_snapshots" not in plan and "inspections" not in plan


def test_two_approvals_in_one_township_at_once_leave_its_aggregate_exact(history, engine_name, reviewer):
    """PostgreSQL: two approvals in two villages of one township, both past their UPDATE before either
    rewrites anything; the township's rows are rewritten one after the other (its division row is
    locked with the villages'), so the second sums the first's village snapshots too."""
    if engine_name != "postgresql":
        pytest.skip("SQLite serialises writing transactions from their first statement")
    codes = in_township(history)
    made = [submitted(history, codes[n], datetime(2026, 5, 3 + n, 9, tzinfo=CN), village_clean=True,
                      garbage_stable=False, sewage_treated=True) for n in (4, 5)]
    at_update = threading.Barrier(2)

    def hold(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE INSPECTIONS"):
            at_update.wait(timeout=30)

    statuses = []

    def approve(inspection):
        r = history.test_client().post(f"/api/v1/inspections/{inspection.id}/review", headers=reviewer.headers,
                                       json={"decision": "approve", "version": 1})
        statuses.append(r.status_code)

    with history.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", hold)
    try:
        threads = [threading.Thread(target=approve, args=(m,)) for m in made]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        event.remove(engine, "before_cursor_execute", hold)
    assert statuses == [200, 200]
    assert_every_period_exact(history)
