"""GET /metrics: Prometheus text with requests and latency per route (the URL rule), upload bytes,
photos stored and the gauges read when scraped (the job queue's depth); who may read it; and the
totals of a real gunicorn with two workers (prometheus_client's multiprocess mode,
deploy/gunicorn.conf.py) equal the requests made, also after a worker is killed.
"""
import glob
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.photos import jpeg_bytes, upload
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
HEALTH = "/api/v1/health"


def samples(text):
    """{(sample name, frozenset of labels): value} of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(parsed, name, **labels):
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in parsed.items() if n == name and set(labels.items()) <= ls)


def scrape(client, **headers):
    response = client.get("/metrics", headers=headers, buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(response.get_data(as_text=True))


# --- in one process (the Flask test client) -----------------------------------------------------
# A request is counted once its answer is sent, when the server closes the response: the test
# client does that with buffered=True.

def test_requests_are_counted_by_route_never_by_raw_path(client, inspector):
    before = scrape(client)
    for inspection_id in (1234567, 7654321):
        assert client.get(f"/api/v1/inspections/{inspection_id}", headers=inspector.headers,
                          buffered=True).status_code == 404
    assert client.get("/no/such/path/987654", buffered=True).status_code == 404
    text = client.get("/metrics").get_data(as_text=True)
    after = samples(text)
    rule = "/api/v1/inspections/<int(max=9223372036854775807):inspection_id>"
    assert value(after, "http_requests_total", route=rule, status="404") - \
        value(before, "http_requests_total", route=rule, status="404") == 2
    assert value(after, "http_request_duration_seconds_count", route=rule) - \
        value(before, "http_request_duration_seconds_count", route=rule) == 2
    assert value(after, "http_requests_total", route="<unmatched>") - value(before, "http_requests_total",
                                                                            route="<unmatched>") == 1
    assert "1234567" not in text and "987654" not in text


def test_upload_bytes_and_photos_stored(client, inspector):
    data = jpeg_bytes(seed=4242)
    before = scrape(client)
    first = upload(client, inspector, data)
    first.close()
    assert first.status_code == 201, first.get_json()
    again = upload(client, inspector, data)  # the same bytes: the same stored photo
    again.close()
    assert again.status_code in (200, 201) and again.get_json()["id"] == first.get_json()["id"]
    after = scrape(client)
    assert value(after, "photos_stored_total") - value(before, "photos_stored_total") == 1
    assert value(after, "photo_bytes_stored_total") - value(before, "photo_bytes_stored_total") == len(data)
    received = value(after, "http_request_body_bytes_total", route="/api/v1/photos") - \
        value(before, "http_request_body_bytes_total", route="/api/v1/photos")
    assert 2 * len(data) < received < 2 * len(data) + 2000  # two multipart bodies


def test_gauges_registered_by_the_job_runner_are_read_at_each_scrape(client):
    depth = iter([7, 3])
    client.application.extensions["metrics_gauges"]["jobs_queue_depth"] = ("Jobs waiting", lambda: next(depth))
    client.application.extensions["metrics_gauges"]["jobs_broken"] = ("A source that fails", lambda: 1 / 0)
    try:
        assert value(scrape(client), "jobs_queue_depth") == 7
        parsed = scrape(client)
        assert value(parsed, "jobs_queue_depth") == 3
        assert not [k for k in parsed if k[0] == "jobs_broken"]
    finally:
        del client.application.extensions["metrics_gauges"]["jobs_queue_depth"]
        del client.application.extensions["metrics_gauges"]["jobs_broken"]


def test_the_job_queue_depth_and_failed_jobs_from_a_real_queue(database, tmp_path):
    jobs = pytest.importorskip("app.jobs")
    from tests.factories import make_app

    app = make_app(database.config["DATABASE_URL"], tmp_path, JOB_BROKER=f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    name = "metrics_test_always_fails"
    jobs.job(name)(lambda: 1 / 0)
    try:
        client = app.test_client()
        before = scrape(client)
        assert value(before, "jobs_queue_depth") == 0
        with app.app_context():
            jobs.enqueue(name)
            jobs.enqueue(name)
        assert value(scrape(client), "jobs_queue_depth") == 2
        huey = app.extensions["jobs"].huey
        huey.execute(huey.dequeue())  # as a worker would: it fails, and is scheduled to be retried
        after = scrape(client)
        assert value(after, "jobs_queue_depth") == 1 and value(after, "jobs_scheduled") == 1
        assert value(after, "jobs_failed_total", job=name) - value(before, "jobs_failed_total", job=name) == 1
    finally:
        jobs.JOBS.pop(name, None)


def test_who_may_read_the_metrics(client, inspector):
    app = client.application
    assert client.get("/metrics").status_code == 200  # loopback, no proxy
    behind_proxy = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert behind_proxy.status_code == 404 and behind_proxy.get_json()["error"]["code"] == "not_found"
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
    app.config["METRICS_TOKEN"] = "metrics-secret-0123456789"
    try:
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", headers=inspector.headers).status_code == 404  # a user's token is not it
        assert client.get("/metrics", headers={"Authorization": "Bearer metrics-secret-012345678"}).status_code == 404
        ok = client.get("/metrics", headers={"Authorization": "Bearer metrics-secret-0123456789"},
                        environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert ok.status_code == 200 and b"http_requests_total" in ok.data
    finally:
        app.config["METRICS_TOKEN"] = ""


# --- a real gunicorn with two workers -----------------------------------------------------------

def get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def probe(port):
    try:
        get(port, "/metrics")
    except OSError:
        time.sleep(0.1)


@pytest.fixture(scope="module")
def gunicorn(app, tmp_path_factory):
    """gunicorn -c deploy/gunicorn.conf.py with 2 workers on this engine's test database."""
    tmp = tmp_path_factory.mktemp("metrics")
    port = free_port()
    metrics_dir = tmp / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by a previous run")  # removed at start
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": app.config["DATABASE_URL"],
           "PHOTO_ROOT": str(tmp / "photos"), "INSTANCE_PATH": str(tmp / "instance"),
           "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    env.pop("METRICS_TOKEN", None)
    log = open(tmp / "gunicorn.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-c", "deploy/gunicorn.conf.py",
                             "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        until = time.monotonic() + 40
        while True:
            assert proc.poll() is None, (tmp / "gunicorn.log").read_text()[-3000:]
            # both workers answer (each writes its own file once it has counted a request)
            pids = {int(Path(p).stem.split("_")[1]) for p in glob.glob(str(metrics_dir / "counter_*.db"))}
            if len(pids - {proc.pid}) == 2:
                break
            probes = [threading.Thread(target=probe, args=(port,)) for _ in range(4)]
            for t in probes:
                t.start()
            for t in probes:
                t.join()
            assert time.monotonic() < until, "gunicorn's two workers did not start"
            time.sleep(0.05)
        yield port, proc, metrics_dir
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def health_count(port):
    status, body = get(port, "/metrics")
    assert status == 200
    return value(samples(body.decode()), "http_requests_total", route=HEALTH, method="GET", status="200")


def per_worker_health_counts(metrics_dir):
    """{pid: health requests counted} from each worker's own counter file."""
    counts = {}
    for path in glob.glob(str(metrics_dir / "counter_*.db")):
        pid = int(Path(path).stem.split("_")[1])
        merged = MultiProcessCollector.merge([path], accumulate=True)
        counts[pid] = sum(s.value for m in merged for s in m.samples
                          if s.name == "http_requests_total" and s.labels.get("route") == HEALTH)
    return counts


def test_gunicorn_workers_add_up_to_the_requests_made(gunicorn):
    port, proc, metrics_dir = gunicorn
    assert not (metrics_dir / "counter_1.db").exists()
    before = health_count(port)
    per_thread, threads = 25, 8
    failures = []

    def hammer():
        for _ in range(per_thread):
            status, _ = get(port, HEALTH)
            if status != 200:
                failures.append(status)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert failures == []
    made = per_thread * threads
    assert health_count(port) - before == made

    counts = per_worker_health_counts(metrics_dir)
    busy = {pid: n for pid, n in counts.items() if n}
    assert len(busy) == 2, counts  # both workers answered some
    assert sum(counts.values()) == before + made

    # a worker killed: gunicorn starts another, and what the dead one counted stays in the totals
    victim = max(busy, key=busy.get)
    os.kill(victim, signal.SIGKILL)
    until = time.monotonic() + 20
    while True:
        try:
            if get(port, HEALTH)[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < until
        time.sleep(0.1)
    assert health_count(port) == before + made + 1


# --- behind nginx (deploy/nginx.conf) -----------------------------------------------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx is not installed (scripts/bootstrap test)")
def test_behind_nginx_metrics_are_not_served_and_the_request_id_and_log_hold_no_query(gunicorn, tmp_path):
    port, _, _ = gunicorn
    front = free_port()
    settings = {"NGINX_USER": "root", "NGINX_LISTEN": f"127.0.0.1:{front}", "NGINX_RUN": str(tmp_path),
                "NGINX_LOGS": str(tmp_path), "APP_UPSTREAM": f"127.0.0.1:{port}", "APP_STATIC": str(ROOT / "static"),
                "CLIENT_MAX_BODY_SIZE": "1m", "CLIENT_BODY_TIMEOUT": "10s"}
    rendered = subprocess.run([str(ROOT / "deploy" / "render-nginx")], env={**os.environ, **settings},
                              capture_output=True, text=True, check=True).stdout  # as the recipe renders it
    (tmp_path / "nginx.conf").write_text(rendered)
    nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e",
                              str(tmp_path / "startup.log"), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        until = time.monotonic() + 10
        while True:
            try:
                status, _ = get(front, HEALTH)
                break
            except OSError:
                assert time.monotonic() < until and nginx.poll() is None, "nginx did not start"
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
        conn.request("GET", "/metrics", headers={"X-Request-ID": "client-chosen-12345678"})
        refused = conn.getresponse()
        body = refused.read()
        conn.close()
        assert refused.status == 404 and b'"not_found"' in body and b"http_requests_total" not in body
        conn = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
        conn.request("GET", f"{HEALTH}?token=nginx-qs-secret-0042", headers={"X-Request-ID": "client-chosen-12345678"})
        answer = conn.getresponse()
        answer.read()
        conn.close()
        request_id = answer.getheader("X-Request-ID")
        assert answer.status == 200 and re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's, not the client's
    finally:
        nginx.terminate()
        nginx.wait(10)
    log = (tmp_path / "access.log").read_text()
    assert f"GET {HEALTH} HTTP/1.1" in log and request_id in log
    assert "nginx-qs-secret-0042" not in log and "?" not in log


def test_gunicorn_starting_keeps_the_values_of_a_live_jobs_worker(tmp_path, monkeypatch):
    """deploy/gunicorn.conf.py empties PROMETHEUS_MULTIPROC_DIR of a previous run's values when it
    starts, but not of a process still running: the jobs worker shares the directory (the systemd
    units give both the same one) so that /metrics shows its failed jobs across a web restart."""
    import runpy

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name, default in (("LOG_FORMAT", "text"), ("PROXY_FIX_HOPS", "1")):  # the module sets them if unset
        monkeypatch.setenv(name, os.environ.get(name, default))  # undone after the test
    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    worker = [sys.executable, "-c", "import time; time.sleep(60)"]
    live = subprocess.Popen(worker)  # the jobs worker, with the same directory
    other = subprocess.Popen(worker, env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "elsewhere")})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        for pid in (live.pid, other.pid, gone.pid, 1):
            for kind in ("counter", "histogram", "gauge_livesum"):
                (tmp_path / f"{kind}_{pid}.db").write_bytes(b"\0" * 8)
        conf["on_starting"](None)
        left = sorted(p.name for p in tmp_path.glob("*.db"))
        assert left == sorted(f"{kind}_{live.pid}.db" for kind in ("counter", "gauge_livesum", "histogram"))
    finally:
        for proc in (live, other):
            proc.kill()
            proc.wait()
