"""Engine set-up for the two supported databases.

SQLite: SpatiaLite is loaded on every connection (the stdlib module of some Pythons cannot load
extensions, so `pysqlite3` is used where available), WAL journal, foreign keys on, and every
transaction of a writing request starts with BEGIN IMMEDIATE so that concurrent writers queue
instead of deadlocking (reads start deferred).
PostgreSQL: psycopg 3 with PostGIS.
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


def engine_options(url):
    if url.startswith("sqlite"):
        return {"module": sqlite_module(), "connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True}


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
    load_spatialite_driver(dbapi_conn)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()
    init_spatialite(dbapi_conn, transaction=True, init_mode="WGS84")


def _on_sqlite_begin(conn):
    """Writers take the write lock up front so that they queue instead of deadlocking; reads
    (GET requests: lists, photos, streamed exports) start deferred and never block writers (WAL)."""
    from flask import has_request_context, request

    reading = has_request_context() and request.method in ("GET", "HEAD", "OPTIONS")
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
