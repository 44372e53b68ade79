"""DATABASE_REPLICA_URL: rates, trend, exports and the queue's counts read a real streaming replica;
writes and reading one's own writes stay on the primary; the read session refuses writes.

A primary and its hot standby (`pg_basebackup -R -X stream`, tests/pg_replica.py) are started for
this module. Pausing the standby's replay makes the lag visible on purpose: what the replica-reading
app answers is then the replica's, and after replay resumes (the replay LSN caught up with the
primary's) it equals the primary's answer.
"""
from datetime import datetime, timezone

import psycopg
import pytest
from sqlalchemy import exc, text

from app import create_app
from app.database import ReplicaSettingError, read_session
from app.extensions import db
from tests.factories import ENGINES, OTHER_VILLAGE, VILLAGE, create_inspection, create_user, make_app, seed_divisions

ALL_MET = dict(garbage_stable=True, sewage_treated=True, village_clean=True, tap_water=True,
               tap_households=100, tap_households_with_tap=100)


@pytest.fixture(scope="module")
def pair():
    from tests.pg_replica import StreamingPair

    if "postgresql" not in ENGINES:
        pytest.skip("a replica is PostgreSQL's (TEST_ENGINES)")
    cluster = StreamingPair()
    try:
        primary, replica = cluster.start()
        with psycopg.connect(primary, autocommit=True) as conn:
            conn.execute('CREATE DATABASE "rie_replica"')
        with psycopg.connect(primary.rsplit("/", 1)[0] + "/rie_replica", autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield cluster, primary.rsplit("/", 1)[0] + "/rie_replica", replica.rsplit("/", 1)[0] + "/rie_replica"
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def apps(pair, tmp_path_factory):
    """(primary-only app, app reading through the replica) on one database; schema and Jixi loaded."""
    import flask_migrate

    cluster, primary_url, replica_url = pair
    photos = tmp_path_factory.mktemp("replica-photos")
    primary_app = make_app(primary_url, photos)
    with primary_app.app_context():
        flask_migrate.upgrade()
    seed_divisions(primary_app)
    replica_app = make_app(primary_url, photos, DATABASE_REPLICA_URL=replica_url)
    cluster.wait_replayed(primary_url, replica_url)
    yield primary_app, replica_app
    for app in (primary_app, replica_app):
        with app.app_context():
            db.engine.dispose()


def replay(replica_url, action):
    with psycopg.connect(replica_url, autocommit=True) as conn:
        conn.execute(f"SELECT pg_wal_replay_{action}()")


def get(app, user, path, **params):
    response = app.test_client().get(path, headers=user.headers, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def rates(app, user):
    body = get(app, user, "/api/v1/rates", division="230382100", level="village").get_json()
    body.pop("as_of")  # the moment of reading
    return body


def met(body, metric="garbage_stable"):
    return body["division"]["metrics"][metric]["met"]


def caught_up(pair, primary_app):
    """A bureau and a reviewer, one approved and one submitted inspection in VILLAGE, replayed."""
    cluster, primary_url, replica_url = pair
    bureau = create_user(primary_app, role="bureau", scope="2303")
    reviewer = create_user(primary_app, role="reviewer", scope="230382100")
    now = datetime.now(timezone.utc)
    create_inspection(primary_app, village=VILLAGE, status="approved", observed_at=now, **ALL_MET)
    create_inspection(primary_app, village=VILLAGE, status="submitted", observed_at=now, **ALL_MET)
    lsn = cluster.wait_replayed(primary_url, replica_url)
    with psycopg.connect(primary_url, autocommit=True) as conn:
        assert conn.execute("SELECT state, replay_lsn >= %s::pg_lsn FROM pg_stat_replication",
                            (lsn,)).fetchall() == [("streaming", True)]
    return bureau, reviewer, now


def written_while_paused(primary_app, now, village):
    create_inspection(primary_app, village=village, status="approved", observed_at=now, **ALL_MET)
    create_inspection(primary_app, village=village, status="submitted", observed_at=now, **ALL_MET)


def test_exports_and_queue_counts_read_the_replica_writes_and_own_reads_the_primary(pair, apps):
    cluster, primary_url, replica_url = pair
    primary_app, replica_app = apps
    bureau, reviewer, now = caught_up(pair, primary_app)
    waiting = get(primary_app, reviewer, "/api/v1/review-queue").get_json()["total"]
    exported = get(primary_app, bureau, "/api/v1/inspections/export", format="csv").get_data(as_text=True)
    assert get(replica_app, bureau, "/api/v1/inspections/export", format="csv").get_data(as_text=True) == exported
    replay(replica_url, "pause")
    try:
        written_while_paused(primary_app, now, OTHER_VILLAGE)
        # read from the replica: not there yet
        assert get(replica_app, bureau, "/api/v1/inspections/export", format="csv").get_data(as_text=True) == exported
        assert OTHER_VILLAGE not in exported
        assert get(primary_app, bureau, "/api/v1/inspections/export", format="csv").get_data(as_text=True) \
            .count(OTHER_VILLAGE) == 2
        assert get(replica_app, reviewer, "/api/v1/review-queue").get_json()["total"] == waiting
        assert get(primary_app, reviewer, "/api/v1/review-queue").get_json()["total"] == waiting + 1

        # a write through the replica-reading app goes to the primary, and reading it back does too
        put = replica_app.test_client().put("/api/v1/targets", headers=bureau.headers,
                                            json={"metric": "sewage_treated", "year": now.year, "value": 0.5})
        assert put.status_code == 200, put.get_json()
        listed = get(replica_app, bureau, "/api/v1/targets", year=now.year).get_json()
        assert {e["metric"]: e["value"] for e in listed["effective"]}["sewage_treated"] == 0.5
    finally:
        replay(replica_url, "resume")
    cluster.wait_replayed(primary_url, replica_url)
    assert get(replica_app, reviewer, "/api/v1/review-queue").get_json()["total"] == waiting + 1
    assert get(replica_app, bureau, "/api/v1/inspections/export", format="csv").get_data(as_text=True) \
        .count(OTHER_VILLAGE) == 2


def test_rates_and_trend_read_the_replica_and_equal_the_primary_once_replayed(pair, apps):
    cluster, primary_url, replica_url = pair
    primary_app, replica_app = apps
    bureau, _, now = caught_up(pair, primary_app)
    village = "230382100204"
    before = rates(replica_app, bureau)
    assert before == rates(primary_app, bureau)
    replay(replica_url, "pause")
    try:
        written_while_paused(primary_app, now, village)
        assert met(rates(primary_app, bureau)) == met(before) + 1
        assert rates(replica_app, bureau) == before  # read from the replica: not there yet
        month = f"{now.year}-{now.month:02d}"
        trend = get(replica_app, bureau, "/api/v1/rates/trend", division="230382100", metric="garbage_stable",
                    granularity="month", **{"from": month, "to": month}).get_json()
        assert trend["points"][-1]["met"] == met(before)
        put = replica_app.test_client().put("/api/v1/targets", headers=bureau.headers,
                                            json={"metric": "village_clean", "year": now.year, "value": 0.5})
        assert put.status_code == 200, put.get_json()
        assert rates(replica_app, bureau)["division"]["metrics"]["village_clean"]["target"] != 0.5
    finally:
        replay(replica_url, "resume")
    cluster.wait_replayed(primary_url, replica_url)
    after = rates(replica_app, bureau)
    assert after == rates(primary_app, bureau)
    assert met(after) == met(before) + 1 and after["division"]["metrics"]["village_clean"]["target"] == 0.5


def test_a_write_through_the_read_session_is_refused(pair, apps, tmp_path):
    cluster, primary_url, replica_url = pair
    _, replica_app = apps
    insert = text("INSERT INTO targets (metric, year, division_code, value, updated_at) VALUES ('tap_water', 2031, '', 0.5, now())")
    with replica_app.app_context():
        assert read_session().get_bind().url.port == cluster.replica_port
        assert read_session().execute(text("SELECT pg_is_in_recovery()")).scalar() is True
        with pytest.raises(exc.DBAPIError) as refused:
            read_session().execute(insert)
        assert isinstance(refused.value.orig, psycopg.errors.ReadOnlySqlTransaction)
    # the read session refuses by itself, even when its URL names the primary
    same = make_app(primary_url, tmp_path, DATABASE_REPLICA_URL=primary_url)
    with same.app_context():
        assert read_session() is not db.session()
        with pytest.raises(exc.DBAPIError) as refused:
            read_session().execute(insert)
        assert isinstance(refused.value.orig, psycopg.errors.ReadOnlySqlTransaction)
        read_session().rollback()
        db.session.execute(insert)  # the app's own session writes
        db.session.execute(text("DELETE FROM targets WHERE year = 2031"))
        db.session.commit()
        db.engine.dispose()


def test_sqlite_refuses_the_replica_setting_with_a_clear_message(tmp_path):
    with pytest.raises(ReplicaSettingError, match="DATABASE_REPLICA_URL.*PostgreSQL"):
        create_app("testing", DATABASE_URL=f"sqlite:///{tmp_path / 'a.db'}", PHOTO_ROOT=str(tmp_path),
                   DATABASE_REPLICA_URL="postgresql://replica.example/rural")
    app = create_app("testing", DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}", PHOTO_ROOT=str(tmp_path))
    with app.app_context():
        assert read_session() is db.session  # unset: the primary's session


def test_prepared_statements_can_be_turned_off_for_pgbouncer(pair, apps, tmp_path):
    _, primary_url, replica_url = pair
    app = make_app(primary_url, tmp_path, DATABASE_REPLICA_URL=replica_url, DATABASE_PREPARE_THRESHOLD="none")
    with app.app_context():
        for session in (db.session, read_session()):
            driver = session.connection().connection.dbapi_connection
            assert driver.prepare_threshold is None
            for _ in range(8):  # past psycopg's default threshold (5): still never prepared
                session.execute(text("SELECT count(*) FROM divisions WHERE code = :c"), {"c": VILLAGE})
            assert session.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar() == 0
            session.rollback()
        db.engine.dispose()
    default = make_app(primary_url, tmp_path)
    with default.app_context():
        assert db.session.connection().connection.dbapi_connection.prepare_threshold == 5
        for _ in range(8):
            db.session.execute(text("SELECT count(*) FROM divisions WHERE code = :c"), {"c": VILLAGE})
        assert db.session.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar() >= 1
        db.session.rollback()
        db.engine.dispose()
