"""Photo store: bytes kept by key, content-addressed by sha256.

`PhotoStore` is the interface the services use; `LocalPhotoStore` keeps files under PHOTO_ROOT.
An S3-compatible store implements the same four methods (`put` as a single PUT object, `open`
as a GET streaming body, `exists` as a HEAD).

Keys are derived from the sha256 of the original bytes::

    original/ab/abcdef...            the bytes as uploaded (evidence, never changed)
    thumb/ab/abcdef....jpg           ~320 px, orientation applied, no metadata
    display/ab/abcdef....jpg         ~1600 px, orientation applied, no metadata

Writes are atomic: a temporary file in the target directory is written, flushed to disk and then
renamed over the key, so a reader (or a crash) never sees half a file.
"""
import os
import tempfile
from pathlib import Path

from flask import current_app

from app.domain import PHOTO_VARIANTS


def photo_key(sha256, variant="original"):
    """The store key of one variant of the photo with this sha256."""
    if variant not in PHOTO_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    suffix = "" if variant == "original" else ".jpg"
    return f"{variant}/{sha256[:2]}/{sha256}{suffix}"


class PhotoStore:
    """What the photo services need from a store."""

    def put(self, key, data):  # pragma: no cover - interface
        """Store `data` (bytes) under `key`, atomically; replaces an existing value."""
        raise NotImplementedError

    def open(self, key):  # pragma: no cover - interface
        """A binary file object for reading `key`; FileNotFoundError when missing."""
        raise NotImplementedError

    def exists(self, key):  # pragma: no cover - interface
        raise NotImplementedError

    def delete(self, key):  # pragma: no cover - interface
        raise NotImplementedError

    def read(self, key):
        with self.open(key) as f:
            return f.read()


class LocalPhotoStore(PhotoStore):
    """Files under `root`; `key` is a relative path."""

    def __init__(self, root, fsync=True):
        self.root = Path(root)
        self.fsync = fsync

    def path(self, key):
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key {key!r} escapes the store root")
        return path

    def put(self, key, data):
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def open(self, key):
        return open(self.path(key), "rb")

    def exists(self, key):
        return self.path(key).is_file()

    def delete(self, key):
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass


def make_store(config):
    """The photo store the configuration names (local disk under PHOTO_ROOT)."""
    return LocalPhotoStore(config["PHOTO_ROOT"], fsync=config.get("PHOTO_FSYNC", True))


def get_store():
    """The current app's photo store (made by `create_app`)."""
    return current_app.extensions["photo_store"]
