import os
import sys

import click
from flask.cli import AppGroup

from app.cli.divisions import fail, note_file
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
    """Import historical inspections from CSV; idempotent by client_uuid.

    \b
    Columns (header row, any order; * required):
      client_uuid*          a UUID naming the visit
      village_code*         12-digit village code
      observed_at*          ISO 8601 with offset, e.g. 2025-06-01T10:00:00+08:00
      status*               submitted, approved, returned, rejected,
                            or 通过, 退回, 不通过 / 驳回
      lon, lat              WGS-84 degrees (both or neither)
      garbage_stable, sewage_treated, village_clean
                            true/是, false/否, or empty (not answered)
      households, households_with_tap
                            whole numbers (tap water)
    Other columns are ignored and named. The file may be UTF-8 (with or
    without BOM) or GB18030/GBK, as Excel saves "CSV" on a Chinese Windows;
    the encoding is detected. Every problem of every bad line is listed and
    nothing is imported when there is one.
    """
    rows = _count_lines(csv_file)
    with click.progressbar(length=2 * rows, label="importing", file=sys.stderr,
                           hidden=not sys.stderr.isatty()) as bar:
        try:
            result = import_inspections(csv_file, progress=bar.update, file_name=os.path.basename(csv_file))
        except APIError as error:
            fail(error)
    db.session.commit()
    note_file(result)
    for line, client_uuid in result.skipped[:50]:
        click.echo(f"line {line}: {client_uuid} already stored, skipped", err=True)
    if len(result.skipped) > 50:
        click.echo(f"... and {len(result.skipped) - 50} more skipped", err=True)
    click.echo(f"inspections: {result.created} imported, {len(result.skipped)} already stored (skipped)")
