"""`flask photos migrate --to s3://bucket/prefix`: copy the disk photo store to an S3 bucket.

Idempotent and resumable: each store key is one atomic PUT, and a key whose object is there with
the same sha256 (its `x-amz-meta-sha256`, from a HEAD; an object without it is read and hashed)
is skipped, so a run that was interrupted is finished by running it again. Every object copied is
read back and its sha256 compared with the source's. An original whose bytes no longer match the
sha256 its key names (a damaged disk file) is not copied and is reported. Temp files and anything
that is not a store key are left out. Several keys are copied at once (`workers` threads: each
copy is a few round trips to the store, so threads overlap the waiting).
"""
import hashlib
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from app.storage import TEMP_PREFIX, S3PhotoStore, sha_of_key


@dataclass
class MigrationResult:
    total: int = 0             # store keys found on disk
    copied: int = 0            # written to S3 and read back with the same sha256
    copied_bytes: int = 0
    skipped: int = 0           # already on S3 with the same sha256
    replaced: int = 0          # of `copied`: an object was there with other bytes
    source_mismatch: list = field(default_factory=list)  # originals whose bytes are not their sha256
    verify_failed: list = field(default_factory=list)    # read back with another sha256
    missing: int = 0           # vanished from disk during the run
    stopped_early: bool = False  # --limit reached

    @property
    def ok(self):
        return not (self.source_mismatch or self.verify_failed)


def migration_keys(source):
    """The store keys of a local store (no temp files, nothing else), sorted."""
    keys = []
    for entry in source.entries():
        if entry.key.rsplit("/", 1)[-1].startswith(TEMP_PREFIX) or sha_of_key(entry.key) is None:
            continue
        keys.append(entry.key)
    return sorted(keys)


def _target_sha256(target, key):
    """The sha256 of the object at `key` on the target (metadata, else the bytes), or None."""
    head = target.head(key)
    if head is None:
        return None
    recorded = (head.get("Metadata") or {}).get("sha256")
    if recorded:
        return recorded
    try:
        return hashlib.sha256(target.read(key)).hexdigest()
    except FileNotFoundError:
        return None


def copy_key(source, target, key):
    """Copy one key if needed: (outcome, bytes copied, whether other bytes were replaced); outcome is
    'copied', 'skipped', 'missing', 'source_mismatch' or 'verify_failed'. Safe in threads."""
    try:
        data = source.read(key)
    except FileNotFoundError:
        return "missing", 0, False
    digest = hashlib.sha256(data).hexdigest()
    if key.startswith("original/") and digest != sha_of_key(key):
        return "source_mismatch", 0, False
    present = _target_sha256(target, key)
    if present == digest:
        return "skipped", 0, False
    target.put(key, data)
    if hashlib.sha256(target.read(key)).hexdigest() != digest:
        return "verify_failed", 0, False
    return "copied", len(data), present is not None


def _tally(result, key, outcome, size, replaced):
    if outcome == "copied":
        result.copied += 1
        result.copied_bytes += size
        result.replaced += int(replaced)
    elif outcome == "skipped":
        result.skipped += 1
    elif outcome == "missing":
        result.missing += 1
    elif outcome == "source_mismatch":
        result.source_mismatch.append(key)
    else:
        result.verify_failed.append(key)


def migrate_store(source, target, keys=None, limit=None, on_key=None, workers=1):
    """Copy every store key of the local store `source` to the S3 store `target` (see the module),
    `workers` keys at a time. `limit`: stop after copying that many objects (skips do not count;
    never more are started than could be copies within it). `on_key(key, outcome)` is called after
    each key, in the calling thread (the command's progress bar)."""
    if not isinstance(target, S3PhotoStore):
        raise ValueError("the target of a migration is an S3 store (s3://bucket/prefix)")
    keys = migration_keys(source) if keys is None else keys
    result = MigrationResult(total=len(keys))
    target.ensure_bucket()
    pending = iter(keys)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        running = {}
        while True:
            while len(running) < max(1, workers) and (limit is None or result.copied + len(running) < limit):
                key = next(pending, None)
                if key is None:
                    break
                running[pool.submit(copy_key, source, target, key)] = key
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                outcome, size, replaced = future.result()
                _tally(result, key, outcome, size, replaced)
                if on_key is not None:
                    on_key(key, outcome)
    result.stopped_early = limit is not None and result.copied >= limit and next(pending, None) is not None
    return result
