"""Who is calling: passwords, bearer tokens, login throttling and the role check of each view.

Tokens are random, shown once at login, stored as an HMAC-SHA256 keyed by SECRET_KEY.
Passwords use Werkzeug's scrypt KDF. Roles are ranked (inspector < reviewer < bureau < admin);
what a user may see within their scope is the access policy's (app/access.py).
"""
import functools
import hashlib
import hmac
import ipaddress
import math
import secrets
from datetime import datetime, timedelta, timezone
from copy import deepcopy
from functools import wraps

from flask import current_app, g, request
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from werkzeug.security import check_password_hash, generate_password_hash

from app.access import at_least
from app.errors import Forbidden, RateLimited, Unauthorized
from app.extensions import db
from app.models import ApiToken, LoginThrottle, User
from app.models.types import utcnow

BEARER_DOC = [{"bearerAuth": []}]
PRUNE_BATCH = 500


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


# --- login throttling -----------------------------------------------------------------------
#
# Two counters per attempt, both in the database (shared by every worker):
#
# - the pair (account, client address): LOGIN_MAX_FAILURES failures lock that pair for
#   LOGIN_LOCKOUT_SECONDS; after a lock, each further failure locks it again for twice as long
#   (up to LOGIN_LOCKOUT_MAX_SECONDS). The same account from another address is not affected, nor
#   are other accounts behind the same address (a township office behind one NAT).
# - the account, over all addresses: above LOGIN_ACCOUNT_MAX_FAILURES failures it gets one attempt
#   every LOGIN_ACCOUNT_INTERVAL_SECONDS (a slot, claimed atomically before the password is
#   checked; 429 with Retry-After in between). A guess spread over many addresses is slowed; the
#   owner still gets in at the next free slot.
#
# Counters quiet for LOGIN_WINDOW_SECONDS after their last failure and any lock are forgotten.
# No address is ever throttled by itself.

def client_address():
    """The client's address as the throttle keys it: the socket's peer, or, with PROXY_FIX_HOPS
    trusted proxies, the address ProxyFix read from X-Forwarded-For that many hops from the right
    (anything further left is the client's own claim and ignored). An IPv6 address stands for its
    /64, which one host or site holds whole."""
    address = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _throttle_keys(username):
    """(pair key, account key) of a login attempt."""
    name = username.lower()
    return f"pair:{name}|{client_address()}", f"account:{name}"


def _wait_error(until, now):
    return RateLimited(
        "Too many failed logins; wait before trying again.",
        message_zh="登录失败次数过多，请稍后再试。",
        retry_after=max(1, math.ceil((until - now).total_seconds())),
    )


def _quiet(row, now, window):
    """No failure and no lock for a window: the row's history is forgotten."""
    return row.last_failure_at < now - window and (row.locked_until is None or row.locked_until < now - window)


def _check_throttle(pair_key, account_key, now):
    """Raise 429 while the pair is locked or the slowed account's next slot is taken; claims the
    slot (committed) when the account is slowed and the slot is free."""
    cfg = current_app.config
    window = timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    rows = {r.key: r for r in db.session.scalars(
        select(LoginThrottle).where(LoginThrottle.key.in_([pair_key, account_key])))}
    pair, account = rows.get(pair_key), rows.get(account_key)
    if pair is not None and pair.locked_until is not None and pair.locked_until > now:
        raise _wait_error(pair.locked_until, now)
    if account is None or account.failures < cfg["LOGIN_ACCOUNT_MAX_FAILURES"] or _quiet(account, now, window):
        return
    slot = now + timedelta(seconds=cfg["LOGIN_ACCOUNT_INTERVAL_SECONDS"])
    claimed = db.session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == account_key,
               or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now))
        .values(locked_until=slot)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()  # the slot is taken whatever the password check says
    if not claimed:
        taken = db.session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.key == account_key))
        raise _wait_error(taken or slot, now)


def _lock_rows(keys, now):
    """The throttle rows of `keys`, created when missing and locked (PostgreSQL: row locks, taken
    in key order by an upsert, so concurrent failures neither lose counts nor deadlock; SQLite:
    the writing transaction already holds the database's write lock)."""
    keys = sorted(keys)
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = LoginThrottle.__table__
    stmt = insert(table).values([{"key": k, "failures": 0, "lockouts": 0, "last_failure_at": now} for k in keys])
    db.session.execute(stmt.on_conflict_do_update(index_elements=[table.c.key], set_={"failures": table.c.failures}))
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))
                              .execution_options(populate_existing=True)).all()
    return {row.key: row for row in rows}


