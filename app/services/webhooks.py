"""Township webhooks: inspection events go to an outbox table and are delivered with retries.

`WEBHOOK_URLS` maps a township code (or any division-code prefix) to a URL; the longest prefix of
the inspection's village code wins. Besides it, every active database endpoint whose division
contains the village and that subscribes to the event gets its own delivery
(services/webhook_endpoints.py). `queue_inspection_event` only adds `WebhookDelivery` rows in
the caller's transaction, so an event exists exactly when the change it reports was committed.
Delivery happens outside any request transaction, in the job `webhooks.deliver` (app/jobs.py),
queued once the response has been sent (`deliver_after_response`, installed on every request);
a failed attempt queues its retry for its `next_attempt_at`, and the worker's periodic sweep
`webhooks.sweep_due` sends any due delivery (a retry lost with a killed worker, a broker that was
down, an event queued outside a request): no cron. `flask webhooks deliver` is a manual tool.
Each POST carries `X-Signature: sha256=<hex HMAC-SHA256 of the body>` keyed by the database
endpoint's own secret, or for `WEBHOOK_URLS` by `WEBHOOK_SECRET` (or `SECRET_KEY`). A failure (non-2xx, timeout, refused) is retried with exponential backoff;
after `WEBHOOK_MAX_ATTEMPTS` the delivery is `failed`. Nothing here ever fails the request.
"""
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

from flask import current_app, g, has_request_context
from sqlalchemy import select, update

from app.access import in_scope
from app.extensions import db
from app.jobs import enqueue, job, periodic, runner
from app.models import WebhookDelivery, WebhookEndpoint
from app.models.types import utcnow
from app.services.webhook_endpoints import endpoints_for

log = logging.getLogger(__name__)

def _setting(name):
    """WEBHOOK_TIMEOUT_SECONDS, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_BASE_SECONDS, WEBHOOK_CLAIM_SECONDS
    (config.py; a claimed delivery not finished within the claim time is tried again)."""
    return current_app.config[name]


def webhook_urls():
    raw = current_app.config.get("WEBHOOK_URLS") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw or "{}")
        except ValueError:
            log.error("WEBHOOK_URLS is not valid JSON; webhooks are off")
            return {}
    return raw if isinstance(raw, dict) else {}


def webhook_url_for(village_code):
    """(prefix, url) of the most specific configured prefix of `village_code`, or (None, None)."""
    matches = [(prefix, url) for prefix, url in webhook_urls().items() if url and village_code.startswith(prefix)]
    return max(matches, key=lambda m: len(m[0])) if matches else (None, None)


def event_payload(event, inspection):
    return {
        "event": event,
        "event_id": uuid.uuid4().hex,
        "occurred_at": utcnow().isoformat(),
        "inspection": {
            "id": inspection.id,
            "client_uuid": str(inspection.client_uuid),
            "village": inspection.village_code,
            "township": inspection.village_code[:9],
            "status": inspection.status,
            "version": inspection.version,
            "observed_at": inspection.observed_at.isoformat() if inspection.observed_at else None,
            "flag_count": inspection.flag_count,
        },
    }


def queue_inspection_event(event, inspection):
    """Queue `event` ('inspection.submitted', 'inspection.returned', 'inspection.approved', ...)
    for the `WEBHOOK_URLS` webhook of the inspection's township, if one is configured, and for each
    matching database endpoint (one delivery each, the same event). Never raises for delivery
    problems; delivery happens after the request's commit. Returns the WebhookDeliveries queued."""
    _, url = webhook_url_for(inspection.village_code)
    targets = [(None, url)] if url is not None else []
    targets += [(endpoint.id, endpoint.url) for endpoint in endpoints_for(event, inspection.village_code)]
    if not targets:
        return []
    if inspection.id is None:
        db.session.flush()
    payload = event_payload(event, inspection)
    deliveries = [WebhookDelivery(event=event, township_code=inspection.village_code[:9], inspection_id=inspection.id,
                                  url=target_url, endpoint_id=endpoint_id, payload=payload, status="pending",
                                  attempts=0, next_attempt_at=utcnow())
                  for endpoint_id, target_url in targets]
    db.session.add_all(deliveries)
    db.session.flush()
    if has_request_context():
        g.setdefault("webhook_delivery_ids", []).extend(d.id for d in deliveries)
    return deliveries


# --- delivery -------------------------------------------------------------------------------

