"""flask users ...: the same verbs as the users API, for scripts (no scope limit: the shell is the
operator's). Every change is audited with no actor."""
import click
from flask.cli import AppGroup

from app.errors import APIError
from app.extensions import db
from app.models import ROLES
from app.services.users import create_user, get_user_by_name, reset_password, update_user, users_query

users_cli = AppGroup("users", help="Manage accounts: create, list, edit, disable, enable, reset-password.")


def _fail(error):
    db.session.rollback()
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in (error.fields or {}).items())
    raise click.ClickException(detail or error.message)


def _describe(user):
    last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "never"
    flags = ("" if user.active else " disabled") + (" must-change-password" if user.must_change_password else "")
    return f"{user.username}\t{user.role}\t{user.scope_code}\tlast login {last}{flags}"


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--scope", "scope_code", required=True, help="Division code of the user's scope.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default=None)
@click.option("--must-change-password", is_flag=True, help="The user must set a new password at first login.")
def create_command(username, role, scope_code, password, display_name, must_change_password):
    """Create a user with a role and a division scope."""
    try:
        user = create_user(username, role, scope_code, password, display_name,
                           must_change_password=must_change_password)
    except APIError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"created {user.role} {user.username} with scope {user.scope_code}")


@users_cli.command("list")
@click.option("--role", type=click.Choice(ROLES), default=None)
@click.option("--scope", "scope_code", default=None, help="Only users whose scope lies in this division's subtree.")
@click.option("--active/--disabled", "active", default=None, help="Only enabled (or only disabled) users.")
def list_command(role, scope_code, active):
    """List users (tab-separated: username, role, scope, last login, state)."""
    stmt = users_query(None, role, scope_code, active)
    users = db.session.scalars(stmt).all()
    for user in users:
        click.echo(_describe(user))
    click.echo(f"{len(users)} users", err=True)


@users_cli.command("edit")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default=None)
@click.option("--scope", "scope_code", default=None, help="Division code of the new scope.")
@click.option("--name", "display_name", default=None)
def edit_command(username, role, scope_code, display_name):
    """Change a user's role, scope or display name."""
    try:
        user = update_user(get_user_by_name(username), None, role=role, scope_code=scope_code,
                           display_name=display_name)
    except APIError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"updated {_describe(user)}")


def _set_active(username, active):
    try:
        user = update_user(get_user_by_name(username), None, active=active)
    except APIError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"{'enabled' if active else 'disabled'} {user.username}")


@users_cli.command("disable")
@click.argument("username")
def disable_command(username):
    """Disable a user: every token they hold stops working at once."""
    _set_active(username, False)


@users_cli.command("enable")
@click.argument("username")
def enable_command(username):
    """Enable a disabled user again (they log in anew)."""
    _set_active(username, True)


@users_cli.command("reset-password")
@click.argument("username")
@click.option("--password", default=None, help="The new password; omit to have one generated and printed.")
@click.option("--no-forced-change", is_flag=True, help="Do not make the user change it at next login.")
def reset_password_command(username, password, no_forced_change):
    """Set a new password and revoke the user's tokens; the user must change it at next login."""
    try:
        user, generated = reset_password(get_user_by_name(username), None, password,
                                         must_change_password=not no_forced_change)
    except APIError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"password of {user.username} reset" + (f": {generated}" if generated else ""))
