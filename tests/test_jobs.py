"""Background jobs (app/jobs.py): photo variants and hash after the upload, the photo_reused check
when a hash arrives late, webhook delivery by a job, and the sweep that completes what a lost job
left. The suite runs jobs eagerly (JOB_BROKER=immediate); test_a_real_worker_* runs `flask jobs
worker` in its own process against a SqliteHuey file and against the machine's Redis."""
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from app.extensions import db
from app.jobs import JOBS, enqueue_after_commit, make_huey
from app.models import Photo, PhotoHashBand
from app.services.photos import sweep_pending_photos
from app.storage import get_store, photo_key
from tests.factories import (
    PHOTO_ASPECTS,
    VILLAGE,
    china_exif_time,
    count,
    make_app,
    on_site_photos,
    sql,
    submission,
    submit,
    village_point,
)
from tests.photos import jpeg_bytes, make_exif, upload
from tests.servers import free_port
from tests.webhook_receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent


def photo_row(app, photo_id):
    with app.app_context():
        photo = db.session.get(Photo, photo_id)
        return None if photo is None else {"status": photo.variants_status, "phash": photo.phash,
                                           "sha256": photo.sha256}


def stored(app, photo_id, variant):
    with app.app_context():
        return get_store().exists(photo_key(db.session.get(Photo, photo_id).sha256, variant))


def as_if_the_job_was_lost(app, photo_id):
    """The photo as an upload leaves it before its job runs: pending, no hash, no bands, no variants."""
    with app.app_context():
        photo = db.session.get(Photo, photo_id)
        for variant in ("display", "thumb"):
            get_store().delete(photo_key(photo.sha256, variant))
        db.session.query(PhotoHashBand).filter_by(photo_id=photo_id).delete()
        photo.variants_status, photo.phash = "pending", None
        db.session.commit()


def decoded(response):
    image = Image.open(io.BytesIO(response.data))
    image.load()
    return image


# --- eager (immediate) mode -------------------------------------------------------------------

def test_broker_urls():
    assert make_huey("immediate").immediate
    with pytest.raises(ValueError, match="JOB_BROKER"):
        make_huey("amqp://localhost/")



def test_a_job_asked_for_in_a_transaction_waits_for_its_commit_not_a_savepoints(app, database, monkeypatch):
    """Releasing or rolling back a SAVEPOINT (a photo stored inside an ODK submission's transaction)
    is not the commit: the jobs asked for run once the whole transaction commits — before, the job
    ran at the savepoint, while the transaction still held SQLite's write lock, and waited on it —
    and none runs when the transaction rolls back."""
    ran = []
    monkeypatch.setitem(JOBS, "test.record", lambda n: ran.append(n))
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))
        enqueue_after_commit("test.record", 1)
        with db.session.begin_nested():
            enqueue_after_commit("test.record", 2)
        with pytest.raises(ValueError), db.session.begin_nested():
            enqueue_after_commit("test.record", 3)
            raise ValueError("rolled back to the savepoint")
        assert ran == []
        db.session.commit()
        assert ran == [1, 2, 3]

        enqueue_after_commit("test.record", 4)
        with db.session.begin_nested():
            pass
        db.session.rollback()
        db.session.commit()
    assert ran == [1, 2, 3]

def test_an_upload_has_its_variants_and_hash_once_its_job_ran(app, client, inspector):
    r = upload(client, inspector, jpeg_bytes(7, size=(1200, 900)))
    assert r.status_code == 201
    body = r.get_json()
    assert body["variants_status"] == "ready"  # immediate mode: the job ran right after the commit
    row = photo_row(app, body["id"])
    assert row["status"] == "ready" and len(row["phash"]) == 16
    assert count(app, PhotoHashBand, PhotoHashBand.photo_id == body["id"]) == 8
    assert stored(app, body["id"], "display") and stored(app, body["id"], "thumb")
    thumb = client.get(f"/api/v1/photos/{body['id']}/thumb", headers=inspector.headers)
    assert thumb.status_code == 200 and "immutable" in thumb.headers["Cache-Control"]
    assert "provisional" not in thumb.headers["ETag"] and max(decoded(thumb).size) == 320


