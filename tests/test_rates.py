"""Rates (DESIGN §4): the API answer compared field by field with a plain-Python reference."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Division, Inspection, Target
from app.services.divisions import import_divisions
from app.errors import ValidationFailed
from app.services.rates import needed, parse_period
from tests.factories import create_inspection
from tests.rates_reference import reference_rates

CN = timezone(timedelta(hours=8))
Q3_END = datetime(2026, 10, 1, tzinfo=CN)
ALL_MET = dict(garbage_stable=True, sewage_treated=True, village_clean=True, tap_water=True,
               tap_households=100, tap_households_with_tap=100)


def villages_of(app, township, kind, n):
    with app.app_context():
        return db.session.scalars(select(Division.code).where(
            Division.level == "village", Division.parent_code == township, Division.kind == kind)
            .order_by(Division.code).limit(n)).all()


@pytest.fixture
def scenario(database):
    """A small history in 密山市 (230382) and 虎林市 (230381) touching every rule."""
    app = database
    a, b, c, d, e, h = villages_of(app, "230382100", "rural", 6)
    (u,) = villages_of(app, "230382100", "urban", 1)
    (f,) = villages_of(app, "230382101", "rural", 1)
    (farm,) = villages_of(app, "230382400", "farm", 1)
    (g,) = villages_of(app, "230381100", "rural", 1) or villages_of(app, "230381101", "rural", 1)

    def make(village, status, when, **metrics):
        return create_inspection(app, village=village, status=status, observed_at=when.astimezone(timezone.utc),
                                 **metrics).id

    ids = SimpleNamespace(villages=SimpleNamespace(a=a, b=b, c=c, d=d, e=e, h=h, u=u, f=f, farm=farm, g=g))
    # a: an older approved visit, a newer approved one answering garbage only, then later ones not approved
    ids.a_old = make(a, "approved", datetime(2026, 8, 1, 10, tzinfo=CN), **ALL_MET)
    ids.a_new = make(a, "approved", datetime(2026, 9, 15, 10, tzinfo=CN), garbage_stable=False)
    make(a, "submitted", datetime(2026, 9, 20, 10, tzinfo=CN), garbage_stable=True)
    make(a, "rejected", datetime(2026, 9, 25, 10, tzinfo=CN), garbage_stable=True)
    make(a, "returned", datetime(2026, 9, 26, 10, tzinfo=CN), garbage_stable=True)
    # b: nothing approved
    make(b, "rejected", datetime(2026, 9, 1, tzinfo=CN), **ALL_MET)
    make(b, "returned", datetime(2026, 9, 2, tzinfo=CN), **ALL_MET)
    make(b, "submitted", datetime(2026, 9, 3, tzinfo=CN), **ALL_MET)
    # c: the last half hour of Q3 in China time, and the first minutes of Q4
    ids.c_q3 = make(c, "approved", datetime(2026, 9, 30, 23, 30, tzinfo=CN), **ALL_MET)
    ids.c_q4 = make(c, "approved", datetime(2026, 10, 1, 0, 10, tzinfo=CN), garbage_stable=False,
                    sewage_treated=False, village_clean=False, tap_water=False, tap_households=100,
                    tap_households_with_tap=10)
    # d: just outside and just inside the 365-day window of Q3
    ids.d_out = make(d, "approved", Q3_END - timedelta(days=365, minutes=1), garbage_stable=True)
    ids.d_in = make(d, "approved", Q3_END - timedelta(days=364), sewage_treated=True)
    # e: each aspect answered in a different inspection
    ids.e_garbage = make(e, "approved", datetime(2026, 7, 10, tzinfo=CN), garbage_stable=True)
    ids.e_sewage = make(e, "approved", datetime(2026, 7, 20, tzinfo=CN), sewage_treated=False)
    ids.e_clean = make(e, "approved", datetime(2026, 7, 5, tzinfo=CN), village_clean=True)
    # h: two approved at the same instant: the higher id wins
    same = datetime(2026, 8, 8, 8, tzinfo=CN)
    make(h, "approved", same, garbage_stable=True)
    ids.h_second = make(h, "approved", same, garbage_stable=False)
    # non-rural villages with good answers: not counted
    make(u, "approved", datetime(2026, 9, 1, tzinfo=CN), **ALL_MET)
    make(farm, "approved", datetime(2026, 9, 1, tzinfo=CN), **ALL_MET)
    # other townships and counties
    make(f, "approved", datetime(2026, 9, 1, tzinfo=CN), garbage_stable=True, sewage_treated=True,
         village_clean=False, tap_water=False, tap_households=130, tap_households_with_tap=128)
    make(g, "approved", datetime(2026, 9, 1, tzinfo=CN), **ALL_MET)
    return ids


def snapshot(app):
    """The plain data the reference works from."""
    with app.app_context():
        divisions = [dict(r) for r in db.session.execute(select(
            Division.code, Division.name, Division.level, Division.kind, Division.households, Division.active)).mappings()]
        inspections = [dict(r) for r in db.session.execute(select(
            Inspection.id, Inspection.village_code, Inspection.status, Inspection.observed_at,
            Inspection.garbage_stable, Inspection.sewage_treated, Inspection.village_clean, Inspection.tap_water,
            Inspection.tap_households, Inspection.tap_households_with_tap)).mappings()]
        targets = [dict(r) for r in db.session.execute(select(
            Target.metric, Target.year, Target.division_code, Target.value)).mappings()]
    return divisions, inspections, targets


def comparable(answer):
    """The API answer without the fields the reference does not compute (as_of, definition, sources)."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("target_source", "as_of", "definition")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return strip(answer)


