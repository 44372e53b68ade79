""""Send test event": a real signed `ping` POSTed to one database endpoint now, its outcome
answered and kept as a delivery (never retried: the administrator is looking at the answer).

The delivery row is committed before the POST (so its id in `X-Delivery-Id` exists) with its next
attempt pushed a claim period ahead, so `flask webhooks deliver` never sends it a second time;
the HTTP request runs outside any open transaction, and the outcome is committed after it."""
import time
import uuid
from datetime import timedelta

from flask import current_app

from app.extensions import db
from app.models import WebhookDelivery
from app.models.types import utcnow
from app.services.webhook_endpoints import get_endpoint
from app.services.webhooks import post_event

PING = "ping"


def ping_payload(endpoint, user):
    return {
        "event": PING,
        "event_id": uuid.uuid4().hex,
        "occurred_at": utcnow().isoformat(),
        "endpoint": {"id": endpoint.id, "division": endpoint.division_code},
        "sent_by": user.username,
    }


def ping_endpoint(endpoint_id, user):
    """POST a signed ping to the endpoint (404 outside `user`'s scope); commits its own short
    transactions. Returns {"ok", "status_code", "error", "duration_ms", "delivery"}."""
    endpoint = get_endpoint(endpoint_id, user)
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["WEBHOOK_CLAIM_SECONDS"])
    delivery = WebhookDelivery(event=PING, township_code=endpoint.division_code, inspection_id=None,
                               url=endpoint.url, endpoint_id=endpoint.id, payload=ping_payload(endpoint, user),
                               status="pending", attempts=0,
                               next_attempt_at=lease)
    db.session.add(delivery)
    db.session.commit()
    url, payload, secret, delivery_id = endpoint.url, delivery.payload, endpoint.secret, delivery.id

    started = time.monotonic()
    status_code, error = post_event(url, payload, delivery_id, secret)
    duration_ms = round((time.monotonic() - started) * 1000)

    delivery = db.session.get(WebhookDelivery, delivery_id)
    ok = status_code is not None and 200 <= status_code < 300
    delivery.attempts = 1
    delivery.last_status_code = status_code
    delivery.last_error = None if ok else (error or f"HTTP {status_code}")
    delivery.status = "delivered" if ok else "failed"
    delivery.delivered_at = utcnow() if ok else None
    db.session.commit()
    return {"ok": ok, "status_code": status_code, "error": delivery.last_error, "duration_ms": duration_ms,
            "delivery": delivery}
