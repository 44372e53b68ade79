"""The users API: an administrator lists, creates, edits, disables, enables and resets accounts
within their own scope; a user forced to change their password can do nothing else first."""
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, User
from tests.factories import count, refused


def login(client, username, password):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def audit_actions(app, user_id):
    with app.app_context():
        return db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "user",
                                                                  AuditEntry.object_id == str(user_id))
                                  .order_by(AuditEntry.id)).all()


def create(client, admin, **kw):
    body = {"username": "wang", "password": "first-pass-1", "role": "reviewer", "scope_code": "230382100", **kw}
    return client.post("/api/v1/users", json=body, headers=admin.headers)


def test_an_admin_creates_a_reviewer_who_must_change_the_password(client, database, admin):
    r = create(client, admin, display_name="王五")
    assert r.status_code == 201, r.json
    assert {k: r.json[k] for k in ("username", "role", "scope_code", "active", "must_change_password",
                                   "last_login_at", "display_name")} == {
        "username": "wang", "role": "reviewer", "scope_code": "230382100", "active": True,
        "must_change_password": True, "last_login_at": None, "display_name": "王五"}
    assert r.json["scope"]["name"] and "password" not in r.json and "password_hash" not in r.json
    assert audit_actions(database, r.json["id"]) == ["user.created"]


def test_login_says_the_password_must_change_and_everything_else_is_403_until_it_does(client, database, admin):
    user_id = create(client, admin).json["id"]
    r = login(client, "wang", "first-pass-1")
    assert r.status_code == 201 and r.json["must_change_password"] is True
    token = r.json["token"]
    blocked = client.get("/api/v1/inspections", headers=bearer(token))
    assert blocked.status_code == 403 and blocked.json["error"]["code"] == "password_change_required"
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200 and me.json["must_change_password"] is True

    wrong = client.post("/api/v1/me/password", headers=bearer(token),
                        json={"current_password": "not-it-at-all", "new_password": "second-pass-2"})
    assert wrong.status_code == 422 and "current_password" in wrong.json["error"]["fields"]
    same = client.post("/api/v1/me/password", headers=bearer(token),
                       json={"current_password": "first-pass-1", "new_password": "first-pass-1"})
    assert same.status_code == 422 and "new_password" in same.json["error"]["fields"]
    ok = client.post("/api/v1/me/password", headers=bearer(token),
                     json={"current_password": "first-pass-1", "new_password": "second-pass-2"})
    assert ok.status_code == 204
    assert client.get("/api/v1/inspections", headers=bearer(token)).status_code == 200
    assert login(client, "wang", "first-pass-1").status_code == 401
    assert login(client, "wang", "second-pass-2").json["must_change_password"] is False
    assert audit_actions(database, user_id) == ["user.created", "user.password_changed"]


def test_login_records_the_last_login(client, database, admin, reviewer):
    assert login(client, reviewer.username, reviewer.password).status_code == 201
    r = client.get(f"/api/v1/users/{reviewer.id}", headers=admin.headers)
    assert r.status_code == 200 and r.json["last_login_at"] is not None


def test_disabling_stops_the_users_tokens_at_once_and_enabling_lets_them_log_in_again(client, database, admin,
                                                                                       reviewer):
    assert client.get("/api/v1/me", headers=reviewer.headers).status_code == 200
    r = client.patch(f"/api/v1/users/{reviewer.id}", json={"active": False}, headers=admin.headers)
    assert r.status_code == 200 and r.json["active"] is False
    after = client.get("/api/v1/me", headers=reviewer.headers)
    assert after.status_code == 401 and after.json["error"]["code"] == "unauthorized"
    assert login(client, reviewer.username, reviewer.password).status_code == 401

    r = client.patch(f"/api/v1/users/{reviewer.id}", json={"active": True}, headers=admin.headers)
    assert r.status_code == 200 and r.json["active"] is True
    assert client.get("/api/v1/me", headers=reviewer.headers).status_code == 401  # the old token stays revoked
    assert login(client, reviewer.username, reviewer.password).status_code == 201
    assert audit_actions(database, reviewer.id) == ["user.disabled", "user.enabled"]


def test_edit_role_and_scope_within_the_admins_scope(client, database, admin, reviewer):
    r = client.patch(f"/api/v1/users/{reviewer.id}", json={"role": "bureau", "scope_code": "230382"},
                     headers=admin.headers)
    assert r.status_code == 200, r.json
    assert (r.json["role"], r.json["scope_code"], r.json["scope"]["code"]) == ("bureau", "230382", "230382")
    with database.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.updated"))
        assert entry.actor_id == admin.id
        assert entry.details["changes"] == {"role": ["reviewer", "bureau"], "scope_code": ["230382100", "230382"]}


