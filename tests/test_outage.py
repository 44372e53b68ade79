"""A database that is down, locked or too slow answers 503 within seconds — the one JSON shape,
`service_unavailable`, with Retry-After — never a 500 or a hang; the same app object recovers by
itself once the database is back.

The outage test starts a PostgreSQL cluster of its own (tests/pg_cluster.py), stops it with
`pg_ctl stop -m immediate` under a live app and starts it again. The lock tests run on each
engine's test database through a second app object with short timeouts.
"""
import os
import shutil
import time
import uuid
from datetime import datetime

import flask_migrate
import psycopg
import pytest

from app.domain import full_answers
from app.extensions import db
from app.models import ApiToken, Division
from app.models.types import CHINA
from tests.factories import create_user, make_app, seed_divisions
from tests.pg_cluster import ThrowawayCluster

ENGINES = [e.strip() for e in os.environ.get("TEST_ENGINES", "sqlite,postgresql").split(",") if e.strip()]

WITHIN = 5.0  # seconds: the database being gone must not make a request wait longer
VILLAGE = "230382100200"


def assert_unavailable(response, took):
    assert response.status_code == 503, (response.status_code, response.get_data(as_text=True)[:300])
    error = response.get_json()["error"]
    assert error["status"] == 503 and error["code"] == "service_unavailable"
    assert error["message"] and error["message_zh"] and error["message_zh"] != error["message"]
    assert int(response.headers["Retry-After"]) > 0
    assert took < WITHIN, f"answered after {took:.1f} s"


def timed(call, *args, **kwargs):
    started = time.monotonic()
    response = call(*args, **kwargs)
    return response, time.monotonic() - started


# --- the database goes away and comes back --------------------------------------------------

class StoppableCluster(ThrowawayCluster):
    """A throwaway cluster that can be killed (as a crash would) and started again on its port."""

    running = False

    def start(self):
        url = super().start()
        self.running = True
        return url

    def kill(self):
        # this cluster runs with synchronous_commit=off: write out what was committed, so that
        # the rows made before the crash are still there after it
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        self.running = False

    def restart(self):
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.root, "log"), "-w", "start")
        self.running = True

    def stop(self):
        if self.running:
            super().stop()
        else:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def outage(tmp_path):
    """(app, cluster): an app on a database of its own cluster, migrated, with the divisions."""
    if "postgresql" not in ENGINES:
        pytest.skip("TEST_ENGINES leaves out PostgreSQL")
    cluster = StoppableCluster()
    app = None
    try:
        server = cluster.start()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("CREATE DATABASE outage")
        url = server.rsplit("/", 1)[0] + "/outage"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        app = make_app(url, tmp_path / "photos", REQUIRE_PHOTO_PER_ASPECT=False, DATABASE_CONNECT_TIMEOUT_SECONDS=2)
        with app.app_context():
            flask_migrate.upgrade()
        seed_divisions(app)
        yield app, cluster
    finally:
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        cluster.stop()


def inspection_body(app):
    with app.app_context():
        point = db.session.get(Division, VILLAGE).point
    return {"client_uuid": str(uuid.uuid4()), "village": VILLAGE,
            "observed_at": datetime.now(CHINA).replace(microsecond=0).isoformat(),
            "location": {"lat": point.y, "lon": point.x, "accuracy_m": 8, "crs": "wgs84"},
            "answers": full_answers(), "photos": {}}


def test_a_database_outage_answers_503_and_the_app_recovers_by_itself(outage):
    app, cluster = outage
    user = create_user(app)
    client = app.test_client()
    login = {"username": user.username, "password": user.password}

    def requests():
        """name -> (call, the status it answers while the database is up)"""
        return {
            "health": (lambda: client.get("/api/v1/health"), 200),
            "login": (lambda: client.post("/api/v1/auth/token", json=login), 201),
            "me": (lambda: client.get("/api/v1/me", headers=user.headers), 200),
            "list": (lambda: client.get("/api/v1/inspections", headers=user.headers), 200),
            "create": (lambda: client.post("/api/v1/inspections", headers=user.headers, json=inspection_body(app)), 201),
        }

    for name, (call, status) in requests().items():
        assert call().status_code == status, name

    body_while_down = inspection_body(app)  # made while the database answers
    cluster.kill()
    for name, (call, _) in requests().items():
        if name == "create":
            call = lambda: client.post("/api/v1/inspections", headers=user.headers, json=body_while_down)  # noqa: E731
        response, took = timed(call)
        assert_unavailable(response, took)

    cluster.restart()
    for name, (call, status) in requests().items():
        response = call()
        assert response.status_code == status, (name, response.get_json())
    retried = client.post("/api/v1/inspections", headers=user.headers, json=body_while_down)
    assert retried.status_code == 201  # what failed during the outage goes through when sent again


# --- a lock held too long -------------------------------------------------------------------

def hold_write_lock(app):
    """Another connection holding what a token's revocation must write; returns its release."""
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        from app.database import sqlite_module

        conn = sqlite_module().connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
    else:
        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        conn.execute(f"SELECT 1 FROM {ApiToken.__tablename__} FOR UPDATE")  # every token row

    def release():
        conn.rollback()
        conn.close()

    return release


@pytest.mark.parametrize("timeouts", [
    pytest.param({"SQLITE_BUSY_TIMEOUT_MS": 300, "DATABASE_LOCK_TIMEOUT_MS": 300}, id="lock_timeout"),
    pytest.param({"SQLITE_BUSY_TIMEOUT_MS": 300, "DATABASE_LOCK_TIMEOUT_MS": 0,
                  "DATABASE_STATEMENT_TIMEOUT_MS": 300}, id="statement_timeout"),
])
def test_a_write_waiting_on_a_lock_past_the_timeout_answers_503(database, engine_name, tmp_path, timeouts):
    if engine_name == "sqlite" and "DATABASE_STATEMENT_TIMEOUT_MS" in timeouts:
        pytest.skip("SQLite has one wait: the busy timeout")
    app = make_app(database.config["DATABASE_URL"], tmp_path / "photos", **timeouts)
    user = create_user(app)
    client = app.test_client()
    release = hold_write_lock(app)
    try:
        response, took = timed(client.delete, "/api/v1/auth/token", headers=user.headers)  # log out: a write
        assert_unavailable(response, took)
        assert took < 3
        # reading goes on meanwhile (SQLite: WAL readers; PostgreSQL: MVCC)
        assert client.get("/api/v1/me", headers=user.headers).status_code == 200
    finally:
        release()
    try:
        assert client.delete("/api/v1/auth/token", headers=user.headers).status_code == 204
    finally:
        with app.app_context():
            db.engine.dispose()


def test_timeouts_reach_the_engine(app, tmp_path):
    other = make_app(app.config["DATABASE_URL"], tmp_path, DATABASE_STATEMENT_TIMEOUT_MS=1234,
                     DATABASE_LOCK_TIMEOUT_MS=567, SQLITE_BUSY_TIMEOUT_MS=890, DATABASE_POOL_TIMEOUT_SECONDS=4)
    try:
        with other.app_context():
            engine = db.engine
            assert engine.pool.timeout() == 4
            with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 890
                else:
                    assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "1234ms"
                    assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "567ms"
                    params = conn.connection.driver_connection.info.get_parameters()
                    assert params["connect_timeout"] == "3" and params["tcp_user_timeout"] == "10000"
    finally:
        with other.app_context():
            db.engine.dispose()
