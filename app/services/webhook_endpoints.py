"""Webhook endpoints in the database: an administrator gives a division in their scope (a township,
or any division) a URL; the endpoint receives the events of the inspections inside its division's
subtree, each signed with the endpoint's own secret (generated here, shown once at creation and at
each rotation). Outside the administrator's scope an endpoint does not exist (404). Every change is
audited (`webhook_endpoint.created`, `.updated`, `.disabled`, `.enabled`, `.secret_rotated`,
`.deleted`; the secret itself never enters the log).

A disabled or deleted endpoint receives nothing more: its pending deliveries become `failed` with
the reason as their last error."""
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from app.access import division_in_scope_or_404, in_scope
from app.errors import NotFound
from app.extensions import db
from app.models import CODE_LENGTH, WEBHOOK_EVENTS, Division, WebhookDelivery, WebhookEndpoint, subtree
from app.models.types import utcnow
from app.services.audit import record_audit

SECRET_BYTES = 32


def new_secret():
    return secrets.token_urlsafe(SECRET_BYTES)


def _events(events):
    """The subscribed events in their canonical order; None (every event) when all are given."""
    if events is None:
        return None
    chosen = [event for event in WEBHOOK_EVENTS if event in set(events)]
    return None if len(chosen) == len(WEBHOOK_EVENTS) else chosen


def visible_endpoints(user):
    """SQL condition: the endpoints `user` may manage (their division lies in the user's scope)."""
    return in_scope(WebhookEndpoint.division_code, user)


def _with_refs(stmt):
    """The division's code and name (not its boundary) and the creator, loaded with the endpoints."""
    return stmt.options(selectinload(WebhookEndpoint.division).load_only(Division.code, Division.name, Division.level),
                        selectinload(WebhookEndpoint.created_by))


def endpoints_query(user, division=None, active=None):
    """The endpoints in `user`'s scope, by division then id; `division`: only that subtree."""
    stmt = _with_refs(select(WebhookEndpoint).where(visible_endpoints(user)))
    if division is not None:
        stmt = stmt.where(subtree(WebhookEndpoint.division_code, division))
    if active is not None:
        stmt = stmt.where(WebhookEndpoint.active.is_(active))
    return stmt.order_by(WebhookEndpoint.division_code, WebhookEndpoint.id)


def get_endpoint(endpoint_id, user):
    endpoint = db.session.scalar(_with_refs(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                                          visible_endpoints(user))))
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found.", message_zh="未找到该 Webhook 端点。")
    return endpoint


def _audit(action, endpoint, user, **details):
    record_audit(action, "webhook_endpoint", endpoint.id, actor=user, division_code=endpoint.division_code,
                 details={"url": endpoint.url, **details})


def create_endpoint(user, division_code, url, events=None, active=True):
    """A new endpoint for a division in `user`'s scope (404 beyond it). Returns (endpoint, secret):
    the secret is shown this once. Flushes."""
    division = division_in_scope_or_404(division_code, user)
    secret = new_secret()
    endpoint = WebhookEndpoint(division_code=division.code, url=url, secret=secret, events=_events(events),
                               active=active, created_by_id=user.id)
    db.session.add(endpoint)
    db.session.flush()
    _audit("webhook_endpoint.created", endpoint, user, events=endpoint.events, active=endpoint.active)
    return endpoint, secret


def _fail_pending(endpoint, reason):
    """The endpoint's deliveries still waiting are given up (they would go where nobody listens)."""
    return db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
        .values(status="failed", last_error=reason)
        .execution_options(synchronize_session=False)).rowcount


def update_endpoint(endpoint, user, rotate_secret=False, **changes):
    """Change `division_code` (within `user`'s scope), `url`, `events` (None: all) or `active`, and
    with `rotate_secret` replace the secret. Returns (endpoint, new secret or None). Each kind of
    change is audited once: .updated (with [before, after] per field), .disabled / .enabled,
    .secret_rotated. Flushes."""
    updated = {}
    if "division_code" in changes and changes["division_code"] != endpoint.division_code:
        code = division_in_scope_or_404(changes["division_code"], user).code
        updated["division_code"] = [endpoint.division_code, code]
        endpoint.division_code = code
    if "url" in changes and changes["url"] != endpoint.url:
        updated["url"] = [endpoint.url, changes["url"]]
        endpoint.url = changes["url"]
    if "events" in changes and _events(changes["events"]) != endpoint.events:
        events = _events(changes["events"])
        updated["events"] = [endpoint.events, events]
        endpoint.events = events
    if updated:
        _audit("webhook_endpoint.updated", endpoint, user, changes=updated)
    if "active" in changes and changes["active"] != endpoint.active:
        endpoint.active = changes["active"]
        given_up = 0 if endpoint.active else _fail_pending(endpoint, "endpoint disabled")
        _audit("webhook_endpoint.enabled" if endpoint.active else "webhook_endpoint.disabled", endpoint, user,
               **({} if endpoint.active else {"pending_given_up": given_up}))
    secret = None
    if rotate_secret:
        secret = endpoint.secret = new_secret()
        endpoint.secret_rotated_at = utcnow()
        _audit("webhook_endpoint.secret_rotated", endpoint, user)
    db.session.flush()
    return endpoint, secret


def delete_endpoint(endpoint, user):
    """Delete the endpoint; its deliveries stay (endpoint_id cleared), the pending ones failed. Flushes."""
    given_up = _fail_pending(endpoint, "endpoint deleted")
    _audit("webhook_endpoint.deleted", endpoint, user, events=endpoint.events, pending_given_up=given_up)
    db.session.delete(endpoint)
    db.session.flush()


def endpoints_for(event, village_code):
    """The active endpoints that receive `event` of an inspection in `village_code`: those whose
    division is the village or one of its ancestors (one indexed IN on the code's prefixes)."""
    prefixes = sorted({village_code[:n] for n in CODE_LENGTH.values() if n <= len(village_code)})
    endpoints = db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.division_code.in_(prefixes),
                                                                 WebhookEndpoint.active.is_(True))
                                   .order_by(WebhookEndpoint.id)).all()
    return [endpoint for endpoint in endpoints if endpoint.receives(event)]