def test_a_photo_left_pending_without_a_job_is_completed_by_the_sweep(app, client, inspector, reviewer):
    """A worker killed with the job in hand (or a broker that was down): the row says pending, the
    sweep does the work; meanwhile the variants come from the original and the inspection says
    its checks are pending; when the hash is ready, photo_reused is found and audited."""
    lat, lon = village_point(app)
    first = submit(client, inspector, submission(app, on_site_photos(client, inspector, seed=300)))
    assert first.status_code == 201
    # the same picture again, other bytes (re-encoded): a near duplicate by its perceptual hash only
    now = datetime.now(timezone.utc)
    again = upload(client, inspector, jpeg_bytes(300, size=(1024, 768), exif=make_exif(china_exif_time(now), lat, lon),
                                              quality=70))
    photo_id = again.get_json()["id"]
    as_if_the_job_was_lost(app, photo_id)

    thumb = client.get(f"/api/v1/photos/{photo_id}/thumb", headers=inspector.headers)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert "no-cache" in thumb.headers["Cache-Control"] and "provisional" in thumb.headers["ETag"]
    assert max(decoded(thumb).size) == 320  # made from the original on the fly, stored nowhere
    assert not stored(app, photo_id, "thumb")
    detail = client.get(f"/api/v1/photos/{photo_id}", headers=inspector.headers).get_json()
    assert detail["variants_status"] == "pending"

    photos = on_site_photos(client, inspector, seed=500)
    photos[PHOTO_ASPECTS[0]] = [photo_id]
    second = submit(client, inspector, submission(app, photos))
    assert second.status_code == 201
    made = second.get_json()
    assert made["checks_pending"] is True and "photo_reused" not in {f["code"] for f in made["flags"]}

    with app.app_context():
        assert sweep_pending_photos(min_age_seconds=0) == {"ready": 1, "failed": 0}
        assert sweep_pending_photos(min_age_seconds=0) == {"ready": 0, "failed": 0}  # nothing left: idempotent
    row = photo_row(app, photo_id)
    assert row["status"] == "ready" and row["phash"]
    assert stored(app, photo_id, "thumb") and stored(app, photo_id, "display")
    assert count(app, PhotoHashBand, PhotoHashBand.photo_id == photo_id) == 8

    after = client.get(f"/api/v1/inspections/{made['id']}", headers=reviewer.headers).get_json()
    assert after["checks_pending"] is False
    reused = {f["code"]: f["facts"] for f in after["flags"]}["photo_reused"]
    assert reused["other_inspection_ids"] == [first.get_json()["id"]]
    assert reused["photos"][0]["match"] == "phash" and reused["photos"][0]["photo_id"] == photo_id
    assert after["flag_count"] == len(after["flags"])
    # the earlier inspection is checked again too, as a later submission would have found it
    earlier = client.get(f"/api/v1/inspections/{first.get_json()['id']}", headers=reviewer.headers).get_json()
    assert made["id"] in {f["code"]: f["facts"] for f in earlier["flags"]}["photo_reused"]["other_inspection_ids"]
    audited = sql(app, "SELECT object_id, details FROM audit_log WHERE action = 'inspection.flags_updated' "
                       "ORDER BY id")
    assert [int(r[0]) for r in audited] == [made["id"], first.get_json()["id"]]
    details = audited[0][1] if isinstance(audited[0][1], dict) else json.loads(audited[0][1])
    assert details["flag"] == "photo_reused" and details["after"] == [first.get_json()["id"]]
    thumb = client.get(f"/api/v1/photos/{photo_id}/thumb", headers=inspector.headers)
    assert "provisional" not in thumb.headers["ETag"] and "immutable" in thumb.headers["Cache-Control"]


