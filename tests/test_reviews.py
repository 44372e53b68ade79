"""Decisions on submitted inspections: the status machine, scope, stale versions, concurrency,
reopening, bulk review and the return → edit → resubmit → approve flow."""
import threading
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import event

from app.extensions import db
from tests.factories import create_inspection, refused, sql, village_point
from tests.photos import real_photo, upload

DECISIONS = {"approve": "approved", "reject": "rejected", "return": "returned"}


def review(client, user, inspection_id, decision, version=1, comment="checked on site", **kw):
    body = {"decision": decision, "version": version, **kw}
    if comment is not None:
        body["comment"] = comment
    return client.post(f"/api/v1/inspections/{inspection_id}/review", json=body, headers=user.headers)


def status_of(app, inspection_id):
    return sql(app, "SELECT status, version, decided_by_id FROM inspections WHERE id = :id", id=inspection_id)[0]


# --- legal transitions ------------------------------------------------------------------------

@pytest.mark.parametrize("decision", DECISIONS)
def test_a_submitted_inspection_takes_each_decision(app, client, reviewer, inspector, decision):
    made = create_inspection(app, inspector_id=inspector.id)
    response = review(client, reviewer, made.id, decision, comment="photo of the wrong pond")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["inspection"]["status"] == DECISIONS[decision]
    assert body["inspection"]["version"] == 1
    assert body["review"] == {**body["review"], "decision": decision, "comment": "photo of the wrong pond",
                              "version": 1}
    assert body["review"]["reviewer"]["id"] == reviewer.id
    assert tuple(status_of(app, made.id)) == (DECISIONS[decision], 1, reviewer.id)
    reviews = sql(app, "SELECT decision, reviewer_id, version FROM reviews WHERE inspection_id = :id", id=made.id)
    assert [tuple(r) for r in reviews] == [(decision, reviewer.id, 1)]


def test_approval_records_the_decision_time(app, client, reviewer, inspector):
    made = create_inspection(app, inspector_id=inspector.id)
    body = review(client, reviewer, made.id, "approve", comment=None).get_json()
    assert body["inspection"]["decided_at"] is not None
    assert body["inspection"]["decided_by_id"] == reviewer.id
    assert body["review"]["comment"] is None


# --- illegal transitions ----------------------------------------------------------------------

@pytest.mark.parametrize("current", ["approved", "rejected", "returned"])
@pytest.mark.parametrize("decision", DECISIONS)
def test_a_decided_inspection_refuses_every_decision(app, client, reviewer, current, decision):
    made = create_inspection(app, status=current)
    response = review(client, reviewer, made.id, decision)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["details"]["status"] == current
    assert status_of(app, made.id).status == current
    assert sql(app, "SELECT count(*) FROM reviews")[0][0] == 0


@pytest.mark.parametrize("decision", ["reject", "return"])
@pytest.mark.parametrize("comment", [None, "", "   "])
def test_reject_and_return_need_a_comment(app, client, reviewer, decision, comment):
    made = create_inspection(app)
    response = review(client, reviewer, made.id, decision, comment=comment)
    assert response.status_code == 422
    assert "comment" in response.get_json()["error"]["fields"]
    assert status_of(app, made.id).status == "submitted"


