import click
from flask.cli import AppGroup

from app.extensions import db
from app.services.demo import load_demo

demo_cli = AppGroup("demo", help="The demo data set.")


@demo_cli.command("load")
def load_command():
    """Load Jixi's divisions, synthetic boundaries, demo accounts and demo inspections (idempotent)."""
    summary = load_demo(echo=click.echo)
    db.session.commit()
    click.echo("demo loaded: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