def test_two_runs_of_a_photo_job_at_once_leave_one_result(app, client, inspector):
    """The sweep and the queued job (or two workers) may complete the same photo at the same time."""
    from app.services.photos import complete_photo

    photo_id = upload(client, inspector, jpeg_bytes(14, size=(1600, 1200))).get_json()["id"]
    as_if_the_job_was_lost(app, photo_id)
    results, errors, start = [], [], threading.Barrier(2)

    def run():
        try:
            with app.app_context():
                start.wait()
                results.append(complete_photo(photo_id))
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(repr(error))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and results == ["ready", "ready"]
    assert photo_row(app, photo_id)["status"] == "ready"
    assert count(app, PhotoHashBand, PhotoHashBand.photo_id == photo_id) == 8


def test_a_photo_whose_original_cannot_be_rendered_is_marked_failed(app, client, inspector):
    r = upload(client, inspector, jpeg_bytes(11))
    photo_id = r.get_json()["id"]
    as_if_the_job_was_lost(app, photo_id)
    with app.app_context():
        get_store().put(photo_key(photo_row(app, photo_id)["sha256"], "original"), b"\xff\xd8\xff not a jpeg")
        assert sweep_pending_photos(min_age_seconds=0) == {"ready": 0, "failed": 1}
    assert photo_row(app, photo_id)["status"] == "failed"


def test_the_sweep_leaves_a_photo_younger_than_its_minimum_age(app, client, inspector):
    photo_id = upload(client, inspector, jpeg_bytes(12)).get_json()["id"]
    as_if_the_job_was_lost(app, photo_id)
    with app.app_context():
        assert sweep_pending_photos(min_age_seconds=3600) == {"ready": 0, "failed": 0}
    assert photo_row(app, photo_id)["status"] == "pending"


def test_flask_jobs_sweep_completes_pending_photos(app, client, inspector, monkeypatch):
    photo_id = upload(client, inspector, jpeg_bytes(13)).get_json()["id"]
    as_if_the_job_was_lost(app, photo_id)
    monkeypatch.setitem(app.config, "JOB_SWEEP_MIN_AGE_SECONDS", 0)
    result = app.test_cli_runner().invoke(args=["jobs", "sweep"])
    assert result.exit_code == 0, result.output
    assert "photos.sweep_pending: {'ready': 1, 'failed': 0}" in result.output
    assert photo_row(app, photo_id)["status"] == "ready"


def test_the_worker_command_refuses_the_immediate_broker(app):
    result = app.test_cli_runner().invoke(args=["jobs", "worker"])
    assert result.exit_code != 0 and "immediate" in result.output


# --- a real worker ------------------------------------------------------------------------------

