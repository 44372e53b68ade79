"""Two app nodes, one system: two gunicorn instances that share PostgreSQL+PostGIS, the S3 photo store
(the run's Ceph RGW) and the job broker (the run's Redis) but no disk, behind Debian's nginx.

Only node B has a job worker, so every job a request on node A enqueues runs on B's worker. Each
node has a PHOTO_ROOT and instance directory of its own, and both must stay empty of photos: the
photo that node A stored is served by node B from the object store. PostgreSQL only (SQLite is the
one-machine default)."""
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from urllib3 import encode_multipart_formdata

from app.storage import S3PhotoStore, photo_key
from tests.factories import PHOTO_ASPECTS, create_user, submission
from tests.photos import jpeg_bytes, make_exif, real_photo
from tests.servers import ROOT, call, free_port, needs_nginx, start_nginx, stop, wait_ready

pytestmark = needs_nginx
READY_WITHIN = 40  # seconds for B's worker to make a photo's variants


@pytest.fixture(scope="module")
def nodes(app, rgw, redis_url, tmp_path_factory):
    if app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("two nodes share PostgreSQL+PostGIS; SQLite is the one-machine default")
    tmp = tmp_path_factory.mktemp("two-nodes")
    prefix, name = f"nodes-{secrets.token_hex(4)}", f"rie-nodes-{secrets.token_hex(4)}"
    shared = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": app.config["DATABASE_URL"],
              "PHOTO_STORE": f"s3://{rgw.bucket}/{prefix}", "S3_ENDPOINT_URL": rgw.endpoint_url,
              "AWS_ACCESS_KEY_ID": rgw.access_key, "AWS_SECRET_ACCESS_KEY": rgw.secret_key,
              "AWS_DEFAULT_REGION": rgw.region, "JOB_BROKER": redis_url,
              "JOB_NAME": name, "LOG_FORMAT": "json"}
    procs, logs, ports, roots = [], {}, {}, {}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    try:
        for node in ("a", "b"):
            roots[node] = tmp / node / "photos"
            env = {**shared, "PHOTO_ROOT": str(roots[node]), "INSTANCE_PATH": str(tmp / node / "instance"),
                   "PROMETHEUS_MULTIPROC_DIR": str(tmp / node / "metrics")}
            (tmp / node / "metrics").mkdir(parents=True)
            ports[node] = free_port()
            logs[node] = open(tmp / f"{node}.log", "w+")
            procs.append(subprocess.Popen(
                [gunicorn, "-c", "deploy/gunicorn.conf.py", "--preload", "wsgi:app"], cwd=ROOT,
                env={**env, "GUNICORN_BIND": f"127.0.0.1:{ports[node]}", "WEB_CONCURRENCY": "2"},
                stdout=logs[node], stderr=subprocess.STDOUT))
            if node == "b":
                logs["worker"] = open(tmp / "worker.log", "w+")
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--workers", "2"],
                    cwd=ROOT, env=env, stdout=logs["worker"], stderr=subprocess.STDOUT))
        nginx, front = start_nginx(tmp, [f"127.0.0.1:{ports['a']}", f"127.0.0.1:{ports['b']}"])
        procs.append(nginx)
        for proc, port in zip(procs, (ports["a"], ports["b"])):
            wait_ready(port, _Unpiped(proc))
        store = S3PhotoStore(rgw.bucket, prefix, endpoint_url=rgw.endpoint_url, access_key=rgw.access_key,
                             secret_key=rgw.secret_key, region=rgw.region)
        yield SimpleNamespace(a=ports["a"], b=ports["b"], front=front, store=store, roots=roots,
                              logs={k: Path(f.name) for k, f in logs.items()})
    finally:
        for proc in reversed(procs):
            try:
                stop(proc, signal.SIGQUIT if proc.args[0] == gunicorn else signal.SIGTERM)
            except Exception:  # stop the others all the same
                proc.kill()
        for f in logs.values():
            f.close()


class _Unpiped:
    """A process whose output goes to a file: wait_ready's view of it."""

    def __init__(self, proc):
        self.proc, self.returncode, self.stdout = proc, None, SimpleNamespace(read=lambda: "(see its log)")

    def poll(self):
        self.returncode = self.proc.poll()
        return self.returncode


def upload(port, user, data):
    body, content_type = encode_multipart_formdata({"file": ("photo.jpg", data, "image/jpeg")})
    return call(port, "POST", "/api/v1/photos", body, {**user.headers, "Content-Type": content_type}, timeout=30)


