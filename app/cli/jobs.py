import logging
import os

import click
from flask import current_app
from flask.cli import AppGroup

from app.jobs import PERIODIC, run_periodic, runner, worker
from app.services import photos, webhooks  # noqa: F401  (their jobs and sweeps, registered on import)

jobs_cli = AppGroup("jobs", help="Background jobs (JOB_BROKER): the worker, and the sweeps by hand.")


@jobs_cli.command("worker")
@click.option("--workers", "-w", default=2, show_default=True, help="Worker threads.")
@click.option("--no-periodic", is_flag=True, help="Leave the periodic sweeps to another worker.")
@click.option("--nice", default=10, show_default=True,
              help="Lower the worker's CPU priority by this much (0: as the server's), so that on a shared "
                   "machine requests come first and jobs take the spare CPU.")
def worker_command(workers, no_periodic, nice):
    """Run the jobs of JOB_BROKER until SIGINT/SIGTERM (SIGTERM lets running jobs finish): photo
    variants and hashes, webhook deliveries and their retries, and every JOB_SWEEP_MINUTES the
    sweeps that redo whatever a lost job left unfinished."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if nice > 0:
        os.nice(nice)
    try:
        consumer = worker(current_app._get_current_object(), workers=workers, periodic_tasks=not no_periodic)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"jobs worker on {runner().broker} ({workers} threads)", err=True)
    consumer.run()


@jobs_cli.command("sweep")
def sweep_command():
    """Run the periodic sweeps once, here: complete the photos left pending, send due webhooks."""
    for name in PERIODIC:
        click.echo(f"{name}: {run_periodic(name)}")