def wait_for(predicate, timeout=60, what="the worker"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not finish within {timeout} s")


@pytest.fixture(params=["sqlite", "redis"])
def broker(request, tmp_path):
    """(JOB_BROKER, JOB_NAME): a SqliteHuey file, or the run's throwaway Redis under a key prefix of
    our own."""
    name = f"rie-test-{os.getpid()}-{secrets.token_hex(4)}"
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.sqlite3'}", name
        return
    url = request.getfixturevalue("redis_url")
    yield url, name
    make_huey(url, name).storage.flush_all()


def test_a_real_worker_makes_the_variants_and_hash_and_delivers_the_webhook(app, database, inspector, broker,
                                                                               tmp_path):
    url, name = broker
    with WebhookReceiver(path="/hooks", failures=1) as receiver:  # the first attempt fails: its retry is a job of the worker
        hooks = json.dumps({VILLAGE[:9]: receiver.url})
        web = make_app(app.config["DATABASE_URL"], app.config["PHOTO_ROOT"], JOB_BROKER=url, JOB_NAME=name,
                       WEBHOOK_URLS=hooks, WEBHOOK_RETRY_BASE_SECONDS=1)
        env = {**os.environ, "APP_ENV": "testing", "FLASK_APP": "wsgi", "DATABASE_URL": app.config["DATABASE_URL"],
               "PHOTO_ROOT": app.config["PHOTO_ROOT"], "JOB_BROKER": url, "JOB_NAME": name, "WEBHOOK_URLS": hooks,
               "WEBHOOK_RETRY_BASE_SECONDS": "1"}
        log = (tmp_path / "worker.log").open("w+")
        worker = subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker", "--workers", "2"], cwd=ROOT,
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            client = web.test_client()
            r = upload(client, inspector, jpeg_bytes(21, size=(2000, 1500)))
            assert r.status_code == 201 and r.get_json()["variants_status"] in ("pending", "ready")
            photo_id = r.get_json()["id"]
            wait_for(lambda: photo_row(app, photo_id)["status"] == "ready", what="the photo job")
            assert photo_row(app, photo_id)["phash"] and stored(app, photo_id, "display")
            assert count(app, PhotoHashBand, PhotoHashBand.photo_id == photo_id) == 8
            thumb = client.get(f"/api/v1/photos/{photo_id}/thumb", headers=inspector.headers)
            assert "provisional" not in thumb.headers["ETag"] and max(decoded(thumb).size) == 320

            made = submit(client, inspector, submission(app, on_site_photos(client, inspector, seed=600)))
            assert made.status_code == 201
            # the test client closes the response, as a server does once it is sent: the job is queued then
            made.close()
            inspection_id = made.get_json()["id"]
            wait_for(lambda: len(receiver.received) >= 2, what="the webhook job and its retry")
            events = [json.loads(r["body"]) for r in receiver.received]
            assert events[0]["event"] == "inspection.submitted" and events[0]["inspection"]["id"] == inspection_id
            assert events[1]["event_id"] == events[0]["event_id"]  # the same delivery, sent again
            wait_for(lambda: sql(app, "SELECT status FROM webhook_deliveries")[0][0] == "delivered",
                     what="recording the delivery")
            assert sql(app, "SELECT attempts, last_status_code FROM webhook_deliveries")[0] == (2, 200)
            wait_for(lambda: not client.get(f"/api/v1/inspections/{inspection_id}",
                                            headers=inspector.headers).get_json()["checks_pending"],
                     what="the hashes of the inspection's photos")
        finally:
            worker.send_signal(signal.SIGINT)  # Huey: finish the running jobs, then stop
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            log.seek(0)
            output = log.read()
        assert "Traceback" not in output, output
        queue = make_huey(url, name)
        assert queue.result_count() == 0  # no job's return value left behind in the broker
        with web.app_context():
            db.engine.dispose()


def test_a_worker_killed_with_a_photo_job_in_hand_loses_nothing(app, database, inspector, tmp_path, engine_name):
    """SIGKILL while the job runs: Huey deleted the message when the worker took it, so the queue
    is empty and the job gone — the row still says pending, and the sweep completes the photo. The
    job is held mid-way by a lock on the photos (a writer's lock on SQLite), so the kill lands
    while it runs."""
    url, name = f"sqlite:///{tmp_path / 'jobs.sqlite3'}", f"rie-test-{secrets.token_hex(4)}"
    web = make_app(app.config["DATABASE_URL"], app.config["PHOTO_ROOT"], JOB_BROKER=url, JOB_NAME=name)
    queue = make_huey(url, name)
    photo_id = upload(web.test_client(), inspector, jpeg_bytes(41, size=(1600, 1200))).get_json()["id"]
    assert photo_row(app, photo_id)["status"] == "pending" and queue.pending_count() == 1
    env = {**os.environ, "APP_ENV": "testing", "FLASK_APP": "wsgi", "DATABASE_URL": app.config["DATABASE_URL"],
           "PHOTO_ROOT": app.config["PHOTO_ROOT"], "JOB_BROKER": url, "JOB_NAME": name}
    log = (tmp_path / "worker.log").open("w+")
    with web.app_context():
        lock = db.engine.connect()
        held = lock.begin()  # SQLite: BEGIN IMMEDIATE (app/database.py)
        if engine_name == "postgresql":
            lock.exec_driver_sql("LOCK TABLE photos IN ACCESS EXCLUSIVE MODE")
        worker = subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker", "--workers", "1", "--no-periodic"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: "Executing app.jobs.run_job" in (tmp_path / "worker.log").read_text(),
                     what="the worker taking the job")
            time.sleep(0.3)
            worker.kill()  # SIGKILL: no cleanup, no retry queued
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            held.rollback()
            lock.close()
        db.engine.dispose()
    assert queue.pending_count() == 0 and queue.scheduled_count() == 0  # the job is gone with the worker
    assert photo_row(app, photo_id)["status"] == "pending"  # the database still says what is unfinished
    with app.app_context():
        assert sweep_pending_photos(min_age_seconds=0) == {"ready": 1, "failed": 0}
    assert photo_row(app, photo_id)["status"] == "ready" and stored(app, photo_id, "thumb")


