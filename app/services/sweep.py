"""The photo sweep (`flask photos sweep`): stored files (or S3 objects) that no Photo row needs.

An upload writes its files (original, display, thumb: keys derived from the sha256, see
app/storage.py `photo_key`) before its row, so a request killed or refused in between leaves
files without a row; a crash during a write to disk leaves a `.tmp-*` file. The sweep lists the
store through its interface (`entries`: key, size, time written; on disk a walk of PHOTO_ROOT, on
S3 a listing of the bucket's prefix) and removes both, and never touches:

- a file younger than PHOTO_SWEEP_MIN_AGE_SECONDS (default an hour, well above the longest
  request): a request in flight may still be about to write its row, or to rename its temp file;
- a file whose sha256 has a Photo row;
- anything that is neither a store key nor a temp file (reported as unknown).

An upload of the same bytes may rewrite an old orphan while the sweep runs (its row follows), so
each removal goes through the store's `delete_if_older`: on disk the file is renamed aside, its age
checked again on the renamed file and put back when fresh; on S3 a HEAD right before the DELETE
keeps an object written since the listing.
"""
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Photo
from app.storage import TEMP_PREFIX, get_store, sha_of_key

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


def _shas_with_rows(shas):
    """The subset of `shas` that have a Photo row."""
    shas, found = sorted(shas), set()
    for start in range(0, len(shas), QUERY_BATCH):
        found.update(db.session.scalars(select(Photo.sha256).where(Photo.sha256.in_(shas[start:start + QUERY_BATCH]))))
    return found


def sweep_photos(min_age=None, dry_run=False):
    """Remove (or, dry_run, count) the photo store's files without a Photo row and its abandoned
    temp files, all older than `min_age` seconds (at least PHOTO_SWEEP_MIN_AGE_SECONDS)."""
    floor = current_app.config["PHOTO_SWEEP_MIN_AGE_SECONDS"]
    min_age = floor if min_age is None else int(min_age)
    if min_age < floor:
        raise ValueError(f"--min-age {min_age} is below PHOTO_SWEEP_MIN_AGE_SECONDS ({floor} s): a file that "
                         "young may belong to a request still running")
    store = get_store()
    result = SweepResult(dry_run=dry_run, min_age=min_age)
    cutoff = time.time() - min_age
    temps, candidates = [], {}
    for entry in store.entries():
        is_temp = entry.key.rsplit("/", 1)[-1].startswith(TEMP_PREFIX)
        sha256 = None if is_temp else sha_of_key(entry.key)
        if not is_temp and sha256 is None:
            result.unknown += 1
        elif entry.modified >= cutoff:
            result.kept_young += 1
        elif is_temp:
            temps.append(entry)
        else:
            candidates.setdefault(sha256, []).append(entry)
    with_rows = _shas_with_rows(candidates)
    for sha256 in sorted(candidates):
        for entry in candidates[sha256]:
            if sha256 in with_rows:
                result.kept_with_row += 1
            elif dry_run or store.delete_if_older(entry.key, cutoff):
                result.orphans += 1
                result.orphan_bytes += entry.size
                result.removed.append(entry.key)
    for entry in temps:
        if not (dry_run or store.delete_if_older(entry.key, cutoff)):
            continue
        result.temp_files += 1
        result.temp_bytes += entry.size
        result.removed.append(entry.key)
    return result
