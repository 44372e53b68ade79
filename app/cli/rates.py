import json
import re

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import aliased

from app.errors import APIError
from app.extensions import db
from app.models import LEVELS, Division
from app.schemas.rates import RatesSchema
from app.services import exports
from app.services.rates import compute_rates, current_year_key, make_query, month_label
from app.services.village_status import (
    build_snapshot_month,
    build_township_months,
    compare_sources,
    drop_snapshots,
    missing_snapshot_months,
)

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


@rates_cli.command("build-snapshots")
@click.option("--through", default=None, help="last month to build, e.g. 2026-11 (default: the current month, China time)")
@click.option("--rebuild", is_flag=True, help="forget every snapshot and build them all again")
def build_snapshots_command(through, rebuild):
    """Build the monthly snapshots of each village's latest approved answers (DESIGN §4) for every
    month from the earliest approved inspection to --through that is not built yet; each month in
    its own transaction, from the previous month plus that month's approvals, with its per-township
    aggregate. Then rebuilds the township aggregate of every built month that was built with another
    RATES_VALIDITY_DAYS or RATES_COUNTED_KINDS, or before a division changed (those months are read
    from the village snapshots meanwhile). Run it after `flask db upgrade`, after changing those
    settings or the divisions, and from cron early each month (running it again builds nothing twice)."""
    last = None
    if through:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", through):
            raise click.ClickException("--through takes a month, e.g. 2026-11")
        last = int(through[:4]) * 100 + int(through[5:])
    if rebuild:
        drop_snapshots()
        db.session.commit()
    months = missing_snapshot_months(last)
    for month in months:
        build_snapshot_month(month)
        db.session.commit()
        click.echo(f"built {month_label(month)}")
    click.echo(f"snapshots: {len(months)} month(s) built")
    rebuilt = build_township_months()
    for month in rebuilt:
        click.echo(f"township aggregate of {month_label(month)} rebuilt")
    click.echo(f"township aggregate: {len(rebuilt)} month(s) rebuilt")


@rates_cli.command("verify")
@click.option("--period", "periods", multiple=True, required=True,
              help="2026, 2026-Q3 or 2026-09; repeat for several")
@click.option("--division", "divisions", multiple=True, help="division code (default: every top-level division)")
@click.option("--level", type=click.Choice(LEVELS), default="village", help="compare at this level (default: village)")
def verify_command(periods, divisions, level):
    """Compare each period's rates from the monthly snapshots, their per-township aggregate (at
    --level when above township, else one level below the division) and the latest-answer table
    where it is used, with the from-scratch statement over the inspections; print every difference.
    Exit status 1 when there is one."""
    if not divisions:
        parent = aliased(Division)  # the top of the tree: no parent in the table
        divisions = db.session.scalars(select(Division.code).outerjoin(parent, parent.code == Division.parent_code)
                                       .where(parent.code.is_(None)).order_by(Division.code)).all()
    failed = 0
    for code in divisions:
        found = db.session.get(Division, code)
        if found is None:
            raise click.ClickException(f"division {code} not found")
        for period in periods:
            try:
                query = make_query(found, period, level if LEVELS.index(level) >= LEVELS.index(found.level) else found.level)
            except APIError as error:
                raise click.ClickException(f"{error.message} {error.fields or ''}".strip()) from error
            sources, differences = compare_sources(query)
            for source, path, truth, got in differences[:100]:
                click.echo(f"DIFFERENT {code} {period} {source} {path}: inspections {truth!r}, {source} {got!r}")
            if len(differences) > 100:
                click.echo(f"... and {len(differences) - 100} more differences")
            failed += bool(differences)
            compared = ", ".join(sources) or "nothing maintained applies"
            click.echo(f"{code} {period} by {query.level}: {'DIFFERENT' if differences else 'equal'} "
                       f"(from the inspections vs {compared})")
    db.session.rollback()
    if failed:
        raise SystemExit(1)
