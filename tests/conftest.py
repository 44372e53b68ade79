"""Test fixtures: every test that takes `app` runs on SQLite+SpatiaLite and on PostgreSQL+PostGIS.

PostgreSQL comes from TEST_DATABASE_URL (a server where a fresh database is created) or from a
throwaway cluster started here. Each engine's schema is built by the Alembic migrations, and the
real Jixi division tree with its synthetic boundaries is loaded once per engine; after each test
every other table is emptied. `TEST_ENGINES=sqlite` (or `postgresql`) limits a run to one engine.

Fixtures only: the helpers the tests share are in tests/factories.py and tests/photos.py.
"""
import os
import secrets

import flask_migrate
import psycopg
import pytest
from sqlalchemy import delete

from app.extensions import db
from tests import factories
# re-exported: tests/e2e imports sql from here
from tests.factories import ENGINES, make_app, seed_divisions, sql  # noqa: F401

KEEP_TABLES = {"divisions"}


@pytest.fixture(scope="session")
def postgres_server():
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from tests.pg_cluster import ThrowawayCluster

    cluster = ThrowawayCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server):
    """A new database with PostGIS on the server, dropped at the end."""
    name = f"rie_test_{os.getpid()}_{secrets.token_hex(3)}"
    server = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    yield url
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url():
    """A throwaway Redis (tests/redis_server.py) for the run: the job broker of real workers and of
    the two-node tests."""
    from tests.redis_server import ThrowawayRedis

    server = ThrowawayRedis()
    try:
        yield server.start()
    finally:
        server.stop()


S3_BUCKET = "rie-photos"


@pytest.fixture(scope="session")
def rgw():
    """One Ceph RADOS Gateway (tests/ceph_rgw.py) for the whole run, with the bucket S3_BUCKET: the S3
    photo store's tests and the two-node tests share it, each under a prefix of its own."""
    import time

    from app.storage import S3PhotoStore
    from tests.ceph_rgw import ThrowawayRGW

    server = ThrowawayRGW()
    server.bucket = S3_BUCKET
    started = time.monotonic()
    server.start()
    server.start_seconds = time.monotonic() - started
    S3PhotoStore(S3_BUCKET, endpoint_url=server.endpoint_url, access_key=server.access_key,
                 secret_key=server.secret_key, region=server.region).ensure_bucket()
    print(f"\nCeph RGW ready in {server.start_seconds:.1f} s on {server.endpoint_url}")
    pids = server.pids()
    assert sorted(pids) == ["client.rgw.a", "mon.a", "osd.0"]
    try:
        yield server
    finally:
        server.stop()
    assert not [pid for pid in pids.values() if _running(pid)]  # no daemon left running
    assert not os.path.exists(server.root)


def _running(pid):
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="session", params=ENGINES)
def app(request, tmp_path_factory):
    """The app on one engine, schema migrated and Jixi loaded."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    app = make_app(url, tmp_path_factory.mktemp(f"photos-{request.param}"))
    with app.app_context():
        flask_migrate.upgrade()
    seed_divisions(app)
    yield app
    with app.app_context():
        db.engine.dispose()


def empty_tables(app, keep=KEEP_TABLES):
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in keep:
                db.session.execute(delete(table))
        db.session.commit()


@pytest.fixture
def database(app):
    """Per-test isolation: everything but the division tree is emptied after the test."""
    yield app
    empty_tables(app)


@pytest.fixture
def fresh_divisions(database):
    """For tests that change the division tree: it is rebuilt from the real file afterwards."""
    yield database
    empty_tables(database, keep=set())
    seed_divisions(database)


@pytest.fixture
def client(database):
    return database.test_client()


@pytest.fixture
def engine_name(app):
    with app.app_context():
        return db.engine.dialect.name


@pytest.fixture
def make_user(database):
    def make(role="inspector", scope="230382100", **kw):
        return factories.create_user(database, role=role, scope=scope, **kw)

    return make


@pytest.fixture
def inspector(make_user):
    return make_user("inspector", "230382100")


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer", "230382100")


@pytest.fixture
def bureau(make_user):
    return make_user("bureau", "2303")


@pytest.fixture
def admin(make_user):
    return make_user("admin", "2303")
