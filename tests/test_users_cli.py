"""flask users ...: the users API's verbs for scripts."""
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, User


def run(app, *args, **kw):
    return app.test_cli_runner().invoke(args=list(args), **kw)


def user_row(app, username):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        return user.role, user.scope_code, user.active, user.must_change_password


def actions(app):
    with app.app_context():
        return db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()


def test_list_filters_and_shows_last_login(database, make_user, client):
    reviewer = make_user("reviewer", "230382100")
    make_user("inspector", "230302")
    client.post("/api/v1/auth/token", json={"username": reviewer.username, "password": reviewer.password})
    result = run(database, "users", "list", "--role", "reviewer")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "\t" in line]
    assert len(lines) == 1 and lines[0].startswith(f"{reviewer.username}\treviewer\t230382100\tlast login 20")
    assert run(database, "users", "list", "--scope", "230302").output.count("\t") == 3


def test_edit_disable_enable(database, make_user):
    user = make_user("inspector", "230382100")
    assert run(database, "users", "edit", user.username, "--role", "reviewer", "--scope", "230382").exit_code == 0
    assert user_row(database, user.username)[:2] == ("reviewer", "230382")
    assert run(database, "users", "disable", user.username).exit_code == 0
    assert user_row(database, user.username)[2] is False
    listed = run(database, "users", "list", "--disabled").output
    assert user.username in listed and "disabled" in listed
    assert run(database, "users", "enable", user.username).exit_code == 0
    assert user_row(database, user.username)[2] is True
    assert actions(database) == ["user.updated", "user.disabled", "user.enabled"]


def test_reset_password_prints_a_generated_one_and_forces_a_change(database, make_user, client):
    user = make_user("reviewer", "230382100")
    result = run(database, "users", "reset-password", user.username)
    assert result.exit_code == 0, result.output
    password = result.output.strip().rsplit(": ", 1)[1]
    assert user_row(database, user.username)[3] is True
    r = client.post("/api/v1/auth/token", json={"username": user.username, "password": password})
    assert r.status_code == 201 and r.json["must_change_password"] is True


def test_unknown_user_and_unknown_scope_are_clean_errors(database, make_user):
    result = run(database, "users", "disable", "nobody")
    assert result.exit_code != 0 and "not found" in result.output and "Traceback" not in result.output
    user = make_user("reviewer", "230382100")
    result = run(database, "users", "edit", user.username, "--scope", "999")
    assert result.exit_code != 0 and "not found" in result.output
    assert user_row(database, user.username)[1] == "230382100"
