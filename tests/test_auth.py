"""Login, tokens (stored hashed, expiring, revocable), throttling and roles."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from app.auth import token_digest
from app.extensions import db
from app.models import ApiToken


def login(client, username, password):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_login_gives_a_token_that_works(client, inspector):
    r = login(client, inspector.username, inspector.password)
    assert r.status_code == 201
    assert set(r.json) == {"token", "expires_at", "must_change_password"}
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json['token']}"})
    assert me.status_code == 200 and me.json["username"] == inspector.username


def test_tokens_are_stored_hashed(client, database, inspector):
    token = login(client, inspector.username, inspector.password).json["token"]
    with database.app_context():
        hashes = db.session.scalars(select(ApiToken.token_hash)).all()
        assert token not in hashes and token_digest(token) in hashes


def test_wrong_password_is_401(client, inspector):
    r = login(client, inspector.username, "wrong-password")
    assert r.status_code == 401 and r.json["error"]["code"] == "invalid_credentials"


def test_unknown_user_is_the_same_401(client):
    r = login(client, "nobody", "whatever-pass")
    assert r.status_code == 401 and r.json["error"]["code"] == "invalid_credentials"


def test_missing_fields_are_a_validation_error(client):
    r = client.post("/api/v1/auth/token", json={"username": "x"})
    assert r.status_code == 422 and "password" in r.json["error"]["fields"]


def test_repeated_failures_are_refused_with_429(client, database, inspector):
    limit = database.config["LOGIN_MAX_FAILURES"]
    codes = [login(client, inspector.username, "wrong-password").status_code for _ in range(limit)]
    assert codes == [401] * limit
    r = login(client, inspector.username, inspector.password)  # even the right password waits
    assert r.status_code == 429
    assert r.json["error"]["code"] == "rate_limited" and int(r.headers["Retry-After"]) > 0


def test_a_success_resets_the_failure_count(client, database, inspector):
    limit = database.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit - 1):
        login(client, inspector.username, "wrong-password")
    assert login(client, inspector.username, inspector.password).status_code == 201
    assert login(client, inspector.username, "wrong-password").status_code == 401


def test_no_token_is_401(client):
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and r.json["error"]["code"] == "unauthorized"


def test_garbage_token_is_401(client):
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


def test_expired_token_is_401_token_expired(client, database, inspector):
    with database.app_context():
        db.session.execute(update(ApiToken).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    r = client.get("/api/v1/me", headers=inspector.headers)
    assert r.status_code == 401 and r.json["error"]["code"] == "token_expired"


def test_revoked_token_stops_working(client, inspector):
    assert client.delete("/api/v1/auth/token", headers=inspector.headers).status_code == 204
    assert client.get("/api/v1/me", headers=inspector.headers).status_code == 401


def test_revoking_one_token_keeps_the_others(client, inspector):
    other = login(client, inspector.username, inspector.password).json["token"]
    client.delete("/api/v1/auth/token", headers=inspector.headers)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_deactivated_user_cannot_use_a_token(client, database, inspector):
    from app.models import User

    with database.app_context():
        db.session.get(User, inspector.id).active = False
        db.session.commit()
    assert client.get("/api/v1/me", headers=inspector.headers).status_code == 401


@pytest.mark.parametrize("role", ["inspector", "reviewer", "bureau", "admin"])
def test_me_reports_role_and_scope(client, make_user, role):
    user = make_user(role, "230382")
    body = client.get("/api/v1/me", headers=user.headers).json
    assert body["role"] == role and body["scope"] == {"code": "230382", "name": "密山市", "level": "county"}
