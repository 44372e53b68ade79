"""Webhook endpoints kept per township in the database, against real HTTP servers on 127.0.0.1:
an administrator adds, changes, disables and deletes them within their scope (every change audited);
an inspection's event reaches the endpoints of its own division subtree, signed with each one's
secret, besides WEBHOOK_URLS; "send test event" POSTs a signed ping now and answers its outcome."""
import json

import pytest

from tests.factories import create_inspection, refused, sql
from tests.webhook_receiver import WebhookReceiver, refused_url, signed_with

MISHAN = "230382100"        # 密山镇
LIANZHUSHAN = "230382101"   # 连珠山镇, another township of the same county
MISHAN_VILLAGE = "230382100200"


@pytest.fixture
def receiver():
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def other_receiver():
    with WebhookReceiver("/hooks/other") as r:
        yield r


def add_endpoint(client, user, division, url, **fields):
    response = client.post("/api/v1/webhook-endpoints", headers=user.headers,
                           json={"division_code": division, "url": url, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def approve(client, user, inspection_id):
    # buffered: the response is consumed and closed, as a WSGI server does after sending it
    response = client.post(f"/api/v1/inspections/{inspection_id}/review", headers=user.headers, buffered=True,
                           json={"decision": "approve", "comment": "ok", "version": 1})
    assert response.status_code == 200, response.get_json()
    return response


def audit_rows(app, action_prefix="webhook_endpoint."):
    return sql(app, "SELECT action, object_id, division_code, actor_id, details FROM audit_log "
                    "WHERE action LIKE :p ORDER BY id", p=action_prefix + "%")


def details_of(row):
    return row.details if isinstance(row.details, dict) else json.loads(row.details)


def deliveries(app):
    return sql(app, "SELECT id, event, status, attempts, last_status_code, last_error, url, endpoint_id "
                    "FROM webhook_deliveries ORDER BY id")


# --- create, read, list ---------------------------------------------------------------------

def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(app, client, admin, receiver):
    made = add_endpoint(client, admin, MISHAN, receiver.url)
    assert made["division"] == {"code": MISHAN, "name": "密山镇", "level": "township"}
    assert made["url"] == receiver.url and made["active"] is True and made["events"] is None
    assert made["created_by"]["id"] == admin.id
    assert len(made["secret"]) >= 40
    one = client.get(f"/api/v1/webhook-endpoints/{made['id']}", headers=admin.headers).get_json()
    assert one["id"] == made["id"] and "secret" not in one
    listed = client.get("/api/v1/webhook-endpoints", headers=admin.headers).get_json()
    assert [e["id"] for e in listed["items"]] == [made["id"]] and "secret" not in listed["items"][0]
    assert sql(app, "SELECT secret FROM webhook_endpoints")[0].secret == made["secret"]
    (row,) = audit_rows(app)
    assert (row.action, row.object_id, row.division_code, row.actor_id) == (
        "webhook_endpoint.created", str(made["id"]), MISHAN, admin.id)
    assert details_of(row) == {"url": receiver.url, "events": None, "active": True}
    assert made["secret"] not in json.dumps(details_of(row))


def test_the_events_subscribed_are_kept_in_order_and_all_of_them_means_null(client, admin, receiver):
    some = add_endpoint(client, admin, MISHAN, receiver.url, events=["inspection.approved", "inspection.submitted"])
    assert some["events"] == ["inspection.submitted", "inspection.approved"]
    every = add_endpoint(client, admin, MISHAN, receiver.url, events=[
        "inspection.reopened", "inspection.rejected", "inspection.approved", "inspection.returned",
        "inspection.submitted"])
    assert every["events"] is None


@pytest.mark.parametrize("url", ["ftp://example.org/hooks", "javascript:alert(1)", "file:///etc/passwd",
                                 "example.org/hooks", "http://", "https://exa mple.org/x"])
def test_a_url_that_is_not_http_or_https_is_refused_in_both_languages(app, client, admin, url):
    response = client.post("/api/v1/webhook-endpoints", headers=admin.headers,
                           json={"division_code": MISHAN, "url": url})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"] == {"url": ["Not a valid URL."]}
    assert error["fields_zh"] == {"url": ["不是有效的网址。"]}
    assert "url" in error["message"] and error["message_zh"]
    assert sql(app, "SELECT count(*) FROM webhook_endpoints")[0][0] == 0


def test_an_unknown_event_is_refused(client, admin, receiver):
    response = client.post("/api/v1/webhook-endpoints", headers=admin.headers,
                           json={"division_code": MISHAN, "url": receiver.url, "events": ["inspection.deleted"]})
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["events.0"]


def test_a_division_outside_the_admins_scope_does_not_exist_for_them(app, client, make_user, receiver):
    county_admin = make_user("admin", "230382")  # 密山市
    refused(client.post("/api/v1/webhook-endpoints", headers=county_admin.headers,
                        json={"division_code": "230381100", "url": receiver.url}), 404)
    assert sql(app, "SELECT count(*) FROM webhook_endpoints")[0][0] == 0


def test_an_endpoint_outside_the_admins_scope_is_404_for_every_method(app, client, admin, make_user, receiver):
    made = add_endpoint(client, admin, MISHAN, receiver.url)
    elsewhere = make_user("admin", "230381")  # 虎林市
    path = f"/api/v1/webhook-endpoints/{made['id']}"
    refused(client.get(path, headers=elsewhere.headers), 404)
    refused(client.patch(path, headers=elsewhere.headers, json={"active": False}), 404)
    refused(client.delete(path, headers=elsewhere.headers), 404)
    refused(client.post(path + "/test", headers=elsewhere.headers), 404)
    assert client.get("/api/v1/webhook-endpoints", headers=elsewhere.headers).get_json()["total"] == 0
    assert receiver.received == []
    assert sql(app, "SELECT active FROM webhook_endpoints")[0].active in (True, 1)
    assert [r.action for r in audit_rows(app)] == ["webhook_endpoint.created"]


def test_only_admins_manage_endpoints(client, reviewer, bureau):
    for user in (reviewer, bureau):
        refused(client.get("/api/v1/webhook-endpoints", headers=user.headers), 403)
        refused(client.post("/api/v1/webhook-endpoints", headers=user.headers,
                            json={"division_code": MISHAN, "url": "https://example.org/h"}), 403)


def test_the_list_filters_by_division_subtree_and_state(client, admin, receiver):
    mishan = add_endpoint(client, admin, MISHAN, receiver.url)
    other = add_endpoint(client, admin, LIANZHUSHAN, receiver.url, active=False)
    city = add_endpoint(client, admin, "2303", receiver.url)

    def ids(**query):
        return [e["id"] for e in client.get("/api/v1/webhook-endpoints", headers=admin.headers,
                                            query_string=query).get_json()["items"]]

    assert ids() == [city["id"], mishan["id"], other["id"]]
    assert ids(division="230382") == [mishan["id"], other["id"]]
    assert ids(active="false") == [other["id"]]


# --- change, disable, rotate, delete --------------------------------------------------------

def test_changes_are_audited_each_once_and_the_secret_shown_only_when_rotated(app, client, admin, receiver):
    made = add_endpoint(client, admin, MISHAN, receiver.url)
    path = f"/api/v1/webhook-endpoints/{made['id']}"
    changed = client.patch(path, headers=admin.headers,
                           json={"url": "https://hooks.example.org/mishan", "events": ["inspection.approved"]})
    assert changed.status_code == 200
    assert changed.get_json()["secret"] is None
    assert changed.get_json()["events"] == ["inspection.approved"]
    assert client.patch(path, headers=admin.headers, json={"active": False}).get_json()["active"] is False
    rotated = client.patch(path, headers=admin.headers, json={"rotate_secret": True}).get_json()
    assert len(rotated["secret"]) >= 40 and rotated["secret"] != made["secret"]
    assert rotated["secret_rotated_at"] is not None
    assert sql(app, "SELECT secret FROM webhook_endpoints")[0].secret == rotated["secret"]
    assert client.patch(path, headers=admin.headers, json={"active": True}).status_code == 200
    assert client.patch(path, headers=admin.headers, json={"active": True}).status_code == 200  # no change: no entry
    rows = audit_rows(app)
    assert [r.action for r in rows] == ["webhook_endpoint.created", "webhook_endpoint.updated",
                                        "webhook_endpoint.disabled", "webhook_endpoint.secret_rotated",
                                        "webhook_endpoint.enabled"]
    assert details_of(rows[1]) == {"url": "https://hooks.example.org/mishan",
                                   "changes": {"url": [receiver.url, "https://hooks.example.org/mishan"],
                                               "events": [None, ["inspection.approved"]]}}
    assert all(rotated["secret"] not in json.dumps(details_of(r)) for r in rows)


def test_moving_an_endpoint_outside_the_scope_is_404_and_changes_nothing(app, client, make_user, receiver):
    county_admin = make_user("admin", "230382")
    made = add_endpoint(client, county_admin, MISHAN, receiver.url)
    refused(client.patch(f"/api/v1/webhook-endpoints/{made['id']}", headers=county_admin.headers,
                         json={"division_code": "230381100"}), 404)
    assert sql(app, "SELECT division_code FROM webhook_endpoints")[0].division_code == MISHAN


def test_deleting_an_endpoint_keeps_its_deliveries_and_gives_up_the_pending_ones(app, client, admin, reviewer):
    made = add_endpoint(client, admin, MISHAN, refused_url())
    approve(client, reviewer, create_inspection(app).id)
    assert [(d.status, d.endpoint_id) for d in deliveries(app)] == [("pending", made["id"])]
    response = client.delete(f"/api/v1/webhook-endpoints/{made['id']}", headers=admin.headers)
    assert response.status_code == 204
    refused(client.get(f"/api/v1/webhook-endpoints/{made['id']}", headers=admin.headers), 404)
    (row,) = deliveries(app)
    assert (row.status, row.last_error, row.endpoint_id) == ("failed", "endpoint deleted", None)
    deleted = audit_rows(app)[-1]
    assert deleted.action == "webhook_endpoint.deleted" and details_of(deleted)["pending_given_up"] == 1


def test_a_disabled_endpoint_receives_nothing_and_its_pending_deliveries_fail(app, client, admin, reviewer,
                                                                              receiver):
    broken = add_endpoint(client, admin, MISHAN, refused_url())
    approve(client, reviewer, create_inspection(app).id)
    client.patch(f"/api/v1/webhook-endpoints/{broken['id']}", headers=admin.headers, json={"active": False})
    assert [(d.status, d.last_error) for d in deliveries(app)] == [("failed", "endpoint disabled")]
    approve(client, reviewer, create_inspection(app).id)
    assert len(deliveries(app)) == 1


# --- fan-out --------------------------------------------------------------------------------

def test_an_event_reaches_its_townships_endpoint_signed_with_its_secret_and_not_the_other_townships(
        app, client, admin, reviewer, receiver, other_receiver):
    mishan = add_endpoint(client, admin, MISHAN, receiver.url)
    add_endpoint(client, admin, LIANZHUSHAN, other_receiver.url)
    made = create_inspection(app, village=MISHAN_VILLAGE)
    approve(client, reviewer, made.id)
    assert other_receiver.received == []
    (got,) = receiver.received
    assert signed_with(got, mishan["secret"])
    assert not signed_with(got, "test-secret-key")
    assert got["headers"]["X-Event"] == "inspection.approved"
    payload = json.loads(got["body"])
    assert (payload["event"], payload["inspection"]["id"], payload["inspection"]["township"]) == (
        "inspection.approved", made.id, MISHAN)
    (row,) = deliveries(app)
    assert (row.status, row.endpoint_id, row.url, row.last_status_code) == ("delivered", mishan["id"], receiver.url, 200)
    assert got["headers"]["X-Delivery-Id"] == str(row.id)


def test_the_other_townships_event_reaches_only_its_own_endpoint(app, client, admin, make_user, receiver,
                                                                 other_receiver):
    add_endpoint(client, admin, MISHAN, receiver.url)
    other = add_endpoint(client, admin, LIANZHUSHAN, other_receiver.url)
    reviewer_b = make_user("reviewer", LIANZHUSHAN)
    approve(client, reviewer_b, create_inspection(app, village="230382101200").id)
    assert receiver.received == []
    assert len(other_receiver.received) == 1 and signed_with(other_receiver.received[0], other["secret"])


def test_a_county_endpoint_and_the_environments_url_each_get_the_same_event_with_their_own_key(
        app, client, admin, reviewer, receiver, other_receiver, monkeypatch):
    with WebhookReceiver("/hooks/env") as env_receiver:
        monkeypatch.setitem(app.config, "WEBHOOK_URLS", json.dumps({MISHAN: env_receiver.url}))
        monkeypatch.setitem(app.config, "WEBHOOK_SECRET", "environment-secret")
        county = add_endpoint(client, admin, "230382", receiver.url)
        township = add_endpoint(client, admin, MISHAN, other_receiver.url)
        approve(client, reviewer, create_inspection(app).id)
        (env_got,) = env_receiver.received
    assert signed_with(env_got, "environment-secret")
    assert signed_with(receiver.received[0], county["secret"])
    assert signed_with(other_receiver.received[0], township["secret"])
    bodies = {env_got["body"], receiver.received[0]["body"], other_receiver.received[0]["body"]}
    assert len(bodies) == 1  # one event, one event_id
    assert sorted((d.endpoint_id or 0) for d in deliveries(app)) == [0, county["id"], township["id"]]


def test_an_endpoint_gets_only_the_events_it_subscribes_to(app, client, admin, reviewer, receiver):
    add_endpoint(client, admin, MISHAN, receiver.url, events=["inspection.returned"])
    approve(client, reviewer, create_inspection(app).id)
    assert receiver.received == [] and deliveries(app) == []
    returned = client.post(f"/api/v1/inspections/{create_inspection(app).id}/review", headers=reviewer.headers,
                           buffered=True, json={"decision": "return", "comment": "photo blurred", "version": 1})
    assert returned.status_code == 200
    assert [r["headers"]["X-Event"] for r in receiver.received] == ["inspection.returned"]


def test_a_retry_of_an_endpoints_delivery_is_signed_with_its_current_secret(app, client, admin, reviewer, receiver,
                                                                            monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_BASE_SECONDS", 0)
    made = add_endpoint(client, admin, MISHAN, receiver.url)
    receiver.status = 503
    approve(client, reviewer, create_inspection(app).id)
    assert deliveries(app)[0].status == "pending"
    rotated = client.patch(f"/api/v1/webhook-endpoints/{made['id']}", headers=admin.headers,
                           json={"rotate_secret": True}).get_json()["secret"]
    receiver.status = 200
    result = app.test_cli_runner().invoke(args=["webhooks", "deliver"])
    assert "delivered 1" in result.output, result.output
    first, retry = receiver.received
    assert signed_with(first, made["secret"]) and signed_with(retry, rotated)
    assert first["body"] == retry["body"]


def test_deliveries_filter_by_endpoint(app, client, admin, reviewer, receiver, other_receiver, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_URLS", json.dumps({MISHAN: other_receiver.url}))
    made = add_endpoint(client, admin, MISHAN, receiver.url)
    approve(client, reviewer, create_inspection(app).id)

    def listed(**query):
        body = client.get("/api/v1/webhooks/deliveries", headers=admin.headers, query_string=query).get_json()
        return [(i["endpoint_id"], i["url"]) for i in body["items"]]

    assert listed(endpoint=made["id"]) == [(made["id"], receiver.url)]
    assert listed(endpoint=0) == [(None, other_receiver.url)]
    assert len(listed()) == 2


# --- send test event ------------------------------------------------------------------------

def test_a_test_event_is_posted_signed_now_and_its_success_recorded(app, client, admin, receiver):
    made = add_endpoint(client, admin, MISHAN, receiver.url)
    response = client.post(f"/api/v1/webhook-endpoints/{made['id']}/test", headers=admin.headers)
    assert response.status_code == 200
    result = response.get_json()
    assert (result["ok"], result["status_code"], result["error"]) == (True, 200, None)
    assert 0 <= result["duration_ms"] < 3000
    (got,) = receiver.received
    assert signed_with(got, made["secret"]) and got["headers"]["X-Event"] == "ping"
    payload = json.loads(got["body"])
    assert payload["event"] == "ping" and payload["endpoint"] == {"id": made["id"], "division": MISHAN}
    assert got["headers"]["X-Delivery-Id"] == str(result["delivery"]["id"])
    (row,) = deliveries(app)
    assert (row.event, row.status, row.attempts, row.last_status_code, row.endpoint_id) == (
        "ping", "delivered", 1, 200, made["id"])
    assert result["delivery"]["status"] == "delivered"


def test_a_test_event_answered_500_is_reported_failed_and_never_retried(app, client, admin, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_CLAIM_SECONDS", 0)
    receiver.status = 500
    made = add_endpoint(client, admin, MISHAN, receiver.url)
    result = client.post(f"/api/v1/webhook-endpoints/{made['id']}/test", headers=admin.headers).get_json()
    assert (result["ok"], result["status_code"], result["error"]) == (False, 500, "HTTP 500")
    assert result["delivery"]["status"] == "failed" and result["delivery"]["attempts"] == 1
    app.test_cli_runner().invoke(args=["webhooks", "deliver"])
    assert len(receiver.received) == 1
    assert [(d.status, d.attempts) for d in deliveries(app)] == [("failed", 1)]


def test_a_test_event_to_a_refused_port_says_so(app, client, admin):
    made = add_endpoint(client, admin, MISHAN, refused_url())
    result = client.post(f"/api/v1/webhook-endpoints/{made['id']}/test", headers=admin.headers).get_json()
    assert result["ok"] is False and result["status_code"] is None
    assert "refused" in result["error"].lower()
    (row,) = deliveries(app)
    assert (row.status, row.last_status_code) == ("failed", None) and "refused" in row.last_error.lower()


# --- the audit log by division ---------------------------------------------------------------

def test_the_audit_log_filters_by_division_subtree(client, admin, receiver):
    add_endpoint(client, admin, MISHAN, receiver.url)
    add_endpoint(client, admin, "230381100", receiver.url)

    def divisions(**query):
        body = client.get("/api/v1/audit", headers=admin.headers,
                          query_string={"action": "webhook_endpoint.created", **query}).get_json()
        return [i["division_code"] for i in body["items"]]

    assert divisions(division="230382") == [MISHAN]
    assert sorted(divisions()) == ["230381100", MISHAN]
