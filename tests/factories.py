"""Test data made through the app's own services, returned as plain values (no live ORM objects)."""
import functools
import itertools
from types import SimpleNamespace

from app.auth import issue_token
from app.extensions import db
from app.models import User

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct-horse-9"


@functools.lru_cache(maxsize=8)
def _password_hash(password):
    from app.auth import hash_password

    return hash_password(password)


def create_user(app, role="inspector", scope="230382100", username=None, password=DEFAULT_PASSWORD):
    """A user with a bearer token: .id .username .role .scope .password .token .headers"""
    username = username or f"{role}{next(_counter)}"
    with app.app_context():
        # scrypt once per password, not per user: build the row directly with a cached hash
        user = User(username=username, role=role, scope_code=scope, password_hash=_password_hash(password))
        db.session.add(user)
        db.session.flush()
        token, _ = issue_token(user)
        db.session.commit()
        return SimpleNamespace(id=user.id, username=username, role=role, scope=scope, password=password,
                               token=token, headers={"Authorization": f"Bearer {token}"})


def token_for(app, user_id):
    with app.app_context():
        token, _ = issue_token(db.session.get(User, user_id))
        db.session.commit()
        return token
