"""Photo store: bytes kept by key, content-addressed by sha256.

`PhotoStore` is the interface the services use: `put`, `open`, `exists`, `delete`, `keys(prefix)`
(and `entries(prefix)` with sizes and times, for the sweep). `LocalPhotoStore` keeps files under
PHOTO_ROOT (the default); `S3PhotoStore` keeps objects in an S3-compatible bucket (Ceph RGW, AWS,
…) when PHOTO_STORE is `s3://bucket/prefix` (`put` is a single PUT object, `open` a GET, `exists`
a HEAD). README "Photo store".

Keys are derived from the sha256 of the original bytes::

    original/ab/abcdef...            the bytes as uploaded (evidence, never changed)
    thumb/ab/abcdef....jpg           ~320 px, orientation applied, no metadata
    display/ab/abcdef....jpg         ~1600 px, orientation applied, no metadata

Writes are atomic: on disk a temporary file in the target directory is written, flushed to disk
and then renamed over the key; on S3 a PUT object replaces the whole object or nothing (its
Content-MD5 checked by the server). A reader (or a crash) never sees half a file.
"""
import base64
import hashlib
import io
import logging
import math
import os
import secrets
import tempfile
import time
from collections import namedtuple
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

from flask import current_app

from app.domain import PHOTO_VARIANTS
from app.errors import ServiceUnavailable

TEMP_PREFIX = ".tmp-"
# content-addressed: an object never changes under its key
OBJECT_CACHE_CONTROL = "private, max-age=604800, immutable"
# an S3 object up to this size is read whole on open (served with its length, ranges possible);
# a larger one (an original) is streamed
S3_READ_WHOLE_BYTES = 2 * 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit

StoreEntry = namedtuple("StoreEntry", "key size modified")  # modified: POSIX seconds


def photo_key(sha256, variant="original"):
    """The store key of one variant of the photo with this sha256."""
    if variant not in PHOTO_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    suffix = "" if variant == "original" else ".jpg"
    return f"{variant}/{sha256[:2]}/{sha256}{suffix}"