def signature(body, secret=None):
    """`secret`: a database endpoint's own; None: `WEBHOOK_SECRET` (or `SECRET_KEY`)."""
    key = (secret or current_app.config.get("WEBHOOK_SECRET") or current_app.config["SECRET_KEY"]).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def post_event(url, payload, delivery_id, secret=None):
    """POST the payload signed with `secret` (see `signature`); returns (HTTP status or None, error text or None)."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "rural-inspections-webhook/1",
        "X-Event": payload.get("event", ""),
        "X-Delivery-Id": str(delivery_id),
        "X-Signature": signature(body, secret),
    })
    try:
        with urllib.request.urlopen(request, timeout=float(_setting("WEBHOOK_TIMEOUT_SECONDS"))) as response:
            return response.status, None
    except urllib.error.HTTPError as error:
        return error.code, f"HTTP {error.code}"
    except Exception as error:  # timeouts, refused connections, DNS: all are retried
        return None, f"{type(error).__name__}: {error}"[:500]


def _claim(ids=None, limit=50, now=None):
    """Take due pending deliveries (a short transaction of its own): returns [(id, url, payload, secret)]
    (secret: the database endpoint's, None for `WEBHOOK_URLS`).

    The claim pushes next_attempt_at forward by WEBHOOK_CLAIM_SECONDS, so a second worker does not
    send the same delivery at the same time, and a worker that dies leaves it to be tried later."""
    now = now or utcnow()
    stmt = select(WebhookDelivery.id).where(WebhookDelivery.status == "pending",
                                            WebhookDelivery.next_attempt_at <= now)
    if ids is not None:
        stmt = stmt.where(WebhookDelivery.id.in_(ids))
    stmt = stmt.order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    due = db.session.scalars(stmt).all()
    if not due:
        db.session.commit()
        return []
    lease = now + timedelta(seconds=_setting("WEBHOOK_CLAIM_SECONDS"))
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(due))
                       .values(next_attempt_at=lease).execution_options(synchronize_session=False))
    rows = db.session.execute(select(WebhookDelivery.id, WebhookDelivery.url, WebhookDelivery.payload,
                                     WebhookEndpoint.secret)
                              .outerjoin(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                              .where(WebhookDelivery.id.in_(due)).order_by(WebhookDelivery.id)).all()
    db.session.commit()
    return [tuple(r) for r in rows]


def _record_result(delivery_id, status_code, error, now):
    delivery = db.session.get(WebhookDelivery, delivery_id)
    delivery.attempts += 1
    delivery.last_status_code = status_code
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        return "delivered"
    delivery.last_error = error or f"HTTP {status_code}"
    if delivery.attempts >= int(_setting("WEBHOOK_MAX_ATTEMPTS")):
        delivery.status = "failed"
        return "failed"
    backoff = int(_setting("WEBHOOK_RETRY_BASE_SECONDS")) * 2 ** (delivery.attempts - 1)
    delivery.next_attempt_at = now + timedelta(seconds=backoff)
    return "retrying"


def deliver_pending(limit=50, ids=None, now=None):
    """Send due deliveries (or just `ids`); commits its own short transactions and returns the
    counts {"delivered", "retrying", "failed"}. HTTP happens outside any open transaction."""
    db.session.commit()
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    for delivery_id, url, payload, secret in _claim(ids=ids, limit=limit, now=now):
        status_code, error = post_event(url, payload, delivery_id, secret)
        outcome = _record_result(delivery_id, status_code, error, now or utcnow())
        db.session.commit()
        counts[outcome] += 1
        if outcome != "delivered":
            log.warning("webhook delivery %s to %s: %s", delivery_id, url, error or status_code)
    return counts


def deliver_after_response(response):
    """after_request hook: the deliveries queued by this request go to the job queue once the
    response has been handed to the client (WSGI close), so a slow or dead endpoint never delays
    or fails it (with JOB_BROKER=immediate they are sent there and then)."""
    ids = g.pop("webhook_delivery_ids", None)
    if ids and response.status_code < 400:
        app = current_app._get_current_object()

        def send():
            with app.app_context():
                try:
                    enqueue("webhooks.deliver", list(ids))
                except Exception:  # the periodic sweep sends them when due
                    log.exception("could not queue webhook deliveries %s", ids)
                    db.session.rollback()

        response.call_on_close(send)
    return response


# --- delivery jobs (app/jobs.py) -------------------------------------------------------------
#
# The delivery table stays the record of what must be sent; the claim above (next_attempt_at
# pushed forward while a delivery is sent) keeps a job and the sweep from sending one twice.

@job("webhooks.deliver")
def deliver_job(ids):
    """Send these deliveries if they are (still) pending and due; queue the retries of those that
    failed for their next attempt. Returns the counts of deliver_pending."""
    counts = deliver_pending(limit=len(ids), ids=ids)
    if counts["retrying"]:
        queue_retries(ids)
    return counts


def queue_retries(ids):
    """A job for each of these deliveries still pending, at its next_attempt_at. Not with
    JOB_BROKER=immediate: a retry due now would run inside this one, over and over; there the
    retries wait for `flask jobs sweep` or `flask webhooks deliver`."""
    if runner().immediate:
        return
    rows = db.session.execute(select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
                              .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == "pending")).all()
    db.session.commit()
    for delivery_id, retry_at in rows:
        try:
            enqueue("webhooks.deliver", [delivery_id], eta=retry_at)
        except Exception:  # the sweep sends it when due
            log.exception("could not queue the retry of webhook delivery %s", delivery_id)


@periodic("webhooks.sweep_due")
def sweep_due_deliveries(limit=200):
    """Send every pending delivery whose attempt is due (and queue the retries of the failures)."""
    now = utcnow()
    due = db.session.scalars(select(WebhookDelivery.id)
                             .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                             .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)).all()
    if not due:
        db.session.commit()
        return {"delivered": 0, "retrying": 0, "failed": 0}
    counts = deliver_pending(limit=limit, ids=due, now=now)
    if counts["retrying"]:
        queue_retries(due)
    return counts


def list_deliveries(user, status=None, endpoint=None):
    """Deliveries of townships in the user's scope, newest first (a statement for pagination);
    `endpoint`: only those to this database endpoint (0: only those to `WEBHOOK_URLS`)."""
    stmt = select(WebhookDelivery).where(in_scope(WebhookDelivery.township_code, user))
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if endpoint == 0:
        stmt = stmt.where(WebhookDelivery.endpoint_id.is_(None))
    elif endpoint is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint)
    return stmt.order_by(WebhookDelivery.id.desc())
