"""The photo sweep (`flask photos sweep`): files in the photo store that no Photo row needs.

An upload writes its files (original, display, thumb: keys derived from the sha256, see
app/storage.py `photo_key`) before its row, so a request killed or refused in between leaves
files without a row; a crash during a write leaves a `.tmp-*` file. The sweep removes both, and
never touches:

- a file younger than PHOTO_SWEEP_MIN_AGE_SECONDS (default an hour, well above the longest
  request): a request in flight may still be about to write its row, or to rename its temp file;
- a file whose sha256 has a Photo row;
- anything that is neither a store key nor a temp file (reported as unknown).

An upload of the same bytes may rewrite an old orphan while the sweep runs (its row follows). So
an orphan is first renamed aside (to a `.tmp-sweep-*` name), its age checked again on the renamed
file, and put back when it turns out fresh; only then is it removed. Identical bytes live under one
key, so putting back a file over a newer copy loses nothing.
"""
import os
import secrets
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app.domain import PHOTO_VARIANTS
from app.extensions import db
from app.models import Photo
from app.storage import get_store, photo_key

TEMP_PREFIX = ".tmp-"
QUERY_BATCH = 500


@dataclass
class SweepResult:
    dry_run: bool
    min_age: int
    orphans: int = 0
    orphan_bytes: int = 0
    temp_files: int = 0
    temp_bytes: int = 0
    kept_with_row: int = 0
    kept_young: int = 0
    unknown: int = 0
    removed: list = field(default_factory=list)  # store-relative paths removed (or to be, in a dry run)


def _sha_of_key(relative):
    """The sha256 a store key names ('original/ab/<sha>', 'thumb/ab/<sha>.jpg', ...), else None."""
    parts = relative.split("/")
    if len(parts) != 3 or parts[0] not in PHOTO_VARIANTS:
        return None
    sha256 = parts[2][:64]
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return None
    return sha256 if photo_key(sha256, parts[0]) == relative else None


def _shas_with_rows(shas):
    """The subset of `shas` that have a Photo row."""
    shas, found = sorted(shas), set()
    for start in range(0, len(shas), QUERY_BATCH):
        found.update(db.session.scalars(select(Photo.sha256).where(Photo.sha256.in_(shas[start:start + QUERY_BATCH]))))
    return found


def _files(root):
    """(path, store-relative path, lstat) of every regular file under `root`."""
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode):
                yield path, path.relative_to(root).as_posix(), info


def _still_old(path, cutoff):
    try:
        return os.lstat(path).st_mtime < cutoff
    except FileNotFoundError:
        return False


def _remove_orphan(path, cutoff):
    """Remove an orphan unless it was rewritten meanwhile; whether it was removed."""
    aside = path.with_name(f"{TEMP_PREFIX}sweep-{secrets.token_hex(6)}-{path.name}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if not _still_old(aside, cutoff):  # an upload rewrote it before the rename: it stays
        os.replace(aside, path)
        return False
    os.unlink(aside)
    return True


def sweep_photos(min_age=None, dry_run=False):
    """Remove (or, dry_run, count) the photo store's files without a Photo row and its abandoned
    temp files, all older than `min_age` seconds (at least PHOTO_SWEEP_MIN_AGE_SECONDS)."""
    floor = current_app.config["PHOTO_SWEEP_MIN_AGE_SECONDS"]
    min_age = floor if min_age is None else int(min_age)
    if min_age < floor:
        raise ValueError(f"--min-age {min_age} is below PHOTO_SWEEP_MIN_AGE_SECONDS ({floor} s): a file that "
                         "young may belong to a request still running")
    root = getattr(get_store(), "root", None)
    if root is None:
        raise ValueError("the sweep walks a local photo store (PHOTO_ROOT)")
    result = SweepResult(dry_run=dry_run, min_age=min_age)
    cutoff = time.time() - min_age
    temps, candidates = [], {}
    for path, relative, info in _files(root):
        is_temp = path.name.startswith(TEMP_PREFIX)
        sha256 = None if is_temp else _sha_of_key(relative)
        if not is_temp and sha256 is None:
            result.unknown += 1
        elif info.st_mtime >= cutoff:
            result.kept_young += 1
        elif is_temp:
            temps.append((path, relative, info.st_size))
        else:
            candidates.setdefault(sha256, []).append((path, relative, info.st_size))
    with_rows = _shas_with_rows(candidates)
    for sha256 in sorted(candidates):
        for path, relative, size in candidates[sha256]:
            if sha256 in with_rows:
                result.kept_with_row += 1
            elif dry_run or _remove_orphan(path, cutoff):
                result.orphans += 1
                result.orphan_bytes += size
                result.removed.append(relative)
    for path, relative, size in temps:
        if not _still_old(path, cutoff):
            continue
        if not dry_run:
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
        result.temp_files += 1
        result.temp_bytes += size
        result.removed.append(relative)
    return result
