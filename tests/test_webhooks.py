"""Township webhooks against a real HTTP server on 127.0.0.1: signed delivery after the response,
failures that never block a review, retries with backoff, the admin's view and the CLI."""
import hashlib
import hmac
import json
import socket
from datetime import datetime, timedelta, timezone

import pytest

from app.extensions import db
from app.services.webhooks import deliver_pending
from tests.factories import create_inspection, refused, sql
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver():
    with WebhookReceiver(path="/hooks/jixi") as r:
        yield r


@pytest.fixture
def refused_url():
    """A local port with nobody listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hooks"


@pytest.fixture
def hooks(app, monkeypatch):
    def configure(urls, **settings):
        monkeypatch.setitem(app.config, "WEBHOOK_URLS", json.dumps(urls))
        for key, value in settings.items():
            monkeypatch.setitem(app.config, key, value)

    return configure


def decide(client, user, inspection_id, decision="approve", comment="ok"):
    # buffered: the response is consumed and closed, as a WSGI server does after sending it
    return client.post(f"/api/v1/inspections/{inspection_id}/review", headers=user.headers, buffered=True,
                       json={"decision": decision, "comment": comment, "version": 1})


def deliveries(app):
    return sql(app, "SELECT id, event, status, attempts, last_status_code, last_error, next_attempt_at, url "
                    "FROM webhook_deliveries ORDER BY id")


@pytest.mark.parametrize("decision,event", [("approve", "inspection.approved"), ("return", "inspection.returned"),
                                            ("reject", "inspection.rejected")])
def test_a_decision_is_posted_signed_to_the_township_webhook(app, client, reviewer, receiver, hooks,
                                                             decision, event):
    hooks({"230382100": receiver.url})
    made = create_inspection(app)
    assert decide(client, reviewer, made.id, decision).status_code == 200
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got["path"] == "/hooks/jixi"
    expected = "sha256=" + hmac.new(b"test-secret-key", got["body"], hashlib.sha256).hexdigest()
    assert got["headers"]["X-Signature"] == expected
    assert got["headers"]["X-Event"] == event
    payload = json.loads(got["body"])
    assert payload["event"] == event
    assert payload["inspection"]["id"] == made.id
    assert payload["inspection"]["village"] == "230382100200"
    assert payload["inspection"]["township"] == "230382100"
    assert payload["inspection"]["status"] == {"approve": "approved", "return": "returned",
                                               "reject": "rejected"}[decision]
    row = deliveries(app)[0]
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    assert got["headers"]["X-Delivery-Id"] == str(row.id)


def test_the_webhook_secret_keys_the_signature(app, client, reviewer, receiver, hooks):
    hooks({"2303": receiver.url}, WEBHOOK_SECRET="township-shared-secret")
    made = create_inspection(app)
    decide(client, reviewer, made.id)
    got = receiver.received[0]
    mac = hmac.new(b"township-shared-secret", got["body"], hashlib.sha256).hexdigest()
    assert got["headers"]["X-Signature"] == f"sha256={mac}"


def test_the_most_specific_prefix_wins_and_other_townships_get_nothing(app, client, reviewer, hooks, receiver):
    with WebhookReceiver(path="/hooks/jixi") as city_wide:
        hooks({"2303": city_wide.url, "230382100": receiver.url, "230381": "http://127.0.0.1:9/never"})
        made = create_inspection(app)
        decide(client, reviewer, made.id)
        assert len(receiver.received) == 1 and city_wide.received == []
    assert [r.url for r in deliveries(app)] == [receiver.url]


def test_no_configured_url_queues_nothing(app, client, reviewer, hooks):
    hooks({"230381": "http://127.0.0.1:9/other-county"})
    made = create_inspection(app)
    assert decide(client, reviewer, made.id).status_code == 200
    assert deliveries(app) == []


def test_an_endpoint_answering_500_never_blocks_the_review(app, client, reviewer, admin, receiver, hooks):
    hooks({"230382100": receiver.url}, WEBHOOK_RETRY_BASE_SECONDS=60)
    receiver.status = 500
    made = create_inspection(app)
    before = datetime.now(timezone.utc)
    response = decide(client, reviewer, made.id)
    assert response.status_code == 200
    assert sql(app, "SELECT status FROM inspections WHERE id = :id", id=made.id)[0].status == "approved"
    assert len(receiver.received) == 1
    row = deliveries(app)[0]
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 500)
    with app.app_context():  # read back through the model for an aware time
        from app.models import WebhookDelivery

        due = db.session.get(WebhookDelivery, row.id).next_attempt_at
    assert before + timedelta(seconds=59) <= due <= datetime.now(timezone.utc) + timedelta(seconds=61)
    listed = client.get("/api/v1/webhooks/deliveries", query_string={"status": "pending"}, headers=admin.headers)
    assert listed.status_code == 200
    item = listed.get_json()["items"][0]
    assert (item["event"], item["attempts"], item["last_status_code"]) == ("inspection.approved", 1, 500)


def test_a_refused_connection_never_blocks_the_review(app, client, reviewer, refused_url, hooks):
    hooks({"230382100": refused_url})
    made = create_inspection(app)
    assert decide(client, reviewer, made.id).status_code == 200
    row = deliveries(app)[0]
    assert row.status == "pending" and row.attempts == 1 and row.last_status_code is None
    assert "refused" in row.last_error.lower()


def test_retries_back_off_exponentially_then_fail(app, client, reviewer, admin, refused_url, hooks):
    hooks({"230382100": refused_url}, WEBHOOK_MAX_ATTEMPTS=4, WEBHOOK_RETRY_BASE_SECONDS=60)
    made = create_inspection(app)
    decide(client, reviewer, made.id)
    now = datetime.now(timezone.utc)
    gaps = []
    with app.app_context():
        from app.models import WebhookDelivery

        for _ in range(3):
            due = db.session.get(WebhookDelivery, deliveries(app)[0].id).next_attempt_at
            gaps.append(round((due - now).total_seconds()))
            db.session.rollback()
            now = due
            assert deliver_pending(now=now)["retrying" if len(gaps) < 3 else "failed"] == 1
        # not due yet: nothing is sent
        assert deliver_pending(now=now) == {"delivered": 0, "retrying": 0, "failed": 0}
    assert gaps[1:] == [120, 240]  # 60 · 2^(attempt - 1) after attempts 2 and 3
    row = deliveries(app)[0]
    assert (row.status, row.attempts) == ("failed", 4)
    failed = client.get("/api/v1/webhooks/deliveries", query_string={"status": "failed"}, headers=admin.headers)
    assert [i["id"] for i in failed.get_json()["items"]] == [row.id]


def test_the_cli_delivers_a_retry_once_the_endpoint_recovers(app, client, reviewer, receiver, hooks):
    hooks({"230382100": receiver.url}, WEBHOOK_RETRY_BASE_SECONDS=0)
    receiver.status = 503
    made = create_inspection(app)
    decide(client, reviewer, made.id, "return", comment="redo the sewage photo")
    assert deliveries(app)[0].status == "pending"
    receiver.status = 204
    result = app.test_cli_runner().invoke(args=["webhooks", "deliver"])
    assert result.exit_code == 0, result.output
    assert "delivered 1" in result.output
    row = deliveries(app)[0]
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 2, 204)
    assert len(receiver.received) == 2
    assert receiver.received[0]["body"] == receiver.received[1]["body"]  # the same event, re-sent


def test_a_failed_request_queues_no_event(app, client, reviewer, receiver, hooks):
    hooks({"230382100": receiver.url})
    made = create_inspection(app, status="approved")
    assert decide(client, reviewer, made.id).status_code == 409
    assert deliveries(app) == [] and receiver.received == []


def test_only_admins_see_deliveries(client, reviewer, bureau):
    for user in (reviewer, bureau):
        refused(client.get("/api/v1/webhooks/deliveries", headers=user.headers), 403)


def test_admins_see_only_deliveries_in_scope(app, client, reviewer, make_user, refused_url, hooks):
    hooks({"230382100": refused_url})
    decide(client, reviewer, create_inspection(app).id)
    elsewhere = make_user("admin", "230381")
    assert client.get("/api/v1/webhooks/deliveries", headers=elsewhere.headers).get_json()["total"] == 0
    city = make_user("admin", "2303")
    assert client.get("/api/v1/webhooks/deliveries", headers=city.headers).get_json()["total"] == 1