@pytest.mark.parametrize("body", [
    {"decision": "maybe", "version": 1},
    {"decision": "approve"},
    {"decision": "approve", "version": 0},
    {"version": 1},
])
def test_a_malformed_decision_is_a_validation_error(app, client, reviewer, body):
    made = create_inspection(app)
    response = client.post(f"/api/v1/inspections/{made.id}/review", json=body, headers=reviewer.headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"


def test_a_stale_version_is_a_version_conflict(app, client, reviewer):
    made = create_inspection(app, version=2)
    response = review(client, reviewer, made.id, "approve", version=1)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "version_conflict"
    assert error["details"] == {"status": "submitted", "current_version": 2, "sent_version": 1}
    assert status_of(app, made.id).status == "submitted"


def test_an_unknown_inspection_is_not_found(app, client, reviewer):
    refused(review(client, reviewer, 987654, "approve"), 404)
    assert sql(app, "SELECT count(*) FROM reviews")[0][0] == 0


# --- roles and scope --------------------------------------------------------------------------

def test_a_reviewer_of_another_township_gets_404(app, client, make_user):
    made = create_inspection(app, village="230382100200")
    outsider = make_user("reviewer", "230382101")  # another township of the same county
    response = review(client, outsider, made.id, "approve")
    refused(response, 404)
    assert tuple(status_of(app, made.id)) == ("submitted", 1, None)
    assert sql(app, "SELECT count(*) FROM reviews")[0][0] == 0
    assert sql(app, "SELECT count(*) FROM audit_log")[0][0] == 0


def test_an_inspector_cannot_review(app, client, inspector):
    made = create_inspection(app, inspector_id=inspector.id)
    response = review(client, inspector, made.id, "approve")
    refused(response, 403)
    assert tuple(status_of(app, made.id)) == ("submitted", 1, None)
    assert sql(app, "SELECT count(*) FROM reviews")[0][0] == 0
    assert sql(app, "SELECT count(*) FROM audit_log")[0][0] == 0


def test_review_needs_a_token(app, client):
    made = create_inspection(app)
    response = client.post(f"/api/v1/inspections/{made.id}/review", json={"decision": "approve", "version": 1})
    assert response.status_code == 401


def test_a_county_bureau_user_may_review_in_scope(app, client, make_user):
    made = create_inspection(app)
    county = make_user("bureau", "230382")
    assert review(client, county, made.id, "approve").status_code == 200


# --- concurrency ------------------------------------------------------------------------------

def _concurrent_reviews(app, users, inspection_id, decisions):
    """Send one decision per user at the same moment, each on its own client and thread."""
    start = threading.Barrier(len(users))
    results = [None] * len(users)

    def run(i):
        client = app.test_client()
        start.wait(timeout=30)
        results[i] = review(client, users[i], inspection_id, decisions[i], comment="seen")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_reviewers_at_once_exactly_one_wins(app, make_user):
    made = create_inspection(app)
    first, second = make_user("reviewer", "230382100"), make_user("reviewer", "230382100")
    responses = _concurrent_reviews(app, [first, second], made.id, ["approve", "return"])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409]
    winner = next(r for r in responses if r.status_code == 200).get_json()
    loser = next(r for r in responses if r.status_code == 409).get_json()["error"]
    assert loser["code"] in ("version_conflict", "invalid_transition")
    assert loser["details"]["status"] == winner["inspection"]["status"]
    assert sql(app, "SELECT count(*) FROM reviews WHERE inspection_id = :id", id=made.id)[0][0] == 1
    assert status_of(app, made.id).status == winner["inspection"]["status"]


