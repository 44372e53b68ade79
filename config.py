"""Configuration, read from the environment.

`APP_ENV` picks the class: `development` (default), `production` or `testing`.
The contract names from the design (`DATABASE_URL`, `PHOTO_ROOT`, `SECRET_KEY`) are read as-is.
"""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


def _int(name, default):
    return int(os.environ.get(name, default))


def _float(name, default):
    return float(os.environ.get(name, default))


def instance_secret():
    """A development secret kept in instance/, so several workers share it across restarts."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


class Config:
    APP_ENV = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'rural.db'}")
    PHOTO_ROOT = os.environ.get("PHOTO_ROOT", str(INSTANCE_DIR / "photos"))
    # Photo store (README "Photo store"): unset, files under PHOTO_ROOT; `s3://bucket/prefix`, an
    # S3-compatible bucket (path-style, e.g. Ceph RGW) at S3_ENDPOINT_URL with the AWS_* credentials.
    PHOTO_STORE = os.environ.get("PHOTO_STORE", "")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL", "")
    # the host name browsers reach the store by, which presigned URLs are signed for
    S3_PUBLIC_ENDPOINT_URL = os.environ.get("S3_PUBLIC_ENDPOINT_URL", "") or S3_ENDPOINT_URL
    AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID")
    AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY")
    AWS_DEFAULT_REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    # S3 only: photo GETs answer 302 to a presigned URL (after the scope check), signed at the time
    # floored to PHOTO_REDIRECT_WINDOW_SECONDS and valid for two windows
    PHOTO_REDIRECT = os.environ.get("PHOTO_REDIRECT", "0").lower() in ("1", "true", "yes", "on")
    PHOTO_REDIRECT_WINDOW_SECONDS = _int("PHOTO_REDIRECT_WINDOW_SECONDS", 300)
    JSON_AS_ASCII = False

    # Behind a reverse proxy (nginx): how many proxies set X-Forwarded-For. Login throttling per
    # address needs the client's address, not the proxy's.
    PROXY_FIX_HOPS = _int("PROXY_FIX_HOPS", 0)

    # Accounts
    TOKEN_TTL_HOURS = _int("TOKEN_TTL_HOURS", 24 * 30)
    LOGIN_MAX_FAILURES = _int("LOGIN_MAX_FAILURES", 5)
    LOGIN_WINDOW_SECONDS = _int("LOGIN_WINDOW_SECONDS", 15 * 60)
    LOGIN_LOCKOUT_SECONDS = _int("LOGIN_LOCKOUT_SECONDS", 5 * 60)

    # --- Hardening: login throttling, security headers, photo sweep -------------------------
    # Login throttling (app/auth.py). Failures are counted per (account, client address): after
    # LOGIN_MAX_FAILURES that pair is locked for LOGIN_LOCKOUT_SECONDS, and each further failure
    # once the lock is over locks it for twice as long, up to LOGIN_LOCKOUT_MAX_SECONDS. Above
    # LOGIN_ACCOUNT_MAX_FAILURES failures of one account from all addresses, that account gets one
    # attempt every LOGIN_ACCOUNT_INTERVAL_SECONDS (429 with Retry-After in between): slowed, never
    # locked. No address is throttled by itself. Counters quiet for LOGIN_WINDOW_SECONDS (after
    # any lock) are forgotten.
    LOGIN_LOCKOUT_MAX_SECONDS = _int("LOGIN_LOCKOUT_MAX_SECONDS", 60 * 60)
    LOGIN_ACCOUNT_MAX_FAILURES = _int("LOGIN_ACCOUNT_MAX_FAILURES", 20)
    LOGIN_ACCOUNT_INTERVAL_SECONDS = _int("LOGIN_ACCOUNT_INTERVAL_SECONDS", 5)
    # Security headers (app/security.py): extra image sources for the Content-Security-Policy,
    # space-separated (e.g. the tile server of static/client/config.js TILE_LAYERS).
    CSP_EXTRA_IMG_SRC = os.environ.get("CSP_EXTRA_IMG_SRC", "")
    # Photo sweep (`flask photos sweep`, app/services/sweep.py): stored files without a Photo row
    # and abandoned temp files are removed only when older than this, well above the longest
    # request (an upload writes its files before its row).
    PHOTO_SWEEP_MIN_AGE_SECONDS = _int("PHOTO_SWEEP_MIN_AGE_SECONDS", 60 * 60)

    # Photos
    MAX_PHOTO_BYTES = _int("MAX_PHOTO_BYTES", 15 * 1024 * 1024)
    MAX_PHOTO_PIXELS = _int("MAX_PHOTO_PIXELS", 60_000_000)
    # A multipart inspection may carry several photos; the per-photo limit is checked separately.
    MAX_CONTENT_LENGTH = _int("MAX_REQUEST_BYTES", 100 * 1024 * 1024)

    # --- Hostile input: decoding memory, multipart parts, JSON and text (README "Limits") ---
    # Pixels per photo for the kinds decoded at full size (baseline JPEG is decoded at 1/2 to 1/8
    # scale and has only MAX_PHOTO_PIXELS). One decode peaks at up to ~16 bytes a pixel for WebP,
    # ~10 for PNG, ~11 for HEIC (10-bit with alpha; 8-bit photos ~7), ~9 for progressive JPEG:
    # each limit keeps a worst case under ~550 MB of a worker's memory (app/services/photos.py).
    MAX_DECODE_PIXELS = {
        "webp": _int("MAX_DECODE_PIXELS_WEBP", 20_000_000),
        "png": _int("MAX_DECODE_PIXELS_PNG", 40_000_000),
        "heic": _int("MAX_DECODE_PIXELS_HEIC", 40_000_000),
        "jpeg_progressive": _int("MAX_DECODE_PIXELS_JPEG_PROGRESSIVE", 40_000_000),
    }
    # Pixels decoded at full size in one request (a multipart inspection, a form submission): bounds
    # its decoding time (~0.02-0.05 s a megapixel here) well inside a worker's timeout.
    MAX_DECODE_PIXELS_PER_REQUEST = _int("MAX_DECODE_PIXELS_PER_REQUEST", 200_000_000)
    # Photo decodes at once per worker process; another upload waits for a slot up to
    # PHOTO_DECODE_WAIT_SECONDS, then answers 503 with Retry-After.
    PHOTO_DECODE_CONCURRENCY = _int("PHOTO_DECODE_CONCURRENCY", 1)
    PHOTO_DECODE_WAIT_SECONDS = _float("PHOTO_DECODE_WAIT_SECONDS", 30)
    # Photos on one inspection (ids in the JSON and multipart photo parts together: 422 past it),
    # and multipart parts in one request (Werkzeug stops reading at the next one: 413).
    MAX_PHOTOS_PER_INSPECTION = _int("MAX_PHOTOS_PER_INSPECTION", 20)
    MAX_FORM_PARTS = _int("MAX_FORM_PARTS", MAX_PHOTOS_PER_INSPECTION + 5)
    # JSON bodies (413 past the size), and the multipart `inspection` part as a text part; nesting
    # (400 past it) and the length of one number literal (422) in any JSON (app/inputs.py).
    MAX_JSON_BYTES = _int("MAX_JSON_BYTES", 1024 * 1024)
    MAX_FORM_MEMORY_SIZE = _int("MAX_FORM_TEXT_BYTES", MAX_JSON_BYTES)
    MAX_JSON_DEPTH = _int("MAX_JSON_DEPTH", 32)
    MAX_JSON_NUMBER_CHARS = _int("MAX_JSON_NUMBER_CHARS", 100)
    # a file uploaded to /api/v1/admin/imports/* (division CSV, boundary GeoJSON, historical inspections CSV)
    MAX_IMPORT_BYTES = _int("MAX_IMPORT_BYTES", 20 * 1024 * 1024)

    # Submission checks and flags (DESIGN §3)
    REQUIRE_PHOTO_PER_ASPECT = os.environ.get("REQUIRE_PHOTO_PER_ASPECT", "1") == "1"
    OBSERVED_AT_MAX_SKEW_MINUTES = _int("OBSERVED_AT_MAX_SKEW_MINUTES", 10)
    OBSERVED_AT_MAX_AGE_DAYS = _int("OBSERVED_AT_MAX_AGE_DAYS", 400)
    FLAG_OUTSIDE_VILLAGE_M = _float("FLAG_OUTSIDE_VILLAGE_M", 3000)
    FLAG_EXIF_FAR_M = _float("FLAG_EXIF_FAR_M", 500)
    FLAG_STALE_DAYS = _float("FLAG_STALE_DAYS", 7)
    FLAG_STALE_AFTER_MINUTES = _float("FLAG_STALE_AFTER_MINUTES", 60)
    FLAG_LOW_ACCURACY_M = _float("FLAG_LOW_ACCURACY_M", 100)
    FLAG_PHASH_MAX_DISTANCE = _int("FLAG_PHASH_MAX_DISTANCE", 6)
    # clock_skew: the phone's own time (device_observed_at) differs from the corrected observed_at
    FLAG_CLOCK_SKEW_MINUTES = _float("FLAG_CLOCK_SKEW_MINUTES", 5)

    # Rates (DESIGN §4)
    RATES_VALIDITY_DAYS = _int("RATES_VALIDITY_DAYS", 365)
    RATES_COUNTED_KINDS = tuple(
        k.strip() for k in os.environ.get("RATES_COUNTED_KINDS", "rural").split(",") if k.strip()
    )

    # Webhooks: JSON object {township code: url}; secret signs every delivery.
    WEBHOOK_URLS = os.environ.get("WEBHOOK_URLS", "{}")
    WEBHOOK_SECRET = os.environ.get("WEBHOOK_SECRET")
    WEBHOOK_TIMEOUT_SECONDS = _float("WEBHOOK_TIMEOUT_SECONDS", 3)
    WEBHOOK_MAX_ATTEMPTS = _int("WEBHOOK_MAX_ATTEMPTS", 6)
    WEBHOOK_RETRY_BASE_SECONDS = _int("WEBHOOK_RETRY_BASE_SECONDS", 60)
    WEBHOOK_CLAIM_SECONDS = _int("WEBHOOK_CLAIM_SECONDS", 120)

    # --- Serving and database timeouts (README "Limits and timeouts") ---
    # The embedded server (./scripts/run, waitress): worker threads, open connections at most, and
    # how long a connection may stay silent (one that keeps sending may take as long as it needs).
    SERVER_THREADS = _int("SERVER_THREADS", 8)
    SERVER_CONNECTION_LIMIT = _int("SERVER_CONNECTION_LIMIT", 1000)
    SERVER_CHANNEL_TIMEOUT_SECONDS = _int("SERVER_CHANNEL_TIMEOUT_SECONDS", 120)
    # A longer URL (path and query) answers 414 uri_too_long; nginx and gunicorn allow 8 KB lines.
    MAX_URL_BYTES = _int("MAX_URL_BYTES", 8000)
    # PostgreSQL: connecting, one statement, waiting for a lock (0 = no limit sent; then set them
    # as role defaults, e.g. behind PgBouncer); both engines: waiting for a pooled connection.
    DATABASE_CONNECT_TIMEOUT_SECONDS = _int("DATABASE_CONNECT_TIMEOUT_SECONDS", 3)
    DATABASE_STATEMENT_TIMEOUT_MS = _int("DATABASE_STATEMENT_TIMEOUT_MS", 30000)
    DATABASE_LOCK_TIMEOUT_MS = _int("DATABASE_LOCK_TIMEOUT_MS", 5000)
    DATABASE_POOL_TIMEOUT_SECONDS = _float("DATABASE_POOL_TIMEOUT_SECONDS", 5)
    # SQLite: how long a writer waits for the write lock.
    SQLITE_BUSY_TIMEOUT_MS = _int("SQLITE_BUSY_TIMEOUT_MS", 5000)
    # A database that is down, locked past these timeouts or too slow answers 503 with Retry-After.
    SERVICE_RETRY_AFTER_SECONDS = _int("SERVICE_RETRY_AFTER_SECONDS", 5)
    # psycopg prepares a statement after this many executions on one connection; `none`: never
    # (PgBouncer before 1.21 in transaction mode). app/database.py
    DATABASE_PREPARE_THRESHOLD = os.environ.get("DATABASE_PREPARE_THRESHOLD", "5")

    # --- Operations: read replica, metrics, logs (README "Metrics and logs") ---
    # A streaming replica (PostgreSQL only) for the reads that may lag a moment: rates, trend,
    # exports, the queue's counts (app/database.py read_session). Empty: everything reads the primary.
    DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
    # GET /metrics (Prometheus): with a token, only `Authorization: Bearer <METRICS_TOKEN>`; without,
    # only from loopback and not through a proxy (nginx denies /metrics anyway).
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
    # `text` (default) or `json` (one JSON object a line; deploy/gunicorn.conf.py sets json), and the level.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    # OpenRosa: ODK Collect, KoboCollect, Enketo (README "ODK Collect, KoboCollect and Enketo").
    # `wait`: an inspection whose photos have not all arrived (split upload) waits outside the
    # review queue; `review`: it enters the queue at once with the photos_missing flag.
    OPENROSA_MISSING_PHOTOS = os.environ.get("OPENROSA_MISSING_PHOTOS", "wait")
    # Scopes with more villages get them as a villages.csv media file (searchable list) instead
    # of choices inside the form.
    OPENROSA_INLINE_VILLAGES_MAX = _int("OPENROSA_INLINE_VILLAGES_MAX", 60)
    # Advertised to Collect (X-OpenRosa-Accept-Content-Length): it splits larger sends.
    OPENROSA_ACCEPT_CONTENT_LENGTH = _int("OPENROSA_ACCEPT_CONTENT_LENGTH", 10_000_000)
    # The public base of the server URLs given to phones (e.g. https://inspect.example.gov.cn);
    # empty: the address the request came to (behind a proxy, see PROXY_FIX_HOPS).
    OPENROSA_BASE_URL = os.environ.get("OPENROSA_BASE_URL", "")

    # OpenAPI (flask-smorest)
    API_TITLE = "Rural living-environment inspections"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"


class DevelopmentConfig(Config):
    """Without SECRET_KEY, create_app uses a secret kept in instance/ (`instance_secret`)."""


class TestingConfig(Config):
    APP_ENV = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key"


class ProductionConfig(Config):
    APP_ENV = "production"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name=None):
    """Return the config class for `name` (default: $APP_ENV or development), checked."""
    name = name or os.environ.get("APP_ENV", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"APP_ENV must be one of {sorted(CONFIGS)}, not {name!r}")
    cfg = CONFIGS[name]
    if name == "production":
        missing = [v for v in ("SECRET_KEY", "DATABASE_URL") if not os.environ.get(v)]
        if missing:
            raise RuntimeError(f"production needs these environment variables: {', '.join(missing)}")
        check_production_secret(os.environ["SECRET_KEY"])
    return cfg


MIN_SECRET_KEY_BYTES = 32


def check_production_secret(secret):
    """Production refuses a SECRET_KEY shorter than 32 bytes: it keys the stored token hashes."""
    size = len(secret.encode())
    if size < MIN_SECRET_KEY_BYTES:
        raise RuntimeError(
            f"SECRET_KEY is {size} bytes; production needs at least {MIN_SECRET_KEY_BYTES} random bytes "
            "(it keys the stored token hashes). Make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