def get_rates(client, user, **params):
    return client.get("/api/v1/rates", query_string=params, headers=user.headers)


def expected(app, division, period, level):
    return reference_rates(*snapshot(app), division, period, level)


@pytest.mark.parametrize("division,period,level", [
    ("2303", "2026-Q3", "county"),
    ("230382", "2026-Q3", "township"),
    ("230382100", "2026-Q3", "village"),
    ("230382", "2026", "township"),
    ("230382", "2026-09", "township"),
    ("230382", "2026-Q4", "county"),
    ("2303", "2025", "city"),
])
def test_rates_equal_the_reference_field_by_field(client, bureau, scenario, division, period, level):
    response = get_rates(client, bureau, division=division, period=period, level=level)
    assert response.status_code == 200, response.json
    assert comparable(response.json) == expected(client.application, division, period, level)


def village_row(client, user, code, period="2026-Q3"):
    """A village's metrics without `observed_at` (compared with the reference's in the village-level test)."""
    rows = get_rates(client, user, division=code[:9], period=period, level="village").json["rows"]
    metrics = next(r for r in rows if r["code"] == code)["metrics"]
    return {m: {k: v for k, v in block.items() if k != "observed_at"} for m, block in metrics.items()}


def test_latest_approved_wins_over_older_and_over_unapproved(client, bureau, scenario):
    metrics = village_row(client, bureau, scenario.villages.a)
    assert metrics["garbage_stable"] == {"status": "not_met", "inspection_id": scenario.a_new}
    assert metrics["sewage_treated"] == {"status": "met", "inspection_id": scenario.a_old}


def test_rejected_returned_and_submitted_leave_a_village_unknown(client, bureau, scenario):
    metrics = village_row(client, bureau, scenario.villages.b)
    assert {m: v["status"] for m, v in metrics.items()} == dict.fromkeys(metrics, "unknown")


def test_unknown_villages_count_as_not_met_in_the_rate(client, bureau, scenario):
    block = get_rates(client, bureau, division="230382100", period="2026-Q3", level="township").json["rows"][0]
    garbage = block["metrics"]["garbage_stable"]
    assert garbage["unknown"] > 0
    assert garbage["rate"] == round(garbage["met"] / block["population"], 4)


def test_inspection_at_2330_china_time_on_30_september_belongs_to_q3(client, bureau, scenario):
    assert village_row(client, bureau, scenario.villages.c, "2026-Q3")["garbage_stable"] == {
        "status": "met", "inspection_id": scenario.c_q3}
    assert village_row(client, bureau, scenario.villages.c, "2026-Q4")["garbage_stable"] == {
        "status": "not_met", "inspection_id": scenario.c_q4}


def test_validity_window_keeps_364_days_and_drops_365_days_and_a_minute(client, bureau, scenario):
    metrics = village_row(client, bureau, scenario.villages.d)
    assert metrics["garbage_stable"]["status"] == "unknown"
    assert metrics["sewage_treated"] == {"status": "met", "inspection_id": scenario.d_in}


def test_aspects_answered_in_different_inspections_each_count(client, bureau, scenario):
    metrics = village_row(client, bureau, scenario.villages.e)
    assert [metrics[m]["inspection_id"] for m in ("garbage_stable", "sewage_treated", "village_clean")] == [
        scenario.e_garbage, scenario.e_sewage, scenario.e_clean]
    assert metrics["sewage_treated"]["status"] == "not_met"


def test_same_instant_goes_to_the_higher_id(client, bureau, scenario):
    assert village_row(client, bureau, scenario.villages.h)["garbage_stable"] == {
        "status": "not_met", "inspection_id": scenario.h_second}


