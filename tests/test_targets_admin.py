"""Targets as the administrators' screen shows them: each stored row says who set it and when, and
an override names its division."""
from datetime import datetime, timedelta, timezone


def put_target(client, user, **body):
    return client.put("/api/v1/targets", json=body, headers=user.headers)


def test_stored_targets_say_who_set_them_and_when(client, admin, make_user):
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    county_bureau = make_user("bureau", "230382")
    saved = put_target(client, admin, metric="sewage_treated", year=2026, value=0.5)
    assert saved.status_code == 200, saved.json
    assert saved.json["set_by"]["username"] == admin.username and saved.json["division_name"] is None
    r = put_target(client, county_bureau, metric="sewage_treated", year=2026, value=0.6, division_code="230382")
    assert r.status_code == 200, r.json

    stored = client.get("/api/v1/targets", query_string={"year": 2026}, headers=admin.headers).json["stored"]
    by_division = {s["division_code"]: s for s in stored}
    assert by_division[""]["set_by"] == {"id": admin.id, "username": admin.username, "display_name": None}
    assert (by_division["230382"]["set_by"]["username"], by_division["230382"]["division_name"]) == (
        county_bureau.username, "密山市")
    assert datetime.fromisoformat(by_division["230382"]["set_at"]) >= before


def test_a_changed_target_names_its_last_setter(client, admin, bureau):
    put_target(client, bureau, metric="village_clean", year=2027, value=0.96)
    again = put_target(client, admin, metric="village_clean", year=2027, value=0.97).json
    assert (again["value"], again["set_by"]["username"]) == (0.97, admin.username)


def test_an_admin_sees_a_value_error_per_field_in_chinese(client, admin):
    r = put_target(client, admin, metric="sewage_treated", year=2026, value=1.5, division_code="230382")
    assert r.status_code == 422
    assert r.json["error"]["fields_zh"]["value"] == ["须在 0 到 1 之间。"]
