import click
from flask import current_app
from flask.cli import AppGroup

from app.services.photo_migration import migrate_store, migration_keys
from app.services.sweep import sweep_photos
from app.storage import LocalPhotoStore, S3PhotoStore, make_store

photos_cli = AppGroup("photos", help="The photo store: remove files no photo row needs; copy the disk store to S3.")


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


@photos_cli.command("migrate")
@click.option("--to", "to_url", required=True, metavar="s3://BUCKET/PREFIX",
              help="The S3 store to copy to (at S3_ENDPOINT_URL, with the AWS_* credentials).")
@click.option("--from", "from_root", default=None, metavar="PATH", help="The disk store to copy (default: PHOTO_ROOT).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Stop after copying this many objects (run again to copy the rest).")
@click.option("--workers", type=click.IntRange(1, 16), default=4, show_default=True,
              help="Objects copied at once.")
@click.option("--verbose", "-v", is_flag=True, help="Also list each object copied.")
def migrate_command(to_url, from_root, limit, workers, verbose):
    """Copy the disk photo store to an S3 bucket: idempotent (an object already there with the same
    sha256 is skipped), resumable (run it again after an interruption), every copy read back and
    checked against its sha256. Exit status 1 when a file or a copy does not match its sha256."""
    try:
        target = make_store(current_app.config, url=to_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not isinstance(target, S3PhotoStore):
        raise click.UsageError("--to takes s3://bucket/prefix")
    source = LocalPhotoStore(from_root or current_app.config["PHOTO_ROOT"], fsync=False)
    keys = migration_keys(source)
    click.echo(f"{len(keys)} objects in {source.describe()} -> {target.describe()}")
    with click.progressbar(length=len(keys), label="copying", show_pos=True) as bar:
        def on_key(key, outcome):
            bar.update(1)
            if verbose and outcome == "copied":
                click.echo(f" copied {key}")
            elif outcome in ("source_mismatch", "verify_failed"):
                click.echo(f" {outcome.replace('_', ' ')}: {key}", err=True)

        result = migrate_store(source, target, keys=keys, limit=limit, on_key=on_key, workers=workers)
    click.echo(f"copied {result.copied} ({result.copied_bytes} bytes, {result.replaced} replacing other bytes), "
               f"skipped {result.skipped} already there, {len(result.source_mismatch)} not matching their sha256 "
               f"on disk, {len(result.verify_failed)} read back wrong, {result.missing} gone from disk")
    if result.stopped_early:
        click.echo(f"stopped after {limit} copies (--limit): run the command again to copy the rest")
    if not result.ok:
        raise SystemExit(1)