def test_urban_and_farm_villages_are_listed_but_not_counted(client, bureau, scenario):
    rows = get_rates(client, bureau, division="230382100", period="2026-Q3", level="village").json["rows"]
    urban = next(r for r in rows if r["code"] == scenario.villages.u)
    assert (urban["counted"], urban["metrics"]["garbage_stable"]["status"]) == (False, "met")
    township = get_rates(client, bureau, division="230382100", period="2026-Q3").json["division"]
    assert township["population"] == sum(r["counted"] for r in rows)


def test_township_with_only_urban_communities_has_population_zero_and_no_rate(client, bureau, scenario):
    row = next(r for r in get_rates(client, bureau, division="230382", period="2026-Q3").json["rows"]
               if r["code"] == "230382001")
    assert (row["population"], row["metrics"]["village_clean"]["rate"], row["metrics"]["village_clean"]["gap"]) == (0, None, 0)


@pytest.mark.parametrize("division,level", [("2303", "county"), ("230382100", "township")])
@pytest.mark.parametrize("status", ["met", "not_met", "unknown"])
def test_village_filter_lists_exactly_the_villages_behind_a_cell(client, bureau, scenario, division, level, status):
    everything = get_rates(client, bureau, division=division, period="2026-Q3", level="village").json
    for metric in ("village_clean", "garbage_stable", "tap_water"):
        cell = get_rates(client, bureau, division=division, period="2026-Q3", level=level).json["division"]
        answer = get_rates(client, bureau, division=division, period="2026-Q3", level="village",
                           status=status, metric=metric).json
        assert answer["division"] == everything["division"]  # the totals stay the whole division's
        wanted = [r for r in everything["rows"] if r["counted"] and r["metrics"][metric]["status"] == status]
        assert answer["rows"] == wanted
        if metric != "tap_water":  # tap water's cell counts households; the others count villages
            assert len(answer["rows"]) == cell["metrics"][metric][status]
        assert all(r["metrics"][metric]["inspection_id"] for r in answer["rows"]) or status == "unknown"


def test_village_filter_by_metric_alone_drops_the_villages_not_counted(client, bureau, scenario):
    rows = get_rates(client, bureau, division="230382100", period="2026-Q3", level="village",
                     metric="village_clean").json["rows"]
    assert rows and all(r["counted"] for r in rows)
    assert scenario.villages.u not in {r["code"] for r in rows}


def put_target(client, user, **body):
    return client.put("/api/v1/targets", json=body, headers=user.headers)


def test_division_override_applies_to_its_subtree_only(client, bureau, scenario):
    assert put_target(client, bureau, metric="village_clean", year=2026, value=0.98, division_code="230382").status_code == 200
    assert put_target(client, bureau, metric="village_clean", year=2026, value=0.97).status_code == 200
    counties = {r["code"]: r["metrics"]["village_clean"] for r in
                get_rates(client, bureau, division="2303", period="2026-Q3", level="county").json["rows"]}
    assert (counties["230382"]["target"], counties["230382"]["target_source"]) == (0.98, "division:230382")
    assert (counties["230381"]["target"], counties["230381"]["target_source"]) == (0.97, "year:2026")
    answer = get_rates(client, bureau, division="230382", period="2026-Q3", level="township").json
    assert {r["metrics"]["village_clean"]["target"] for r in answer["rows"]} == {0.98}
    assert comparable(answer) == expected(client.application, "230382", "2026-Q3", "township")


def test_gap_for_95_percent_of_20_villages_is_19_not_20(fresh_divisions, make_user):
    """0.95 × 20 is 19.000000000000004 in floating point; the gap must still need 19 villages."""
    app = fresh_divisions
    rows = "".join(f"2303829992{n:02d},测试{n}村,village,230382999\n" for n in range(1, 21))
    with app.app_context():
        import_divisions("code,name,level,parent_code\n230382999,测试镇,township,230382\n" + rows)
        db.session.commit()
    create_inspection(app, village="230382999201", status="approved", lat=45.5, lon=131.8,
                      observed_at=datetime(2026, 9, 1, tzinfo=timezone.utc), village_clean=True)
    user = make_user("bureau", "230382999")
    answer = get_rates(app.test_client(), user, division="230382999", period="2026-Q3").json["division"]
    assert (answer["population"], answer["metrics"]["village_clean"]["gap"]) == (20, 18)


def test_needed_villages_for_95_percent_of_20_is_19():
    assert needed(0.95, 20) == 19


