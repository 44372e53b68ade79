"""Engine set-up for the two supported databases.

SQLite: SpatiaLite is loaded on every connection (the stdlib module of some Pythons cannot load
extensions, so `pysqlite3` is used where available), WAL journal, foreign keys on, and every
transaction of a writing request starts with BEGIN IMMEDIATE so that concurrent writers queue
instead of deadlocking (reads start deferred, and so does a writing request's authentication,
which ends before the body is read: app/serving.py). A writer waits SQLITE_BUSY_TIMEOUT_MS for
the lock, then the request answers 503 (app/errors.py).
PostgreSQL: psycopg 3 with PostGIS; connect, statement and lock timeouts are sent with every
connection, and pooled connections are pinged before use, so the app recovers by itself once a
database that went away is back.

Read replica: with DATABASE_REPLICA_URL set (PostgreSQL only), `read_session()` is a session on a
second engine bound to the replica, for the reads that may lag a moment (rates, trend, exports,
the review queue's counts); every write and every read of one's own writes stays on `db.session`.
Its transactions are READ ONLY (psycopg begins them with BEGIN READ ONLY, so a write through it
fails even if the URL names the primary; a hot standby refuses anyway). Unset, `read_session()`
is `db.session`.
"""
import os

from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import scoped_session, sessionmaker

SPATIALITE_LIBRARY = os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")


def normalise_url(url):
    """Accept the usual spellings of a PostgreSQL URL and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def sqlite_module():
    """A DB-API sqlite3 module that can load extensions."""
    try:
        import pysqlite3.dbapi2 as module
    except ImportError:  # pragma: no cover - depends on the machine
        import sqlite3 as module
    if not hasattr(module.Connection, "enable_load_extension"):  # pragma: no cover
        raise RuntimeError(
            "this Python's sqlite3 cannot load extensions; install pysqlite3-binary "
            "(pip install -r requirements.txt)"
        )
    return module


DEFAULT_TIMEOUTS = {
    "DATABASE_CONNECT_TIMEOUT_SECONDS": 3,
    "DATABASE_STATEMENT_TIMEOUT_MS": 30000,
    "DATABASE_LOCK_TIMEOUT_MS": 5000,
    "DATABASE_POOL_TIMEOUT_SECONDS": 5,
    "SQLITE_BUSY_TIMEOUT_MS": 5000,
    # psycopg prepares a statement after this many executions on a connection; None (setting
    # `none`): never, as PgBouncer < 1.21 in transaction mode needs
    "DATABASE_PREPARE_THRESHOLD": 5,
}


def prepare_threshold(value):
    """DATABASE_PREPARE_THRESHOLD as psycopg takes it: an integer, or None for `none`/empty."""
    if value is None or str(value).strip().lower() in ("", "none", "off"):
        return None
    return int(value)


def engine_options(url, settings=None):
    """create_engine options; `settings` (the app's config) gives the timeouts (DEFAULT_TIMEOUTS)."""
    cfg = {**DEFAULT_TIMEOUTS, **{k: v for k, v in (settings or {}).items() if k in DEFAULT_TIMEOUTS}}
    pool_timeout = cfg["DATABASE_POOL_TIMEOUT_SECONDS"]
    if url.startswith("sqlite"):
        # the driver's timeout is SQLite's busy timeout: how long a writer waits for the lock
        busy = cfg["SQLITE_BUSY_TIMEOUT_MS"] / 1000
        return {"module": sqlite_module(), "pool_timeout": pool_timeout,
                "connect_args": {"timeout": busy, "check_same_thread": False}, "hide_parameters": True}
    connect_args = {
        "connect_timeout": max(2, int(cfg["DATABASE_CONNECT_TIMEOUT_SECONDS"])),  # libpq: at least 2 s
        # a database behind a broken network: a pooled connection whose packets go unacknowledged
        # for 10 s, or that stays silent to keepalives, counts as lost instead of hanging a request
        "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 2,
        "tcp_user_timeout": 10000,
        "prepare_threshold": prepare_threshold(cfg["DATABASE_PREPARE_THRESHOLD"]),
    }
    options = " ".join(f"-c {name}={int(value)}" for name, value in (
        ("statement_timeout", cfg["DATABASE_STATEMENT_TIMEOUT_MS"]),
        ("lock_timeout", cfg["DATABASE_LOCK_TIMEOUT_MS"])) if value)
    if options:
        connect_args["options"] = options
    # hide_parameters: an error that is logged never carries the bound values (token hashes, names)
    return {"pool_pre_ping": True, "pool_timeout": pool_timeout, "connect_args": connect_args,
            "hide_parameters": True}


def install_engine_listeners(engine):
    if engine.dialect.name != "sqlite":
        return
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)


