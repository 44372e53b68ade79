"""Webhook deliveries as jobs (app/jobs.py): when and how often they are attempted, with no cron.

The webhook delivery table (services/webhooks.py) stays the record of what must be sent. The
deliveries queued by a request become one `webhooks.deliver` job once its response has been sent
(`queue_deliveries_after_response`, installed on every request in place of sending them in the
request's thread); a delivery that fails gets its retry queued for its `next_attempt_at`; and the
periodic sweep `webhooks.sweep_due` (every JOB_SWEEP_MINUTES) sends whatever is due — a retry
lost with a killed worker, a broker that was down, events queued outside a request (the CLI).
`flask webhooks deliver` remains a manual tool. The claim in services.webhooks (next_attempt_at
pushed forward while a delivery is sent) keeps a job and the sweep from sending it twice.
"""
import logging

from flask import current_app, g
from sqlalchemy import select

from app.extensions import db
from app.jobs import enqueue, job, periodic, runner
from app.models import WebhookDelivery
from app.models.types import utcnow
from app.services.webhooks import deliver_pending

log = logging.getLogger(__name__)


@job("webhooks.deliver")
def deliver_job(ids):
    """Send these deliveries if they are (still) pending and due; queue the retries of those that
    failed for their next attempt. Returns the counts of services.webhooks.deliver_pending."""
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


def queue_deliveries_after_response(response):
    """after_request hook: the deliveries queued by this request (services.webhooks) go to the job
    queue once the response has been handed to the client (WSGI close), so a slow or dead endpoint
    never delays or fails it (with JOB_BROKER=immediate they are sent there and then)."""
    ids = g.pop("webhook_delivery_ids", None)
    if ids and response.status_code < 400:
        app = current_app._get_current_object()

        def send():
            with app.app_context():
                try:
                    enqueue("webhooks.deliver", list(ids))
                except Exception:  # the periodic sweep sends them when due
                    log.exception("could not queue webhook deliveries %s", ids)

        response.call_on_close(send)
    return response