def test_an_admin_may_not_give_a_scope_outside_their_own(client, database, make_user, reviewer):
    county_admin = make_user("admin", "230382")
    r = client.patch(f"/api/v1/users/{reviewer.id}", json={"scope_code": "2303"}, headers=county_admin.headers)
    refused(r, 404)
    r = create(client, county_admin, scope_code="230302")
    refused(r, 404)
    with database.app_context():
        assert db.session.get(User, reviewer.id).scope_code == "230382100"
    assert count(database, User, User.username == "wang") == 0


def test_users_outside_the_admins_scope_do_not_exist_for_them(client, make_user):
    county_admin = make_user("admin", "230382")
    elsewhere = make_user("reviewer", "230302")
    refused(client.get(f"/api/v1/users/{elsewhere.id}", headers=county_admin.headers), 404)
    refused(client.patch(f"/api/v1/users/{elsewhere.id}", json={"active": False}, headers=county_admin.headers), 404)
    refused(client.post(f"/api/v1/users/{elsewhere.id}/password", json={}, headers=county_admin.headers), 404)
    listed = client.get("/api/v1/users", headers=county_admin.headers).json["items"]
    assert elsewhere.id not in [u["id"] for u in listed]


def test_only_admins_manage_users(client, bureau, reviewer):
    refused(client.get("/api/v1/users", headers=bureau.headers), 403)
    refused(client.patch(f"/api/v1/users/{reviewer.id}", json={"active": False}, headers=bureau.headers), 403)
    assert client.get("/api/v1/me", headers=reviewer.headers).status_code == 200


def test_the_list_filters_by_role_scope_and_active_and_pages(client, admin, make_user):
    a = make_user("reviewer", "230382100")
    b = make_user("inspector", "230382100")
    c = make_user("inspector", "230302")
    client.patch(f"/api/v1/users/{b.id}", json={"active": False}, headers=admin.headers)

    def ids(**query):
        r = client.get("/api/v1/users", query_string=query, headers=admin.headers)
        assert r.status_code == 200, r.json
        return {u["id"] for u in r.json["items"]}

    assert ids(role="inspector") == {b.id, c.id}
    assert ids(scope="230382") == {a.id, b.id}
    assert ids(active="false") == {b.id}
    assert ids(role="inspector", active="true") == {c.id}
    assert ids(q=a.username) == {a.id}
    page = client.get("/api/v1/users", query_string={"per_page": 2, "page": 2}, headers=admin.headers).json
    assert (page["total"], page["pages"], len(page["items"])) == (4, 2, 2)


def test_a_taken_username_is_409_and_a_short_password_422(client, admin, reviewer):
    r = create(client, admin, username=reviewer.username)
    assert r.status_code == 409 and r.json["error"]["code"] == "conflict"
    r = create(client, admin, password="short")
    assert r.status_code == 422 and "password" in r.json["error"]["fields"]


def test_an_admin_cannot_disable_or_demote_themselves(client, database, admin):
    for change in ({"active": False}, {"role": "reviewer"}, {"scope_code": "230382"}):
        r = client.patch(f"/api/v1/users/{admin.id}", json=change, headers=admin.headers)
        assert r.status_code == 409 and r.json["error"]["code"] == "conflict"
    assert client.get("/api/v1/users", headers=admin.headers).status_code == 200


def test_a_reset_generates_a_password_revokes_tokens_and_forces_a_change(client, database, admin, reviewer):
    r = client.post(f"/api/v1/users/{reviewer.id}/password", json={}, headers=admin.headers)
    assert r.status_code == 200, r.json
    temporary = r.json["temporary_password"]
    assert len(temporary) >= 8 and r.json["user"]["must_change_password"] is True
    assert client.get("/api/v1/me", headers=reviewer.headers).status_code == 401
    assert login(client, reviewer.username, reviewer.password).status_code == 401
    logged = login(client, reviewer.username, temporary)
    assert logged.status_code == 201 and logged.json["must_change_password"] is True
    assert audit_actions(database, reviewer.id) == ["user.password_reset"]
    with database.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.password_reset"))
        assert temporary not in str(entry.details)


def test_a_reset_with_a_given_password_returns_none(client, admin, reviewer):
    r = client.post(f"/api/v1/users/{reviewer.id}/password", json={"password": "given-pass-9"}, headers=admin.headers)
    assert r.status_code == 200 and r.json["temporary_password"] is None
    assert login(client, reviewer.username, "given-pass-9").status_code == 201
