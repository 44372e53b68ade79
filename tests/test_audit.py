"""The audit trail: an entry for every step, the scoped read-only log and an inspection's history."""
from datetime import datetime, timedelta, timezone

import pytest

from tests.factories import create_inspection, refused, sql


def review(client, user, inspection_id, decision, comment="see photos", version=1):
    return client.post(f"/api/v1/inspections/{inspection_id}/review", headers=user.headers,
                       json={"decision": decision, "comment": comment, "version": version})


def audit_rows(app, inspection_id):
    return [tuple(r) for r in sql(
        app, "SELECT action, actor_id, from_status, to_status, version, comment, division_code FROM audit_log "
             "WHERE object_type = 'inspection' AND object_id = :id ORDER BY id", id=str(inspection_id))]


def test_every_step_is_audited(app, client, reviewer, bureau, inspector):
    made = create_inspection(app, inspector_id=inspector.id)
    village = made.village_code
    assert review(client, reviewer, made.id, "reject", comment="photos are from last year").status_code == 200
    client.post(f"/api/v1/inspections/{made.id}/reopen", json={"reason": "appeal by the village"},
                headers=bureau.headers)
    client.post(f"/api/v1/inspections/{made.id}/comments", json={"body": "the photos are new"},
                headers=inspector.headers)
    assert review(client, reviewer, made.id, "approve", comment=None).status_code == 200
    assert audit_rows(app, made.id) == [
        ("inspection.rejected", reviewer.id, "submitted", "rejected", 1, "photos are from last year", village),
        ("inspection.reopened", bureau.id, "rejected", "submitted", 1, "appeal by the village", village),
        ("inspection.commented", inspector.id, None, None, 1, None, village),
        ("inspection.approved", reviewer.id, "submitted", "approved", 1, None, village),
    ]


def test_a_refused_decision_leaves_no_audit_entry(app, client, reviewer):
    made = create_inspection(app, status="approved")
    assert review(client, reviewer, made.id, "reject").status_code == 409
    assert review(client, reviewer, made.id, "approve", version=7).status_code == 409
    assert audit_rows(app, made.id) == []


def _log(client, user, **params):
    return client.get("/api/v1/audit", query_string=params, headers=user.headers)


def test_admins_and_bureau_read_the_log_newest_first(app, client, reviewer, admin, bureau):
    first, second = create_inspection(app), create_inspection(app)
    review(client, reviewer, first.id, "approve")
    review(client, reviewer, second.id, "return")
    for user in (admin, bureau):
        response = _log(client, user)
        assert response.status_code == 200
        items = response.get_json()["items"]
        assert [(i["action"], i["object_id"]) for i in items] == [
            ("inspection.returned", str(second.id)), ("inspection.approved", str(first.id))]
        assert items[0]["actor"]["username"] == reviewer.username


@pytest.mark.parametrize("role", ["inspector", "reviewer"])
def test_inspectors_and_reviewers_cannot_read_the_log(app, client, reviewer, make_user, role):
    review(client, reviewer, create_inspection(app).id, "approve")  # an entry in their own township
    response = _log(client, make_user(role, "230382100"))
    refused(response, 403)
    assert "inspection.approved" not in response.get_data(as_text=True)


def test_the_log_is_scoped_by_division(app, client, reviewer, make_user):
    made = create_inspection(app)
    review(client, reviewer, made.id, "approve")
    other_county = make_user("bureau", "230381")
    county = make_user("bureau", "230382")
    assert _log(client, other_county).get_json()["total"] == 0
    assert _log(client, county).get_json()["total"] == 1


def test_the_log_filters_by_action_object_actor_and_time(app, client, reviewer, make_user, admin):
    other_reviewer = make_user("reviewer", "230382100")
    a, b, c = create_inspection(app), create_inspection(app), create_inspection(app)
    review(client, reviewer, a.id, "approve")
    review(client, other_reviewer, b.id, "reject")
    review(client, reviewer, c.id, "approve")

    def objects(**params):
        response = _log(client, admin, **params)
        assert response.status_code == 200, response.get_json()
        return sorted(int(i["object_id"]) for i in response.get_json()["items"])

    assert objects(action="inspection.approved") == [a.id, c.id]
    assert objects(object_type="inspection", object_id=str(b.id)) == [b.id]
    assert objects(actor=other_reviewer.id) == [b.id]
    now = datetime.now(timezone.utc)
    assert objects(**{"from": (now - timedelta(minutes=5)).isoformat()}) == [a.id, b.id, c.id]
    assert objects(**{"to": (now - timedelta(minutes=5)).isoformat()}) == []
    assert _log(client, admin, **{"from": "2026-09-01T10:00:00"}).status_code == 422  # no offset


def test_the_log_is_paginated(app, client, reviewer, admin):
    for _ in range(3):
        review(client, reviewer, create_inspection(app).id, "approve")
    page = _log(client, admin, per_page=2, page=2).get_json()
    assert page["total"] == 3 and page["pages"] == 2 and len(page["items"]) == 1


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_the_log_cannot_be_changed_through_the_api(app, client, reviewer, admin, method):
    made = create_inspection(app)
    review(client, reviewer, made.id, "approve")
    entry_id = sql(app, "SELECT id FROM audit_log")[0].id
    on_list = getattr(client, method)("/api/v1/audit", json={"comment": "x"}, headers=admin.headers)
    assert on_list.status_code == 405
    assert on_list.get_json()["error"]["code"] == "method_not_allowed"
    on_entry = getattr(client, method)(f"/api/v1/audit/{entry_id}", json={"comment": "x"}, headers=admin.headers)
    assert on_entry.status_code in (404, 405)
    assert audit_rows(app, made.id) == [("inspection.approved", reviewer.id, "submitted", "approved", 1,
                                         "see photos", made.village_code)]


# --- history ----------------------------------------------------------------------------------

def test_history_lists_reviews_and_audit_in_order(app, client, reviewer, bureau, inspector):
    made = create_inspection(app, inspector_id=inspector.id)
    review(client, reviewer, made.id, "approve", comment="fine")
    client.post(f"/api/v1/inspections/{made.id}/reopen", json={"reason": "spot check"}, headers=bureau.headers)
    review(client, reviewer, made.id, "reject", comment="dump behind the school")
    response = client.get(f"/api/v1/inspections/{made.id}/history", headers=reviewer.headers)
    assert response.status_code == 200
    history = response.get_json()
    assert history["inspection"]["status"] == "rejected"
    assert [(r["decision"], r["comment"], r["reviewer"]["id"]) for r in history["reviews"]] == [
        ("approve", "fine", reviewer.id), ("reject", "dump behind the school", reviewer.id)]
    assert [(a["action"], a["from_status"], a["to_status"]) for a in history["audit"]] == [
        ("inspection.approved", "submitted", "approved"), ("inspection.reopened", "approved", "submitted"),
        ("inspection.rejected", "submitted", "rejected")]


def test_history_is_visible_to_its_inspector_but_not_to_another(app, client, inspector, make_user):
    made = create_inspection(app, inspector_id=inspector.id)
    assert client.get(f"/api/v1/inspections/{made.id}/history", headers=inspector.headers).status_code == 200
    colleague = make_user("inspector", "230382100")
    refused(client.get(f"/api/v1/inspections/{made.id}/history", headers=colleague.headers), 404)


def test_history_is_hidden_from_reviewers_out_of_scope(app, client, make_user):
    made = create_inspection(app)
    outsider = make_user("reviewer", "230382101")
    refused(client.get(f"/api/v1/inspections/{made.id}/history", headers=outsider.headers), 404)
