"""Administrators mark divisions inactive and active again (PATCH /divisions/{code}, scoped,
audited); an inactive village leaves the rates' population, "which village am I in?" and the
villages due; the division list finds divisions by name or code and by state."""
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Division
from tests.factories import OTHER_TOWNSHIP, OTHER_VILLAGE, TOWNSHIP, VILLAGE, refused, village_point


def patch(client, user, code, active):
    return client.patch(f"/api/v1/divisions/{code}", json={"active": active}, headers=user.headers)


def active_of(app, *codes):
    with app.app_context():
        return {d.code: d.active for d in db.session.scalars(select(Division).where(Division.code.in_(codes)))}


def test_a_village_marked_inactive_is_audited_and_active_again(client, fresh_divisions, admin):
    r = patch(client, admin, VILLAGE, False)
    assert r.status_code == 200, r.json
    assert (r.json["division"]["code"], r.json["division"]["active"], r.json["changed"]) == (VILLAGE, False, 1)
    assert active_of(fresh_divisions, VILLAGE, OTHER_VILLAGE) == {VILLAGE: False, OTHER_VILLAGE: True}
    assert patch(client, admin, VILLAGE, True).json["changed"] == 1
    assert patch(client, admin, VILLAGE, True).json["changed"] == 0  # already active: nothing to audit
    with fresh_divisions.app_context():
        audited = db.session.execute(select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.object_id)
                                     .where(AuditEntry.object_type == "division").order_by(AuditEntry.id)).all()
    assert [tuple(a) for a in audited] == [("division.deactivated", admin.id, VILLAGE),
                                           ("division.activated", admin.id, VILLAGE)]


def test_a_township_marked_inactive_takes_its_villages_along(client, fresh_divisions, admin):
    with fresh_divisions.app_context():
        below = db.session.scalar(select(db.func.count()).select_from(Division)
                                  .where(Division.parent_code == TOWNSHIP))
    r = patch(client, admin, TOWNSHIP, False)
    assert r.json["changed"] == below + 1
    assert active_of(fresh_divisions, TOWNSHIP, VILLAGE, OTHER_VILLAGE) == {TOWNSHIP: False, VILLAGE: False,
                                                                            OTHER_VILLAGE: False}
    assert patch(client, admin, TOWNSHIP, True).json["changed"] == below + 1
    assert active_of(fresh_divisions, VILLAGE)[VILLAGE] is True


def test_an_inactive_village_is_out_of_locate_due_and_the_rates(client, fresh_divisions, admin, inspector, bureau):
    lat, lon = village_point(fresh_divisions, VILLAGE)
    located = client.get(f"/api/v1/divisions/locate?lat={lat}&lon={lon}", headers=inspector.headers).json
    assert located["village"]["code"] == VILLAGE
    due_before = client.get("/api/v1/villages/due", query_string={"per_page": 200}, headers=inspector.headers).json
    rates_before = client.get("/api/v1/rates", query_string={"division": TOWNSHIP, "period": "2026"},
                              headers=bureau.headers).json
    assert VILLAGE in {v["code"] for v in due_before["items"]}

    assert patch(client, admin, VILLAGE, False).status_code == 200
    located = client.get(f"/api/v1/divisions/locate?lat={lat}&lon={lon}", headers=inspector.headers).json
    assert located["village"]["code"] != VILLAGE and located["inside"] is False
    due_after = client.get("/api/v1/villages/due", query_string={"per_page": 200}, headers=inspector.headers).json
    assert VILLAGE not in {v["code"] for v in due_after["items"]} and due_after["total"] == due_before["total"] - 1
    rates_after = client.get("/api/v1/rates", query_string={"division": TOWNSHIP, "period": "2026"},
                             headers=bureau.headers).json
    population = {m: rates_before["division"]["metrics"][m]["unknown"] for m in rates_before["division"]["metrics"]}
    assert {m: rates_after["division"]["metrics"][m]["unknown"] for m in population} == {
        m: n - 1 for m, n in population.items()}


def test_only_administrators_in_scope_may_mark_divisions(client, fresh_divisions, bureau, make_user):
    refused(patch(client, bureau, VILLAGE, False), 403)
    township_admin = make_user("admin", OTHER_TOWNSHIP)
    refused(patch(client, township_admin, VILLAGE, False), 404)
    refused(patch(client, township_admin, "230382", False), 404)  # above the scope
    assert active_of(fresh_divisions, VILLAGE)[VILLAGE] is True


def test_active_is_required_and_a_boolean(client, fresh_divisions, admin):
    for body in ({}, {"active": "perhaps"}, {"active": True, "name": "x"}):
        r = client.patch(f"/api/v1/divisions/{VILLAGE}", json=body, headers=admin.headers)
        assert r.status_code == 422 and r.json["error"]["fields_zh"], r.json


def test_the_list_finds_by_name_or_code_and_by_state(client, fresh_divisions, admin):
    patch(client, admin, VILLAGE, False)
    by_code = client.get("/api/v1/divisions", query_string={"q": VILLAGE[:11]}, headers=admin.headers).json
    assert VILLAGE in [d["code"] for d in by_code["items"]] and all(d["code"].startswith(VILLAGE[:11])
                                                                    or VILLAGE[:11] in d["name"] for d in by_code["items"])
    by_name = client.get("/api/v1/divisions", query_string={"q": "长青"}, headers=admin.headers).json
    assert VILLAGE in [d["code"] for d in by_name["items"]] and all("长青" in d["name"] for d in by_name["items"])
    inactive = client.get("/api/v1/divisions", query_string={"active": "false"}, headers=admin.headers).json
    assert [(d["code"], d["active"]) for d in inactive["items"]] == [(VILLAGE, False)]
