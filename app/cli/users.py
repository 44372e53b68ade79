import click
from flask.cli import AppGroup

from app.errors import APIError
from app.extensions import db
from app.models import ROLES
from app.services.users import create_user

users_cli = AppGroup("users", help="Manage accounts.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--scope", "scope_code", required=True, help="Division code of the user's scope.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default=None)
def create_command(username, role, scope_code, password, display_name):
    """Create a user with a role and a division scope."""
    try:
        user = create_user(username, role, scope_code, password, display_name)
    except APIError as error:
        db.session.rollback()
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in (error.fields or {}).items())
        raise click.ClickException(detail or error.message)
    db.session.commit()
    click.echo(f"created {user.role} {user.username} with scope {user.scope_code}")
