import json

import click
from flask.cli import AppGroup

from app.errors import APIError
from app.extensions import db
from app.models import LEVELS, Division
from app.schemas.rates import RatesSchema
from app.services import exports
from app.services.rates import compute_rates, current_year_key, make_query

rates_cli = AppGroup("rates", help="Rates reports.")


@rates_cli.command("report")
@click.option("--division", required=True, help="division code, e.g. 2303")
@click.option("--period", default=None, help="2026, 2026-Q3 or 2026-09 (China time); default: this year")
@click.option("--level", type=click.Choice(LEVELS), default=None, help="break down by (default: one below)")
@click.option("--format", "fmt", type=click.Choice(("xlsx", "csv", "json", "geojson")), default="xlsx")
@click.option("--lang", type=click.Choice(("en", "zh")), default="zh", help="column headers")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True)
def report_command(division, period, level, fmt, lang, output):
    """Write the rates of a division (the same numbers as GET /api/v1/rates) to a file."""
    found = db.session.get(Division, division)
    if found is None:
        raise click.ClickException(f"division {division} not found")
    try:
        result = compute_rates(make_query(found, period or current_year_key(), level))
    except APIError as error:
        raise click.ClickException(f"{error.message} {error.fields or ''}".strip()) from error
    if fmt == "json":
        with open(output, "w", encoding="utf-8") as f:
            json.dump(RatesSchema().dump(result), f, ensure_ascii=False, indent=2)
    else:
        chunks = exports.RATE_EXPORTS[fmt](result, lang)
        with open(output, "wb") as f:
            for chunk in chunks:
                f.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
    click.echo(f"{result['division']['code']} {result['period']} by {result['level']}: "
               f"{len(result['rows'])} rows written to {output}")
