"""`flask photos migrate --to s3://bucket/prefix`: copy the disk photo store to an S3 bucket.

Idempotent and resumable: each store key is one atomic PUT, and a key whose object is there with
the same sha256 (its `x-amz-meta-sha256`, from a HEAD; an object without it is read and hashed)
is skipped, so a run that was interrupted is finished by running it again. Every object copied is
read back and its sha256 compared with the source's. An original whose bytes no longer match the
sha256 its key names (a damaged disk file) is not copied and is reported. Temp files and anything
that is not a store key are left out.
"""
import hashlib
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


def copy_key(source, target, key, result):
    """Copy one key if needed; updates `result`; returns what happened ('copied', 'skipped', ...)."""
    try:
        data = source.read(key)
    except FileNotFoundError:
        result.missing += 1
        return "missing"
    digest = hashlib.sha256(data).hexdigest()
    if key.startswith("original/") and digest != sha_of_key(key):
        result.source_mismatch.append(key)
        return "source_mismatch"
    present = _target_sha256(target, key)
    if present == digest:
        result.skipped += 1
        return "skipped"
    target.put(key, data)
    if hashlib.sha256(target.read(key)).hexdigest() != digest:
        result.verify_failed.append(key)
        return "verify_failed"
    result.copied += 1
    result.copied_bytes += len(data)
    if present is not None:
        result.replaced += 1
    return "copied"


def migrate_store(source, target, keys=None, limit=None, on_key=None):
    """Copy every store key of the local store `source` to the S3 store `target` (see the module).
    `limit`: stop after copying that many objects (skips do not count). `on_key(key, outcome)` is
    called after each key (the command's progress bar)."""
    if not isinstance(target, S3PhotoStore):
        raise ValueError("the target of a migration is an S3 store (s3://bucket/prefix)")
    keys = migration_keys(source) if keys is None else keys
    result = MigrationResult(total=len(keys))
    target.ensure_bucket()
    for key in keys:
        if limit is not None and result.copied >= limit:
            result.stopped_early = True
            break
        outcome = copy_key(source, target, key, result)
        if on_key is not None:
            on_key(key, outcome)
    return result
