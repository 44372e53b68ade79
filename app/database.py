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
"""
import os

from sqlalchemy import event, text

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
}


def engine_options(url, settings=None):
    """create_engine options; `settings` (the app's config) gives the timeouts (DEFAULT_TIMEOUTS)."""
    cfg = {**DEFAULT_TIMEOUTS, **{k: v for k, v in (settings or {}).items() if k in DEFAULT_TIMEOUTS}}
    pool_timeout = cfg["DATABASE_POOL_TIMEOUT_SECONDS"]
    if url.startswith("sqlite"):
        # the driver's timeout is SQLite's busy timeout: how long a writer waits for the lock
        busy = cfg["SQLITE_BUSY_TIMEOUT_MS"] / 1000
        return {"module": sqlite_module(), "pool_timeout": pool_timeout,
                "connect_args": {"timeout": busy, "check_same_thread": False}}
    connect_args = {
        "connect_timeout": max(2, int(cfg["DATABASE_CONNECT_TIMEOUT_SECONDS"])),  # libpq: at least 2 s
        # a database behind a broken network: a pooled connection whose packets go unacknowledged
        # for 10 s, or that stays silent to keepalives, counts as lost instead of hanging a request
        "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 2,
        "tcp_user_timeout": 10000,
    }
    options = " ".join(f"-c {name}={int(value)}" for name, value in (
        ("statement_timeout", cfg["DATABASE_STATEMENT_TIMEOUT_MS"]),
        ("lock_timeout", cfg["DATABASE_LOCK_TIMEOUT_MS"])) if value)
    if options:
        connect_args["options"] = options
    return {"pool_pre_ping": True, "pool_timeout": pool_timeout, "connect_args": connect_args}


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
