import click
from flask.cli import AppGroup

from app.services.webhooks import deliver_pending

webhooks_cli = AppGroup("webhooks", help="Township webhooks: send due and retried deliveries.")


@webhooks_cli.command("deliver")
@click.option("--limit", default=200, show_default=True, help="At most this many deliveries.")
def deliver_command(limit):
    """Send the pending webhook deliveries whose next attempt is due now (by hand: the jobs worker
    sends them and their retries by itself, `flask jobs worker`)."""
    counts = deliver_pending(limit=limit)
    click.echo(f"delivered {counts['delivered']}, retrying {counts['retrying']}, failed {counts['failed']}")