def test_definition_block_states_window_kinds_and_period_in_both_times(client, bureau, scenario):
    definition = get_rates(client, bureau, division="2303", period="2026-Q3").json["definition"]
    assert definition["validity_days"] == 365 and definition["counted_kinds"] == ["rural"]
    assert definition["period"] == {"key": "2026-Q3", "start": "2026-07-01T00:00:00+08:00",
                                    "end": "2026-10-01T00:00:00+08:00", "start_utc": "2026-06-30T16:00:00Z",
                                    "end_utc": "2026-09-30T16:00:00Z"}
    assert definition["window"]["from_utc"] == "2025-09-30T16:00:00Z" and set(definition["rules"]) >= {"rate", "gap"}


def test_other_counties_numbers_answer_404(client, make_user, scenario):
    county_user = make_user("bureau", "230381")
    assert get_rates(client, county_user, division="230382", period="2026-Q3").status_code == 404
    assert get_rates(client, county_user, division="2303", period="2026-Q3").status_code == 404
    assert get_rates(client, county_user, division="230381", period="2026-Q3").status_code == 200


def test_inspectors_may_not_read_rates(client, inspector):
    response = get_rates(client, inspector, division="230382100", period="2026-Q3")
    assert (response.status_code, response.json["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize("params,field", [
    ({"division": "2303", "period": "2026-13"}, "period"),
    ({"division": "2303", "period": "2026-Q5"}, "period"),
    ({"division": "230382", "period": "2026", "level": "city"}, "level"),
    ({"division": "2303", "period": "2026", "level": "hamlet"}, "level"),
    ({"division": "2303", "period": "2026", "level": "village", "status": "bad", "metric": "village_clean"}, "status"),
    ({"division": "2303", "period": "2026", "level": "village", "metric": "nope"}, "metric"),
    ({"division": "2303", "period": "2026", "level": "village", "status": "met"}, "metric"),
    ({"division": "2303", "period": "2026", "level": "county", "status": "met", "metric": "village_clean"}, "status"),
])
def test_bad_requests_answer_422_naming_the_field(client, bureau, params, field):
    response = get_rates(client, bureau, **params)
    assert response.status_code == 422 and field in response.json["error"]["fields"]


def test_trend_points_equal_the_rates_of_each_period(client, bureau, scenario):
    response = client.get("/api/v1/rates/trend", headers=bureau.headers, query_string={
        "division": "230382", "metric": "garbage_stable", "from": "2026-07", "to": "2026-10", "granularity": "month"})
    assert response.status_code == 200
    points = response.json["points"]
    assert [p["period"] for p in points] == ["2026-07", "2026-08", "2026-09", "2026-10"]
    for point in points:
        ref = expected(client.application, "230382", point["period"], "county")["division"]
        assert {k: point[k] for k in ref["metrics"]["garbage_stable"]} == ref["metrics"]["garbage_stable"]
        assert point["population"] == ref["population"]


def test_trend_by_quarter_lists_quarters(client, bureau, scenario):
    response = client.get("/api/v1/rates/trend", headers=bureau.headers, query_string={
        "division": "2303", "metric": "sewage_treated", "from": "2026-02", "to": "2026-12", "granularity": "quarter"})
    assert [p["period"] for p in response.json["points"]] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]


def test_a_province_above_the_city_rolls_up_the_same_numbers(fresh_divisions, make_user, scenario):
    app = fresh_divisions
    with app.app_context():
        import_divisions("code,name,level,parent_code\n23,黑龙江省,province,\n2303,鸡西市,city,23\n")
        db.session.commit()
    admin = make_user("admin", "23")
    client = app.test_client()
    province = get_rates(client, admin, division="23", period="2026-Q3", level="city").json
    city = get_rates(client, admin, division="2303", period="2026-Q3", level="city").json
    assert comparable(province["rows"]) == comparable(city["rows"])
    assert comparable(province["division"])["metrics"] == comparable(city["division"])["metrics"]


@pytest.mark.parametrize("key,start,end", [
    ("2026", "2026-01-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
    ("2026-Q4", "2026-10-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
    ("2026-12", "2026-12-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
])
def test_parse_period_gives_china_time_bounds(key, start, end):
    period = parse_period(key)
    assert (period.start.isoformat(), period.end.isoformat()) == (start, end)


@pytest.mark.parametrize("key", ["2026-13", "2026-Q5", "26", "", None, "1999", "2101"])
def test_parse_period_refuses_a_bad_value_naming_the_period(key):
    with pytest.raises(ValidationFailed) as raised:
        parse_period(key)
    assert "period" in raised.value.fields