def _on_sqlite_connect(dbapi_conn, _record):
    from geoalchemy2.admin.dialects.sqlite import (
        init_spatialite,
        load_spatialite_driver,
    )

    dbapi_conn.isolation_level = None  # SQLAlchemy's begin event emits BEGIN itself
    cursor = dbapi_conn.cursor()
    busy_ms = cursor.execute("PRAGMA busy_timeout").fetchone()[0]  # the driver's `timeout` (engine_options)
    load_spatialite_driver(dbapi_conn)
    cursor.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")  # loading SpatiaLite resets it to 5 s
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()
    init_spatialite(dbapi_conn, transaction=True, init_mode="WGS84")


def _on_sqlite_begin(conn):
    """Writers take the write lock up front so that they queue instead of deadlocking; reads
    (GET requests: lists, photos, streamed exports) start deferred and never block writers (WAL).
    So does a writing request's authentication, begun while its body is still unread: the write
    lock is taken only once the body is in (app/serving.py)."""
    from flask import g, has_request_context, request

    from app.serving import BODY_PENDING

    reading = has_request_context() and (request.method in ("GET", "HEAD", "OPTIONS") or g.get(BODY_PENDING))
    conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


# --- the read replica -----------------------------------------------------------------------

REPLICA_EXTENSION = "read_replica"


class ReplicaSettingError(RuntimeError):
    pass


def check_replica_urls(primary_url, replica_url):
    """DATABASE_REPLICA_URL needs PostgreSQL on both sides: SQLite has no replica to read from."""
    if not replica_url:
        return None
    replica_url = normalise_url(replica_url)
    if not (primary_url.startswith("postgresql") and replica_url.startswith("postgresql")):
        raise ReplicaSettingError(
            "DATABASE_REPLICA_URL is set, but a read replica needs PostgreSQL for both DATABASE_URL and "
            "DATABASE_REPLICA_URL (SQLite has no replica): unset DATABASE_REPLICA_URL")
    return replica_url


def _read_only_transactions(dbapi_conn, _record):
    # psycopg starts every transaction of this connection with BEGIN READ ONLY: no session state,
    # so it holds behind PgBouncer's transaction mode too
    dbapi_conn.read_only = True


def _app_context_id():
    from flask.globals import app_ctx

    return id(app_ctx._get_current_object())


class ReadReplica:
    """The replica's engine and a session per app context (removed when the context ends)."""

    def __init__(self, url, settings):
        self.engine = create_engine(url, **engine_options(url, settings))
        event.listen(self.engine, "connect", _read_only_transactions)
        self.session = scoped_session(sessionmaker(bind=self.engine), scopefunc=_app_context_id)

    def remove(self, _exc=None):
        self.session.remove()


def configure_read_replica(app):
    """Bind the read session to DATABASE_REPLICA_URL when it is set (ReplicaSettingError on SQLite)."""
    url = check_replica_urls(app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("DATABASE_REPLICA_URL"))
    if url is None:
        return None
    replica = ReadReplica(url, app.config)
    app.extensions[REPLICA_EXTENSION] = replica
    app.teardown_appcontext(replica.remove)
    return replica


def read_session():
    """The session for the reads that may lag the primary a moment: the replica's when
    DATABASE_REPLICA_URL is set, else `db.session`. Never for writes nor for reading one's own."""
    from flask import current_app

    from app.extensions import db

    replica = current_app.extensions.get(REPLICA_EXTENSION)
    return db.session if replica is None else replica.session()


def spatial_version(session):
    """('spatialite' | 'postgis', version string) of the connected database."""
    if session.get_bind().dialect.name == "sqlite":
        return "spatialite", session.execute(text("SELECT spatialite_version()")).scalar()
    return "postgis", session.execute(text("SELECT postgis_lib_version()")).scalar()


# --- migrations ------------------------------------------------------------------------------

SPATIAL_SYSTEM_TABLES = {"ElementaryGeometries", "KNN", "KNN2", "SpatialIndex", "data_licenses", "sql_statements_log",
                         "spatialite_history", "sqlite_sequence", "spatial_ref_sys", "topology", "layer"}
SPATIAL_SYSTEM_PREFIXES = ("geometry_columns", "geom_cols_ref_sys", "spatial_ref_sys", "vector_layers",
                           "views_geometry_columns", "virts_geometry_columns", "idx_")


def include_object(obj, name, type_, reflected, compare_to):
    """Leave SpatiaLite's and PostGIS's own tables out of the comparison."""
    if type_ == "table" and reflected and compare_to is None and (
        name in SPATIAL_SYSTEM_TABLES or name.startswith(SPATIAL_SYSTEM_PREFIXES)
    ):
        return False
    from geoalchemy2 import alembic_helpers

    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)
