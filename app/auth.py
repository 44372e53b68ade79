"""Who is calling: passwords, bearer tokens, login throttling and the role check of each view.

Tokens are random, shown once at login, stored as an HMAC-SHA256 keyed by SECRET_KEY.
Passwords use Werkzeug's scrypt KDF. Roles are ranked (inspector < reviewer < bureau < admin);
what a user may see within their scope is the access policy's (app/access.py).
"""
import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone
from copy import deepcopy
from functools import wraps

from flask import current_app, g, request
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.access import at_least
from app.errors import Forbidden, RateLimited, Unauthorized
from app.extensions import db
from app.models import ApiToken, LoginThrottle, User

BEARER_DOC = [{"bearerAuth": []}]


# --- passwords and tokens -------------------------------------------------------------------

def hash_password(password):
    return generate_password_hash(password, method="scrypt")


def token_digest(token):
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def issue_token(user):
    """A new token for `user`: returns (plain token, ApiToken row)."""
    token = secrets.token_urlsafe(32)
    ttl = timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])
    row = ApiToken(user=user, token_hash=token_digest(token), expires_at=datetime.now(timezone.utc) + ttl)
    db.session.add(row)
    db.session.flush()
    return token, row


def revoke_token(row):
    row.revoked_at = datetime.now(timezone.utc)


def _throttle_keys(username):
    return [f"user:{username.lower()}", f"ip:{request.remote_addr or 'unknown'}"]


def _check_throttle(keys, now):
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    waits = [(r.locked_until - now).total_seconds() for r in rows if r.locked_until and r.locked_until > now]
    if waits:
        raise RateLimited(
            "Too many failed logins; wait before trying again.",
            message_zh="登录失败次数过多，请稍后再试。",
            retry_after=max(1, int(max(waits)) + 1),
        )


def _record_failure(keys, now):
    cfg = current_app.config
    window = timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    for key in keys:
        row = db.session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_started_at=now)
            db.session.add(row)
        if now - row.window_started_at > window:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        # per-address counters allow more failures: one office may share an address
        limit = cfg["LOGIN_MAX_FAILURES"] * (1 if key.startswith("user:") else 4)
        if row.failures >= limit:
            row.locked_until = now + timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
            row.failures = 0
    db.session.commit()  # the failure must count even though the request fails


@functools.cache
def _dummy_hash():
    return hash_password(secrets.token_urlsafe(16))


def login(username, password):
    """Check the credentials (throttled) and return (token, ApiToken)."""
    now = datetime.now(timezone.utc)
    keys = _throttle_keys(username)
    _check_throttle(keys, now)
    user = db.session.scalar(select(User).where(User.username == username))
    # an unknown name costs the same KDF work as a known one: timing does not reveal usernames
    stored = user.password_hash if user is not None else _dummy_hash()
    if not check_password_hash(stored, password) or user is None or not user.active:
        _record_failure(keys, now)
        raise Unauthorized(code="invalid_credentials")
    row = db.session.get(LoginThrottle, keys[0])
    if row is not None:
        db.session.delete(row)
    return issue_token(user)


def authenticate_request():
    """The ApiToken of the request's bearer token, or raise 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer <token>' (get one from POST /api/v1/auth/token).")
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token.strip())))
    now = datetime.now(timezone.utc)
    if row is None or row.revoked_at is not None or not row.user.active:
        raise Unauthorized("This token is not valid; log in again.", message_zh="登录凭证无效，请重新登录。")
    if row.expires_at <= now:
        raise Unauthorized(code="token_expired")
    return row


def auth_required(min_role="inspector", roles=None):
    """View decorator: a valid bearer token, and a role at least `min_role` (or one of `roles`).
    It also documents the view's bearer security in the OpenAPI document."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            token = g.get("token") or authenticate_request()
            user = token.user
            allowed = user.role in roles if roles else at_least(user, min_role)
            if not allowed:
                raise Forbidden(f"The {user.role} role may not do this.")
            g.token, g.user = token, user
            return view(*args, **kwargs)

        wrapper.needs_token = True  # copied outwards by the schema decorators (functools.wraps)
        wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))  # flask-smorest's documentation slot
        wrapper._apidoc.setdefault("manual_doc", {})["security"] = BEARER_DOC
        return wrapper

    return decorator


def authenticate_before_parsing():
    """before_request: a view that needs a token answers 401 before its arguments or body are
    parsed (no 422 details, no 100 MB upload read, for a caller without a valid token)."""
    view = current_app.view_functions.get(request.endpoint)
    method = getattr(getattr(view, "view_class", None), request.method.lower(), None)
    if getattr(method, "needs_token", False):
        g.token = authenticate_request()


def current_user():
    return g.user
