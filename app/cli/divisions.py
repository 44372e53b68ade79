import click
from flask.cli import AppGroup

from app.errors import APIError
from app.extensions import db
from app.services.csvtext import encoding_label
from app.services.divisions import import_boundaries, import_divisions

divisions_cli = AppGroup("divisions", help="Import the division tree and its geometry.")


def fail(error):
    db.session.rollback()
    details = (error.details or {}).get("problems") or []
    for problem in details:
        where = ", ".join(f"{k} {v}" for k, v in problem.items() if k not in ("message", "message_zh"))
        click.echo(f"{where}: {problem['message']}", err=True)
    raise click.ClickException(error.message if not details else f"{len(details)} problem(s); nothing imported")


def note_file(result):
    """Say how the file was read and which columns were left out (on stderr)."""
    click.echo(f"read as {encoding_label(result.encoding)}", err=True)
    if result.ignored_columns:
        click.echo(f"ignored column(s): {', '.join(result.ignored_columns)}", err=True)


@divisions_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
def import_command(csv_file):
    """Import divisions from CSV; all or nothing, idempotent by code.

    \b
    Columns (header row, any order):
      code         statistical division code (2/4/6/9/12 digits by level)
      name         official name, e.g. 新建村村民委员会
      level        province, city, county, township or village
      parent_code  the code of the division above (empty for the file's top)
      kind         villages: rural, urban or farm (default: from the name)
      households   optional, a whole number
    Other columns are ignored and named. The file may be UTF-8 (with or
    without BOM) or GB18030/GBK, as Excel saves "CSV" on a Chinese Windows;
    the encoding is detected. Every problem of every bad line is listed.
    """
    try:
        result = import_divisions(csv_file)
    except APIError as error:
        fail(error)
    db.session.commit()
    note_file(result)
    click.echo(f"divisions: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@divisions_cli.command("import-boundaries")
@click.argument("geojson_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--synthetic", is_flag=True, default=None, help="Mark every shape as synthetic.")
def import_boundaries_command(geojson_file, synthetic):
    """Attach boundaries/points from a GeoJSON FeatureCollection (properties.code)."""
    try:
        result = import_boundaries(geojson_file, synthetic=synthetic)
    except APIError as error:
        fail(error)
    db.session.commit()
    click.echo(f"geometry attached to {result.created + result.updated + result.unchanged} divisions "
               f"({result.created} new, {result.updated} changed, {result.unchanged} unchanged)")
