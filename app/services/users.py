"""Accounts: create, list, change role and scope, disable and re-enable, reset and change
passwords. An administrator manages the accounts whose scope lies in their own scope (others do
not exist for them: 404) and may give only scopes within their own. Every change is audited."""
import secrets
from datetime import datetime, timezone

from sqlalchemy import select, update
from werkzeug.security import check_password_hash

from app.access import division_in_scope_or_404, in_scope
from app.auth import hash_password
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import ROLES, ApiToken, Division, User, subtree
from app.services.audit import record_audit

MIN_PASSWORD_CHARS = 8


def _check_password(password, field="password"):
    if not password or len(password) < MIN_PASSWORD_CHARS:
        raise ValidationFailed(fields={field: [f"must have at least {MIN_PASSWORD_CHARS} characters"]})


def _check_role(role):
    if role not in ROLES:
        raise ValidationFailed(fields={"role": [f"must be one of {', '.join(ROLES)}"]})


def _scope_for(scope_code, actor):
    """The division `scope_code`: any for the command line (no actor), within the actor's scope
    otherwise (404 beyond it, like every object outside a scope)."""
    if actor is None:
        if db.session.get(Division, scope_code) is None:
            raise NotFound(f"Division {scope_code} not found.", message_zh="未找到该行政区划。")
        return scope_code
    return division_in_scope_or_404(scope_code, actor).code


def create_user(username, role, scope_code, password, display_name=None, actor=None, must_change_password=False):
    _check_role(role)
    _check_password(password)
    _scope_for(scope_code, actor)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"User {username} exists already.", message_zh="该用户名已存在。")
    user = User(username=username, role=role, scope_code=scope_code, password_hash=hash_password(password),
                display_name=display_name, must_change_password=must_change_password)
    db.session.add(user)
    db.session.flush()
    record_audit("user.created", "user", user.id, actor=actor, division_code=scope_code,
                 details={"username": username, "role": role, "must_change_password": must_change_password})
    return user


def visible_users(actor):
    """SQL condition: the accounts `actor` may manage (no actor: the command line, all)."""
    return in_scope(User.scope_code, actor) if actor is not None else User.id.is_not(None)


def users_query(actor, role=None, scope_code=None, active=None, q=None):
    """The accounts `actor` may manage, filtered: a role, a scope subtree, active or not, a part of
    the username or display name; ordered by username."""
    stmt = select(User).where(visible_users(actor)).order_by(User.username)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if scope_code is not None:
        stmt = stmt.where(subtree(User.scope_code, scope_code))
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(User.username.ilike(pattern, escape="\\") | User.display_name.ilike(pattern, escape="\\"))
    return stmt


def get_user(user_id, actor=None):
    user = db.session.scalar(select(User).where(User.id == user_id, visible_users(actor)))
    if user is None:
        raise NotFound(f"User {user_id} not found.", message_zh="未找到该用户。")
    return user


def get_user_by_name(username):
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"User {username} not found.", message_zh="未找到该用户。")
    return user


def _revoke_tokens(user, keep=None):
    """Every live bearer token of `user` (but `keep`) is revoked."""
    stmt = (update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(timezone.utc)).execution_options(synchronize_session=False))
    if keep is not None:
        stmt = stmt.where(ApiToken.id != keep.id)
    return db.session.execute(stmt).rowcount


def update_user(user, actor=None, role=None, scope_code=None, display_name=None, active=None, **_):
    """Change role, scope, display name or active; an administrator may not demote, move or disable
    themselves (the last admin would lock everyone out). Disabling revokes every token at once.
    Audited only when something changed. Flushes."""
    changes = {}
    if actor is not None and user.id == actor.id and (
            (role is not None and role != user.role) or (scope_code is not None and scope_code != user.scope_code)
            or active is False):
        raise Conflict("You cannot change your own role, scope or disable yourself.",
                       message_zh="不能修改自己的角色、范围，也不能停用自己。")
    if role is not None and role != user.role:
        _check_role(role)
        changes["role"] = [user.role, role]
        user.role = role
    if scope_code is not None and scope_code != user.scope_code:
        _scope_for(scope_code, actor)
        changes["scope_code"] = [user.scope_code, scope_code]
        user.scope_code = scope_code
    if display_name is not None and display_name != user.display_name:
        changes["display_name"] = [user.display_name, display_name]
        user.display_name = display_name
    if active is not None and active != user.active:
        changes["active"] = [user.active, active]
        user.active = active
        if not active:
            changes["tokens_revoked"] = _revoke_tokens(user)
    if changes:
        action = "user.updated"
        if set(changes) - {"tokens_revoked"} == {"active"}:
            action = "user.enabled" if active else "user.disabled"
        record_audit(action, "user", user.id, actor=actor, division_code=user.scope_code,
                     details={"username": user.username, "changes": changes})
    db.session.flush()
    db.session.refresh(user)  # the scope relationship follows a new scope_code
    return user


def reset_password(user, actor=None, password=None, must_change_password=True):
    """A new password (generated when none is given: returned, shown once); the user must change it
    at their next login; every token is revoked. Returns (user, the password if generated)."""
    generated = None
    if password is None:
        password = generated = secrets.token_urlsafe(9)
    _check_password(password)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change_password
    revoked = _revoke_tokens(user)
    record_audit("user.password_reset", "user", user.id, actor=actor, division_code=user.scope_code,
                 details={"username": user.username, "must_change_password": must_change_password,
                          "tokens_revoked": revoked})
    db.session.flush()
    return user, generated


def change_own_password(user, current_password, new_password, token=None):
    """The user sets their own password (the current one checked): clears must_change_password and
    revokes their other tokens. Flushes."""
    if not check_password_hash(user.password_hash, current_password):
        raise ValidationFailed(fields={"current_password": ["is not your current password"]})
    _check_password(new_password, "new_password")
    if check_password_hash(user.password_hash, new_password):
        raise ValidationFailed(fields={"new_password": ["must differ from the current password"]})
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    revoked = _revoke_tokens(user, keep=token)
    record_audit("user.password_changed", "user", user.id, actor=user, division_code=user.scope_code,
                 details={"username": user.username, "tokens_revoked": revoked})
    db.session.flush()
    return user