def test_a_race_lost_at_the_write_is_a_version_conflict(app, engine_name, make_user):
    """Both requests pass the read check before either writes (held at a barrier just before
    the UPDATE); the conditional UPDATE lets exactly one through."""
    if engine_name != "postgresql":
        pytest.skip("SQLite serialises writing transactions from their first statement")
    made = create_inspection(app)
    first, second = make_user("reviewer", "230382100"), make_user("reviewer", "230382100")
    at_update = threading.Barrier(2)

    def hold(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE INSPECTIONS"):
            at_update.wait(timeout=30)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", hold)
    try:
        responses = _concurrent_reviews(app, [first, second], made.id, ["approve", "reject"])
    finally:
        event.remove(engine, "before_cursor_execute", hold)
    assert sorted(r.status_code for r in responses) == [200, 409]
    winner = next(r for r in responses if r.status_code == 200).get_json()
    loser = next(r for r in responses if r.status_code == 409).get_json()["error"]
    assert loser["code"] == "version_conflict"
    assert loser["details"]["status"] == winner["inspection"]["status"]
    assert sql(app, "SELECT count(*) FROM reviews WHERE inspection_id = :id", id=made.id)[0][0] == 1
    assert sql(app, "SELECT count(*) FROM audit_log WHERE object_id = :id", id=str(made.id))[0][0] == 1


# --- reopen -----------------------------------------------------------------------------------

@pytest.mark.parametrize("current", ["approved", "rejected"])
def test_bureau_reopens_a_final_decision(app, client, bureau, reviewer, current):
    made = create_inspection(app, status=current)
    response = client.post(f"/api/v1/inspections/{made.id}/reopen", json={"reason": "complaint from villagers"},
                           headers=bureau.headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "submitted"
    assert tuple(status_of(app, made.id)) == ("submitted", 1, None)
    audit = sql(app, "SELECT action, from_status, to_status, comment, actor_id, version FROM audit_log "
                     "WHERE object_id = :id", id=str(made.id))
    assert [tuple(a) for a in audit] == [("inspection.reopened", current, "submitted", "complaint from villagers",
                                          bureau.id, 1)]
    # back in the queue at the same version, and reviewable again
    assert review(client, reviewer, made.id, "approve").status_code == 200


@pytest.mark.parametrize("current", ["submitted", "returned"])
def test_only_final_decisions_can_be_reopened(app, client, admin, current):
    made = create_inspection(app, status=current)
    response = client.post(f"/api/v1/inspections/{made.id}/reopen", json={"reason": "check"}, headers=admin.headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["details"]["status"] == current


def test_reopen_needs_a_reason(app, client, bureau):
    made = create_inspection(app, status="approved")
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = client.post(f"/api/v1/inspections/{made.id}/reopen", json=body, headers=bureau.headers)
        assert response.status_code == 422
        assert "reason" in response.get_json()["error"]["fields"]
    assert status_of(app, made.id).status == "approved"


def test_a_reviewer_cannot_reopen(app, client, reviewer):
    made = create_inspection(app, status="approved")
    response = client.post(f"/api/v1/inspections/{made.id}/reopen", json={"reason": "x"}, headers=reviewer.headers)
    refused(response, 403)
    assert tuple(status_of(app, made.id)) == ("approved", 1, None)
    assert sql(app, "SELECT count(*) FROM audit_log")[0][0] == 0


def test_bureau_of_another_county_cannot_reopen(app, client, make_user):
    made = create_inspection(app, status="approved")
    other = make_user("bureau", "230381")
    response = client.post(f"/api/v1/inspections/{made.id}/reopen", json={"reason": "x"}, headers=other.headers)
    refused(response, 404)
    assert tuple(status_of(app, made.id)) == ("approved", 1, None)
    assert sql(app, "SELECT count(*) FROM audit_log")[0][0] == 0


# --- bulk -------------------------------------------------------------------------------------

def test_bulk_approve_reports_each_id(app, client, reviewer):
    ok1, ok2 = create_inspection(app), create_inspection(app, village="230382100201", version=3)
    decided = create_inspection(app, status="rejected")
    outside = create_inspection(app, village="230382101200")
    ids = [ok1.id, decided.id, outside.id, 99999, ok2.id, ok1.id]
    response = client.post("/api/v1/reviews/bulk", json={"ids": ids, "decision": "approve"}, headers=reviewer.headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["succeeded"] == 2 and body["failed"] == 3
    assert body["results"] == [
        {"id": ok1.id, "ok": True, "status": "approved", "version": 1},
        {"id": decided.id, "ok": False, "error": "invalid_transition", "status": "rejected"},
        {"id": outside.id, "ok": False, "error": "not_found"},
        {"id": 99999, "ok": False, "error": "not_found"},
        {"id": ok2.id, "ok": True, "status": "approved", "version": 3},
    ]
    rows = sql(app, "SELECT id, status, decided_by_id FROM inspections ORDER BY id")
    assert {r.id: (r.status, r.decided_by_id) for r in rows} == {
        ok1.id: ("approved", reviewer.id), ok2.id: ("approved", reviewer.id),
        decided.id: ("rejected", None), outside.id: ("submitted", None)}
    reviews = sql(app, "SELECT inspection_id, decision, version FROM reviews ORDER BY inspection_id")
    assert [tuple(r) for r in reviews] == [(ok1.id, "approve", 1), (ok2.id, "approve", 3)]
    audit = sql(app, "SELECT object_id, action FROM audit_log ORDER BY object_id")
    assert sorted(tuple(a) for a in audit) == sorted([(str(ok1.id), "inspection.approved"),
                                                      (str(ok2.id), "inspection.approved")])


def test_bulk_return_without_comment_changes_nothing(app, client, reviewer):
    made = create_inspection(app)
    response = client.post("/api/v1/reviews/bulk", json={"ids": [made.id], "decision": "return"},
                           headers=reviewer.headers)
    assert response.status_code == 422
    assert status_of(app, made.id).status == "submitted"


def test_bulk_needs_ids_and_a_reviewer(app, client, reviewer, inspector):
    made = create_inspection(app)
    assert client.post("/api/v1/reviews/bulk", json={"ids": []}, headers=reviewer.headers).status_code == 422
    response = client.post("/api/v1/reviews/bulk", json={"ids": [made.id]}, headers=inspector.headers)
    refused(response, 403)
    complete = client.post("/api/v1/reviews/bulk", json={"ids": [made.id], "decision": "approve"},
                           headers=inspector.headers)
    refused(complete, 403)
    assert status_of(app, made.id).status == "submitted"
    assert sql(app, "SELECT count(*) FROM reviews")[0][0] == 0


# --- return → edit → resubmit → approve -------------------------------------------------------

def _upload(client, user, name):
    response = upload(client, user, real_photo(name), name=name)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["id"]


def _submission(app, client_uuid, village, photo_id, clean):
    lat, lon = village_point(app, village)
    return {
        "client_uuid": client_uuid, "village": village,
        "observed_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "location": {"lat": lat, "lon": lon, "accuracy_m": 8, "crs": "wgs84"},
        "answers": {"cleanliness": {"no_garbage_piles": clean, "ponds_ditches_clean": True,
                                    "manure_handled": True, "public_spaces_orderly": True}},
        "photos": {"cleanliness": [photo_id]},
        "notes": "first visit" if not clean else "piles removed",
    }


def test_return_edit_resubmit_approve_keeps_the_history(app, client, inspector, reviewer):
    village = "230382100200"
    first_photo = _upload(client, inspector, "gps_samsung_sm-g930f.jpg")
    client_uuid = str(uuid.uuid4())
    created = client.post("/api/v1/inspections", json=_submission(app, client_uuid, village, first_photo, False),
                          headers=inspector.headers)
    assert created.status_code == 201, created.get_json()
    inspection_id = created.get_json()["id"]

    returned = review(client, reviewer, inspection_id, "return", version=1, comment="the pond photo is missing")
    assert returned.status_code == 200
    mine = client.get(f"/api/v1/inspections/{inspection_id}", headers=inspector.headers).get_json()
    assert mine["status"] == "returned"

    second_photo = _upload(client, inspector, "gps_htc_desire.jpg")
    edited = {**_submission(app, client_uuid, village, second_photo, True), "version": 1}
    del edited["client_uuid"]  # the identity of an edited inspection is its id
    resubmitted = client.put(f"/api/v1/inspections/{inspection_id}", json=edited, headers=inspector.headers)
    assert resubmitted.status_code == 200, resubmitted.get_json()
    assert resubmitted.get_json()["status"] == "submitted"
    assert resubmitted.get_json()["version"] == 2

    # the reviewer's old view (version 1) is stale now
    assert review(client, reviewer, inspection_id, "approve", version=1).get_json()["error"]["code"] == \
        "version_conflict"
    assert review(client, reviewer, inspection_id, "approve", version=2).status_code == 200

    history = client.get(f"/api/v1/inspections/{inspection_id}/history", headers=inspector.headers).get_json()
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert history["versions"][0]["answers"]["cleanliness"]["no_garbage_piles"] is False
    assert history["versions"][1]["answers"]["cleanliness"]["no_garbage_piles"] is True
    assert history["versions"][0]["notes"] == "first visit"
    assert [(r["decision"], r["version"]) for r in history["reviews"]] == [("return", 1), ("approve", 2)]
    assert history["reviews"][0]["comment"] == "the pond photo is missing"
    assert [(a["action"], a["to_status"], a["version"]) for a in history["audit"]] == [
        ("inspection.submitted", "submitted", 1), ("inspection.returned", "returned", 1),
        ("inspection.resubmitted", "submitted", 2), ("inspection.approved", "approved", 2)]
    assert history["inspection"]["status"] == "approved"
