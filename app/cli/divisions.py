import click
from flask.cli import AppGroup

from app.errors import APIError
from app.extensions import db
from app.services.divisions import import_boundaries, import_divisions

divisions_cli = AppGroup("divisions", help="Import the division tree and its geometry.")


def fail(error):
    db.session.rollback()
    details = (error.details or {}).get("problems") or []
    for problem in details:
        where = ", ".join(f"{k} {v}" for k, v in problem.items() if k != "message")
        click.echo(f"{where}: {problem['message']}", err=True)
    raise click.ClickException(error.message if not details else f"{len(details)} problem(s); nothing imported")


@divisions_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
def import_command(csv_file):
    """Import divisions from CSV (code,name,level,parent_code[,kind,households])."""
    try:
        result = import_divisions(csv_file)
    except APIError as error:
        fail(error)
    db.session.commit()
    click.echo(f"divisions: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@divisions_cli.command("import-boundaries")
@click.argument("geojson_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--synthetic", is_flag=True, default=None, help="Mark every shape as synthetic.")
def import_boundaries_command(geojson_file, synthetic):
    """Attach boundaries/points from a GeoJSON FeatureCollection (properties.code)."""
    try:
        count = import_boundaries(geojson_file, synthetic=synthetic)
    except APIError as error:
        fail(error)
    db.session.commit()
    click.echo(f"geometry attached to {count} divisions")