def _prune(now, window, keep):
    """Delete forgotten rows (a bounded batch per failure; PostgreSQL skips rows others hold)."""
    stale = (select(LoginThrottle.key)
             .where(LoginThrottle.last_failure_at < now - window,
                    or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now - window),
                    LoginThrottle.key.not_in(list(keep)))
             .limit(PRUNE_BATCH))
    if db.session.get_bind().dialect.name == "postgresql":
        stale = stale.with_for_update(skip_locked=True)
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(stale.scalar_subquery()))
                       .execution_options(synchronize_session=False))


def _record_failure(pair_key, account_key, now):
    cfg = current_app.config
    window = timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    rows = _lock_rows((pair_key, account_key), now)
    for row in rows.values():
        if _quiet(row, now, window):
            row.failures, row.lockouts, row.locked_until = 0, 0, None
        row.failures += 1
        row.last_failure_at = now
    pair, account = rows[pair_key], rows[account_key]
    unlocked = pair.locked_until is None or pair.locked_until <= now
    if unlocked and (pair.lockouts > 0 or pair.failures >= cfg["LOGIN_MAX_FAILURES"]):
        seconds = min(cfg["LOGIN_LOCKOUT_SECONDS"] * 2 ** min(pair.lockouts, 30), cfg["LOGIN_LOCKOUT_MAX_SECONDS"])
        pair.locked_until = now + timedelta(seconds=seconds)
        pair.lockouts += 1
        pair.failures = 0
    if account.failures >= cfg["LOGIN_ACCOUNT_MAX_FAILURES"]:
        slot = now + timedelta(seconds=cfg["LOGIN_ACCOUNT_INTERVAL_SECONDS"])
        if account.locked_until is None or account.locked_until < slot:
            account.locked_until = slot
    db.session.flush()
    _prune(now, window, keep=rows)
    db.session.commit()  # the failure must count even though the request fails


@functools.cache
def _dummy_hash():
    return hash_password(secrets.token_urlsafe(16))


def login(username, password):
    """Check the credentials (throttled) and return (token, ApiToken)."""
    now = utcnow()
    pair_key, account_key = _throttle_keys(username)
    _check_throttle(pair_key, account_key, now)
    user = db.session.scalar(select(User).where(User.username == username))
    # an unknown name costs the same KDF work as a known one: timing does not reveal usernames
    stored = user.password_hash if user is not None else _dummy_hash()
    active = user is not None and user.active
    db.session.commit()  # end the reading transaction: no database lock is held during the KDF
    if not check_password_hash(stored, password) or not active:
        _record_failure(pair_key, account_key, now)
        raise Unauthorized(code="invalid_credentials")
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == pair_key)
                       .execution_options(synchronize_session=False))
    user.last_login_at = now
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


def password_change_required():
    return Forbidden("Change your password first: POST /api/v1/me/password.",
                     message_zh="请先修改密码后再继续。", code="password_change_required")


def auth_required(min_role="inspector", roles=None, pending_password_ok=False):
    """View decorator: a valid bearer token, and a role at least `min_role` (or one of `roles`).
    A user who must change their password (an administrator created or reset the account) gets
    403 `password_change_required` everywhere but the views marked `pending_password_ok` (who am I,
    change my password, log out). It also documents the view's bearer security in the OpenAPI
    document."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            token = g.get("token") or authenticate_request()
            user = token.user
            if user.must_change_password and not pending_password_ok:
                raise password_change_required()
            allowed = user.role in roles if roles else at_least(user, min_role)
            if not allowed:
                raise Forbidden(f"The {user.role} role may not do this.")
            g.token, g.user = token, user
            return view(*args, **kwargs)

        wrapper.needs_token = True  # copied outwards by the schema decorators (functools.wraps)
        wrapper.pending_password_ok = pending_password_ok
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
        if g.token.user.must_change_password and not getattr(method, "pending_password_ok", False):
            raise password_change_required()


def current_user():
    return g.user
