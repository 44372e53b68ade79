"""Targets: defaults of the 2026 plan, year defaults and division overrides (most specific wins)."""
from sqlalchemy import select

from app.extensions import db
from app.models import DEFAULT_TARGETS, AuditEntry
from tests.factories import refused


def get_targets(client, user, **params):
    return client.get("/api/v1/targets", query_string=params, headers=user.headers)


def put_target(client, user, **body):
    return client.put("/api/v1/targets", json=body, headers=user.headers)


def effective(response):
    return {t["metric"]: (t["value"], t["source"]) for t in response.json["effective"]}


def test_without_rows_the_2026_plan_applies(client, bureau):
    response = get_targets(client, bureau, year=2026)
    assert response.status_code == 200
    assert effective(response) == {m: (v, "plan:2026") for m, v in DEFAULT_TARGETS.items()}


def test_year_default_replaces_the_plan(client, bureau):
    assert put_target(client, bureau, metric="sewage_treated", year=2026, value=0.5).json["division_code"] == ""
    assert effective(get_targets(client, bureau, year=2026))["sewage_treated"] == (0.5, "year:2026")


def test_override_applies_to_the_division_and_below_only(client, bureau):
    put_target(client, bureau, metric="village_clean", year=2026, value=0.98, division_code="230382")
    assert effective(get_targets(client, bureau, year=2026, division="230382100"))["village_clean"] == (0.98, "division:230382")
    assert effective(get_targets(client, bureau, year=2026, division="230381"))["village_clean"] == (0.95, "plan:2026")


def test_nearest_override_wins(client, bureau):
    put_target(client, bureau, metric="village_clean", year=2026, value=0.96, division_code="230382")
    put_target(client, bureau, metric="village_clean", year=2026, value=0.99, division_code="230382100")
    assert effective(get_targets(client, bureau, year=2026, division="230382100200"))["village_clean"] == (0.99, "division:230382100")
    assert effective(get_targets(client, bureau, year=2026, division="230382101"))["village_clean"] == (0.96, "division:230382")


def audited_target_changes(app):
    """(from, to) of every target.set audit entry, oldest first."""
    with app.app_context():
        details = [a.details for a in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "target.set")
                                                          .order_by(AuditEntry.id))]
    return [(d["from"], d["to"]) for d in details]


def test_putting_again_changes_the_same_row_and_audits_both(client, bureau, app):
    first = put_target(client, bureau, metric="garbage_stable", year=2027, value=0.9).json
    second = put_target(client, bureau, metric="garbage_stable", year=2027, value=0.95).json
    assert (first["id"], second["value"]) == (second["id"], 0.95)
    assert audited_target_changes(app) == [(None, 0.9), (0.9, 0.95)]


def test_value_outside_0_to_1_is_422(client, bureau):
    response = put_target(client, bureau, metric="garbage_stable", year=2026, value=1.2)
    assert (response.status_code, list(response.json["error"]["fields"])) == (422, ["value"])


def test_unknown_metric_is_422(client, bureau):
    response = put_target(client, bureau, metric="roads_paved", year=2026, value=0.5)
    assert response.status_code == 422 and "metric" in response.json["error"]["fields"]


def test_county_bureau_may_override_its_county_only(client, make_user, bureau):
    county = make_user("bureau", "230381")
    assert put_target(client, county, metric="sewage_treated", year=2026, value=0.5, division_code="230381").status_code == 200
    refused(put_target(client, county, metric="sewage_treated", year=2026, value=0.5, division_code="230382"), 404)
    refused(get_targets(client, county, division="230382"), 404)
    plan = DEFAULT_TARGETS["sewage_treated"]
    assert effective(get_targets(client, bureau, year=2026, division="230382"))["sewage_treated"] == (plan, "plan:2026")
    assert audited_target_changes(client.application) == [(None, 0.5)]


def test_county_bureau_may_not_set_the_citywide_default(client, make_user):
    county = make_user("bureau", "230381")
    response = put_target(client, county, metric="garbage_stable", year=2026, value=0.9)
    assert response.status_code == 422 and "division_code" in response.json["error"]["fields"]


def test_reviewers_may_not_read_or_set_targets(client, reviewer, bureau):
    refused(get_targets(client, reviewer), 403)
    refused(put_target(client, reviewer, metric="garbage_stable", year=2026, value=0.9), 403)
    plan = DEFAULT_TARGETS["garbage_stable"]
    assert effective(get_targets(client, bureau, year=2026))["garbage_stable"] == (plan, "plan:2026")
    assert audited_target_changes(client.application) == []


def test_targets_need_a_login(client):
    assert client.get("/api/v1/targets").status_code == 401


def test_a_bureau_override_may_only_be_stricter(client, make_user):
    county_bureau = make_user("bureau", "230382")
    body = {"metric": "garbage_stable", "year": 2026, "value": 0.1, "division_code": "230382"}
    r = client.put("/api/v1/targets", json=body, headers=county_bureau.headers)
    assert r.status_code == 422 and "stricter" in r.json["error"]["fields"]["value"][0]
    stricter = {"metric": "sewage_treated", "year": 2026, "value": 0.6, "division_code": "230382"}
    assert client.put("/api/v1/targets", json=stricter, headers=county_bureau.headers).status_code == 200