# --- ./scripts/run: the worker beside the embedded server --------------------------------------

def http_upload(port, user, data):
    """POST /api/v1/photos over a real socket (multipart by hand); returns (status, JSON body)."""
    import http.client

    boundary = secrets.token_hex(12)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/api/v1/photos", body=body, headers={
        **user.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    response = conn.getresponse()
    answer = response.status, json.loads(response.read())
    conn.close()
    return answer


def children_of(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def test_the_embedded_server_runs_the_worker_beside_it_and_stops_it(app, database, inspector, tmp_path):
    port = free_port()
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": app.config["DATABASE_URL"],
           "PHOTO_ROOT": app.config["PHOTO_ROOT"], "INSTANCE_PATH": str(tmp_path / "instance"),
           "JOB_BROKER": f"sqlite:///{tmp_path / 'jobs.sqlite3'}"}
    log = (tmp_path / "server.log").open("w+")
    server = subprocess.Popen([sys.executable, "-m", "app.serving", "--listen", f"127.0.0.1:{port}", "--jobs-worker"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        workers = wait_for(lambda: children_of(server.pid), what="the server starting its worker")
        assert len(workers) == 1
        status, body = wait_for(lambda: _try_upload(port, inspector), what="the server answering")
        assert status == 201
        wait_for(lambda: photo_row(app, body["id"])["status"] == "ready", what="the worker beside the server")
        assert stored(app, body["id"], "thumb")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=40)
        assert not Path(f"/proc/{workers[0]}").exists() or "zombie" in Path(f"/proc/{workers[0]}/status").read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.seek(0)
        output = log.read()
    assert "Traceback" not in output, output


def _try_upload(port, user):
    try:
        return http_upload(port, user, jpeg_bytes(31, size=(1600, 1200)))
    except OSError:
        return None


def test_a_review_queue_item_says_its_checks_are_pending(app, client, inspector, reviewer):
    photos = on_site_photos(client, inspector, seed=700)
    pending = photos[PHOTO_ASPECTS[0]][0]
    as_if_the_job_was_lost(app, pending)
    made = submit(client, inspector, submission(app, photos)).get_json()
    clean = submit(client, inspector, submission(app, on_site_photos(client, inspector, seed=800))).get_json()

    def items():
        queue = client.get("/api/v1/review-queue", headers=reviewer.headers).get_json()
        return {i["id"]: i for i in queue["items"]}

    assert items()[made["id"]]["checks_pending"] is True and items()[clean["id"]]["checks_pending"] is False
    with app.app_context():
        sweep_pending_photos(min_age_seconds=0)
    assert items()[made["id"]]["checks_pending"] is False
