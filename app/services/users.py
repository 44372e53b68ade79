"""Accounts."""
from sqlalchemy import select

from app.auth import hash_password
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import ROLES, Division, User
from app.services.audit import record_audit


def create_user(username, role, scope_code, password, display_name=None, actor=None):
    if role not in ROLES:
        raise ValidationFailed(fields={"role": [f"must be one of {', '.join(ROLES)}"]})
    if not password or len(password) < 8:
        raise ValidationFailed(fields={"password": ["must have at least 8 characters"]})
    if db.session.get(Division, scope_code) is None:
        raise NotFound(f"Division {scope_code} not found.")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"User {username} exists already.")
    user = User(username=username, role=role, scope_code=scope_code,
                password_hash=hash_password(password), display_name=display_name)
    db.session.add(user)
    db.session.flush()
    record_audit("user.created", "user", user.id, actor=actor, division_code=scope_code,
                 details={"username": username, "role": role})
    return user