def sha_of_key(key):
    """The sha256 a store key names ('original/ab/<sha>', 'thumb/ab/<sha>.jpg', ...), else None."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] not in PHOTO_VARIANTS:
        return None
    sha256 = parts[2][:64]
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return None
    return sha256 if photo_key(sha256, parts[0]) == key else None


def sniff_type(data):
    """The image type its first bytes say (JPEG, PNG, WebP, or an ISO media file taken as HEIC), else
    octets: the Content-Type an object is stored with (the upload checked the bytes already; the
    photo service's sniff_content_type adds the HEIF brand check and refuses the rest)."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "image/heic"
    return "application/octet-stream"


class PhotoStore:
    """What the photo services need from a store."""

    def put(self, key, data, content_type=None):  # pragma: no cover - interface
        """Store `data` (bytes) under `key`, atomically; replaces an existing value."""
        raise NotImplementedError

    def open(self, key):  # pragma: no cover - interface
        """A binary file object for reading `key`; FileNotFoundError when missing."""
        raise NotImplementedError

    def exists(self, key):  # pragma: no cover - interface
        raise NotImplementedError

    def delete(self, key):  # pragma: no cover - interface
        raise NotImplementedError

    def entries(self, prefix=""):  # pragma: no cover - interface
        """A StoreEntry (key, size, modified) for every stored key starting with `prefix` (temp
        files included, named `.tmp-*`)."""
        raise NotImplementedError

    def delete_if_older(self, key, cutoff):  # pragma: no cover - interface
        """Delete `key` unless it was (re)written at or after `cutoff` (POSIX seconds); whether it was."""
        raise NotImplementedError

    def keys(self, prefix=""):
        """Every stored key starting with `prefix`."""
        return (entry.key for entry in self.entries(prefix))

    def read(self, key):
        with self.open(key) as f:
            return f.read()

    def describe(self):
        """Where the store is, for messages (never a secret)."""
        return repr(self)


class LocalPhotoStore(PhotoStore):
    """Files under `root`; `key` is a relative path."""

    def __init__(self, root, fsync=True):
        self.root = Path(root)
        self.fsync = fsync

    def describe(self):
        return str(self.root)

    def path(self, key):
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key {key!r} escapes the store root")
        return path

    def put(self, key, data, content_type=None):
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
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

    def entries(self, prefix=""):
        root = self.root
        start = root / prefix.rsplit("/", 1)[0] if "/" in prefix else root
        for dirpath, dirnames, names in os.walk(start):
            dirnames.sort()
            for name in sorted(names):
                path = Path(dirpath) / name
                key = path.relative_to(root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    continue
                if path.is_symlink() or not path.is_file():
                    continue
                yield StoreEntry(key, info.st_size, info.st_mtime)

    def delete_if_older(self, key, cutoff):
        """An upload of the same bytes may rewrite the file meanwhile: it is first renamed aside, its
        age checked again on the renamed file, and put back when fresh (identical bytes live under
        one key, so putting it back over a newer copy loses nothing)."""
        path = self.path(key)
        aside = path.with_name(f"{TEMP_PREFIX}sweep-{secrets.token_hex(6)}-{path.name}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        try:
            fresh = os.lstat(aside).st_mtime >= cutoff
        except FileNotFoundError:
            return False
        if fresh:  # rewritten before the rename: it stays
            os.replace(aside, path)
            return False
        os.unlink(aside)
        return True


# --- S3 -------------------------------------------------------------------------------------

def parse_s3_url(url):
    """`s3://bucket/prefix` -> (bucket, prefix without slashes at its ends)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"PHOTO_STORE {url!r} is not s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


def _client_errors():
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


def _error_code(exc):
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")), response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _unavailable(exc):
    """The store's answer as our 503 (the client retries; never the URL or keys in the message)."""
    return ServiceUnavailable(
        f"The photo store did not answer ({type(exc).__name__}); try again shortly.",
        message_zh="照片存储暂时无法访问，请稍后重试。",
        headers={"Retry-After": "5"}, details={"retry_after": 5},
    )


class S3PhotoStore(PhotoStore):
    """Objects in an S3-compatible bucket under `prefix`, path-style addressing (Ceph RGW), SigV4.

    Each object is written with its Content-Type, a Cache-Control for content-addressed bytes and
    its sha256 as user metadata (`x-amz-meta-sha256`), so a copy can be checked with a HEAD.
    `presigned_url` signs GETs for the public host name (S3_PUBLIC_ENDPOINT_URL)."""

    def __init__(self, bucket, prefix="", *, endpoint_url=None, public_endpoint_url=None, access_key=None,
                 secret_key=None, region=None, lazy_open=False, connect_timeout=5, read_timeout=30):
        import boto3
        from botocore.config import Config as BotoConfig

        # botocore's DEBUG records carry each request's signature: never below INFO, whatever LOG_LEVEL says
        for name in ("botocore", "boto3", "s3transfer"):
            library_log = logging.getLogger(name)
            library_log.setLevel(max(library_log.getEffectiveLevel(), logging.INFO))

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.endpoint_url = endpoint_url or None
        self.public_endpoint_url = (public_endpoint_url or endpoint_url or "").rstrip("/") or None
        self.region = region or "us-east-1"
        self.lazy_open = lazy_open
        session = boto3.session.Session(aws_access_key_id=access_key or None,
                                        aws_secret_access_key=secret_key or None, region_name=self.region)
        self._session = session
        self.client = session.client("s3", endpoint_url=self.endpoint_url, config=BotoConfig(
            signature_version="s3v4", s3={"addressing_style": "path"},
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=20,  # flask photos migrate --workers (at most 16)
            # the server checks Content-MD5; no flexible checksums (RGW 16 does not know them)
            request_checksum_calculation="when_required", response_checksum_validation="when_required",
        ))

    def describe(self):
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

    def object_key(self, key):
        if not key or key.startswith("/") or "/../" in f"/{key}/" or "\x00" in key:
            raise ValueError(f"bad store key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def store_key(self, object_key):
        return object_key[len(self.prefix) + 1:] if self.prefix else object_key

    # --- the interface ---------------------------------------------------------------------

    def put(self, key, data, content_type=None):
        data = bytes(data)
        BotoCoreError, ClientError = _client_errors()
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self.object_key(key), Body=data,
                ContentType=content_type or sniff_type(data), CacheControl=OBJECT_CACHE_CONTROL,
                ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode(),
                Metadata={"sha256": hashlib.sha256(data).hexdigest()},
            )
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc

    def open(self, key):
        """The object for reading. Eager (the GET sent now, FileNotFoundError when missing; an object
        up to S3_READ_WHOLE_BYTES read whole, so it is served with its length), unless the store was
        made with `lazy_open` (PHOTO_REDIRECT): then the GET waits for the first read, and a photo
        answered by a redirect costs no round trip to the store."""
        handle = S3Object(self, key)
        if self.lazy_open:
            return handle
        handle.fetch()
        if handle.small:
            with handle:
                return StoredBytes(handle.read(), self, key)
        return handle

    def get(self, key):
        """The GET answer of `key` (its Body a stream); FileNotFoundError when missing."""
        BotoCoreError, ClientError = _client_errors()
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            code, status = _error_code(exc)
            if code in ("NoSuchKey", "404") or status == 404:
                raise FileNotFoundError(key) from None
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def head(self, key):
        """The object's HEAD answer (ContentLength, ContentType, Metadata, LastModified …), or None."""
        BotoCoreError, ClientError = _client_errors()
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            code, status = _error_code(exc)
            if code in ("NoSuchKey", "404", "NotFound") or status == 404:
                return None
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def exists(self, key):
        return self.head(key) is not None

    def delete(self, key):
        BotoCoreError, ClientError = _client_errors()
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc

    def entries(self, prefix=""):
        full = self.object_key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for item in page.get("Contents", ()):
                yield StoreEntry(self.store_key(item["Key"]), item["Size"], item["LastModified"].timestamp())

    def delete_if_older(self, key, cutoff):
        """A HEAD just before the DELETE: an object rewritten since the listing stays. (S3 has no
        conditional DELETE here; the window left is that of one round trip.)"""
        head = self.head(key)
        if head is None or head["LastModified"].timestamp() >= cutoff:
            return False
        self.delete(key)
        return True

    # --- bucket and presigned URLs -----------------------------------------------------------

    def ensure_bucket(self):
        """Create the bucket when it does not exist (for `flask photos migrate` and the tests)."""
        BotoCoreError, ClientError = _client_errors()
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            if _error_code(exc)[1] != 404:
                raise
        self.client.create_bucket(Bucket=self.bucket)
        return True

    def presigned_url(self, key, window, now=None):
        """A presigned GET of `key` for the public host name, signed at `now` floored to `window`
        seconds and valid for two windows: every call within one window gives the same URL (the
        browser's cache keeps working), which stays valid for at least one more window.

        The URL is a bearer link until it expires: never log it."""
        window = max(1, int(window))
        now = time.time() if now is None else now
        signed_at = math.floor(now / window) * window
        return self._presign(key, signed_at, min(2 * window, MAX_PRESIGN_SECONDS))

    def _presign(self, key, signed_at, expires):
        from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth
        from botocore.awsrequest import AWSRequest

        class _SignedAt(S3SigV4QueryAuth):
            """botocore's S3 query signer with a given signing time instead of now."""

            def add_auth(self, request):
                request.context["timestamp"] = datetime.fromtimestamp(signed_at, timezone.utc).strftime(
                    SIGV4_TIMESTAMP)
                self._modify_request_before_signing(request)
                canonical = self.canonical_request(request)
                signature = self.signature(self.string_to_sign(request, canonical), request)
                self._inject_signature_to_request(request, signature)

        base = self.public_endpoint_url or f"https://s3.{self.region}.amazonaws.com"
        url = f"{base}/{quote(self.bucket, safe='')}/{quote(self.object_key(key), safe='/~')}"
        credentials = self._session.get_credentials().get_frozen_credentials()
        request = AWSRequest(method="GET", url=url)
        _SignedAt(credentials, "s3", self.region, expires=expires).add_auth(request)
        return request.url


class StoredBytes(io.BytesIO):
    """A small stored object read whole, knowing where it came from (for presigned_redirect)."""

    def __init__(self, data, store, key):
        super().__init__(data)
        self.store, self.store_key = store, key


class S3Object(io.RawIOBase):
    """An S3 object opened for reading; `fetch` (or the first read) sends the GET."""

    def __init__(self, store, key):
        super().__init__()
        self.store, self.store_key = store, key
        self._body = None
        self.small = False

    def fetch(self):
        if self._body is None:
            response = self.store.get(self.store_key)
            self._body = response["Body"]
            self.small = response.get("ContentLength", 0) <= S3_READ_WHOLE_BYTES
        return self

    def readable(self):
        return True

    def read(self, size=-1):
        self.fetch()
        return self._body.read(None if size is None or size < 0 else size)

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readall(self):
        return self.read()

    def close(self):
        if self._body is not None:
            self._body.close()
        super().close()


def make_store(config, url=None):
    """The photo store the configuration names: S3 when PHOTO_STORE (or `url`) is s3://bucket/prefix,
    else local disk under PHOTO_ROOT."""
    url = config.get("PHOTO_STORE") if url is None else url
    if not url:
        return LocalPhotoStore(config["PHOTO_ROOT"], fsync=config.get("PHOTO_FSYNC", True))
    bucket, prefix = parse_s3_url(url)
    return S3PhotoStore(
        bucket, prefix, endpoint_url=config.get("S3_ENDPOINT_URL") or None,
        public_endpoint_url=config.get("S3_PUBLIC_ENDPOINT_URL") or None,
        access_key=config.get("AWS_ACCESS_KEY_ID"), secret_key=config.get("AWS_SECRET_ACCESS_KEY"),
        region=config.get("AWS_DEFAULT_REGION"), lazy_open=bool(config.get("PHOTO_REDIRECT")),
    )


def presigned_redirect(stream, config):
    """(url, seconds the redirect may be cached) for a stored object opened from an S3 store when
    PHOTO_REDIRECT is on, else None (the bytes are served by the app).

    The URL is signed at the time floored to PHOTO_REDIRECT_WINDOW_SECONDS and valid for two windows;
    the redirect may be cached until the end of the first, so a cached redirect always leads to a
    URL with at least one window left. The URL is a bearer link: never logged."""
    store, key = getattr(stream, "store", None), getattr(stream, "store_key", None)
    if not config.get("PHOTO_REDIRECT") or key is None or not isinstance(store, S3PhotoStore):
        return None
    window = max(1, int(config.get("PHOTO_REDIRECT_WINDOW_SECONDS", 300)))
    now = time.time()
    url = store.presigned_url(key, window, now=now)
    return url, max(0, int(math.floor(now / window) * window + window - now))


def get_store():
    """The current app's photo store (made by `create_app`)."""
    return current_app.extensions["photo_store"]
