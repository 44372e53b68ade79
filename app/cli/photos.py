import click
from flask.cli import AppGroup

from app.services.sweep import sweep_photos

photos_cli = AppGroup("photos", help="The photo store: remove files no photo row needs.")


def _files(n, what):
    return f"{n} {what}" if n == 1 else f"{n} {what.replace('file', 'files', 1)}"


@photos_cli.command("sweep")
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@click.option("--min-age", type=int, default=None, metavar="SECONDS",
              help="Leave files younger than this (default and lowest: PHOTO_SWEEP_MIN_AGE_SECONDS).")
@click.option("--verbose", "-v", is_flag=True, help="Also list each file removed.")
def sweep_command(dry_run, min_age, verbose):
    """Remove stored photo files without a photo row (left by killed or refused uploads) and
    abandoned temp files; never a file younger than the longest request, never one with a row."""
    try:
        result = sweep_photos(min_age=min_age, dry_run=dry_run)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    verb = "would remove" if dry_run else "removed"
    if verbose:
        for relative in result.removed:
            click.echo(f"{verb} {relative}")
    click.echo(f"{verb} {_files(result.orphans, 'file without a photo row')} ({result.orphan_bytes} bytes)")
    click.echo(f"{verb} {_files(result.temp_files, 'temp file')} ({result.temp_bytes} bytes)")
    click.echo(f"kept {result.kept_with_row} with a photo row, {result.kept_young} younger than {result.min_age} s, "
               f"{result.unknown} not photo store files")