def post_json(port, user, path, payload):
    return call(port, "POST", path, json.dumps(payload), {**user.headers, "Content-Type": "application/json"},
                timeout=30)


def wait_for_variants(port, user, photo_id):
    until = time.monotonic() + READY_WITHIN
    while time.monotonic() < until:
        status, _, body = call(port, "GET", f"/api/v1/photos/{photo_id}", headers=user.headers)
        assert status == 200, body
        if body["variants_status"] == "ready":
            return body
        time.sleep(0.2)
    pytest.fail(f"photo {photo_id}: variants not made within {READY_WITHIN} s")


def files_under(path):
    return [p for p in Path(path).rglob("*") if p.is_file()] if Path(path).exists() else []


def access_lines(log):
    lines = []
    for line in Path(log).read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("status") and record.get("method"):
            lines.append(record)
    return lines


def test_a_photo_stored_through_node_a_gets_its_variants_from_bs_worker_and_is_served_by_b(nodes, app):
    inspector = create_user(app, "inspector")
    status, _, photo = upload(nodes.a, inspector, real_photo("gps_samsung_sm-g930f.jpg"))
    assert status == 201, photo
    assert photo["variants_status"] == "pending"  # node A made no variant in the request

    ready = wait_for_variants(nodes.b, inspector, photo["id"])  # made by the only worker: node B's
    assert ready["sha256"] == photo["sha256"]
    for variant in ("original", "display", "thumb"):
        assert nodes.store.exists(photo_key(photo["sha256"], variant))
    status, headers, display = call(nodes.b, "GET", f"/api/v1/photos/{photo['id']}/display", headers=inspector.headers)
    assert status == 200 and display[:2] == b"\xff\xd8" and headers.getheader("Content-Type") == "image/jpeg"
    etag = headers.getheader("ETag")
    status, _, _ = call(nodes.a, "GET", f"/api/v1/photos/{photo['id']}/display",
                        headers={**inspector.headers, "If-None-Match": etag})
    assert status == 304  # the same ETag on either node
    assert files_under(nodes.roots["a"]) == [] and files_under(nodes.roots["b"]) == []  # no disk
    worker_log = nodes.logs["worker"].read_text()
    assert "photos.variants" in worker_log or "run_job" in worker_log, worker_log[-2000:]


def test_a_review_on_node_b_is_seen_on_node_a(nodes, app):
    inspector, reviewer = create_user(app, "inspector"), create_user(app, "reviewer", scope="230382")
    photos = {}
    for n, aspect in enumerate(PHOTO_ASPECTS):
        status, _, photo = upload(nodes.a, inspector, jpeg_bytes(700 + n, exif=make_exif()))
        assert status == 201, photo
        photos[aspect] = [photo["id"]]
    status, _, created = post_json(nodes.a, inspector, "/api/v1/inspections", submission(app, photos))
    assert status == 201, created

    status, _, decided = post_json(nodes.b, reviewer, f"/api/v1/inspections/{created['id']}/review",
                                   {"decision": "approve", "version": created["version"]})
    assert status == 200, decided
    status, _, seen = call(nodes.a, "GET", f"/api/v1/inspections/{created['id']}", headers=inspector.headers)
    assert status == 200 and seen["status"] == "approved", seen
    for aspect in PHOTO_ASPECTS:  # its photos' jobs ran on B too
        wait_for_variants(nodes.a, inspector, photos[aspect][0])


def test_behind_nginx_both_nodes_answer_and_every_photo_is_served(nodes, app):
    inspector = create_user(app, "inspector")
    before = {node: len(access_lines(nodes.logs[node])) for node in ("a", "b")}
    ids = []
    for n in range(6):
        status, _, photo = upload(nodes.front, inspector, jpeg_bytes(800 + n))
        assert status == 201, photo
        ids.append(photo["id"])
    for photo_id in ids:
        wait_for_variants(nodes.front, inspector, photo_id)
        status, _, thumb = call(nodes.front, "GET", f"/api/v1/photos/{photo_id}/thumb", headers=inspector.headers)
        assert status == 200 and thumb[:2] == b"\xff\xd8"
    served = {node: len(access_lines(nodes.logs[node])) - before[node] for node in ("a", "b")}
    assert served["a"] > 0 and served["b"] > 0, served  # nginx spread the requests over both nodes
