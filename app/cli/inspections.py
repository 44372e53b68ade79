import os
import sys

import click
from flask.cli import AppGroup

from app.cli.divisions import fail
from app.errors import APIError
from app.extensions import db
from app.services.imports import import_inspections

inspections_cli = AppGroup("inspections", help="Inspections: historical import.")


def _count_lines(path):
    with open(path, "rb") as f:
        return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) - 1)


@inspections_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
def import_command(csv_file):
    """Import historical inspections from CSV (columns in DESIGN §5.1); idempotent by client_uuid.

    Every bad row is reported by line and nothing is imported when there is one.
    """
    rows = _count_lines(csv_file)
    with click.progressbar(length=2 * rows, label="importing", file=sys.stderr,
                           hidden=not sys.stderr.isatty()) as bar:
        try:
            result = import_inspections(csv_file, progress=bar.update, file_name=os.path.basename(csv_file))
        except APIError as error:
            fail(error)
    db.session.commit()
    for line, client_uuid in result.skipped[:50]:
        click.echo(f"line {line}: {client_uuid} already stored, skipped", err=True)
    if len(result.skipped) > 50:
        click.echo(f"... and {len(result.skipped) - 50} more skipped", err=True)
    click.echo(f"inspections: {result.created} imported, {len(result.skipped)} already stored (skipped)")
