"""Slow clients cannot stall the service, a slow phone finishes its upload, long URLs answer JSON.

Real servers are started here and stopped at the end of each engine's run: the embedded server of
./scripts/run (waitress, app/serving.py) and the production recipe of deploy/ (Debian's nginx in
front of gunicorn), both on the engine's test database. Their timeouts are lowered so that "an
upload longer than the timeout" takes seconds: the embedded server closes connections silent
for 2 s, gunicorn kills a request running 2 s. Slow clients are raw sockets trickling a request.
"""
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image
from werkzeug.serving import make_server

from tests.factories import sql
from tests.servers import (NGINX, ROOT, assert_error_shape, call, free_port, needs_nginx, raw, start_nginx, stop,
                           wait_ready)

SLOW_CLIENTS = 30          # more than the servers' worker threads and processes (2 each here)
UPLOAD_SECONDS = 3.5       # longer than the lowered timeouts (2 s)
HEALTH_WITHIN = 1.0


# --- helpers --------------------------------------------------------------------------------

def noise_jpeg(side=600):
    """A JPEG of random pixels (~0.9 byte per pixel), different on every call."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "JPEG", quality=90)
    return out.getvalue()


class SlowClients:
    """Connections that trickle a request one byte at a time and never finish it: most send their
    headers and trickle a login body (no token needed); some trickle the headers themselves."""

    def __init__(self, port, count=SLOW_CLIENTS, interval=0.25):
        self.socks = []
        for n in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if n % 5:
                s.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100000\r\n\r\n{")
            else:
                s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            self.socks.append(s)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, args=(interval,), daemon=True)
        self.thread.start()

    def _trickle(self, interval):
        while not self.stop.wait(interval):
            for s in self.socks:
                try:
                    s.send(b"a")
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def slow_upload(port, token, data, seconds, outcome):
    """POST /api/v1/photos with `data`, the body sent evenly over `seconds` (a phone on 2G)."""
    boundary = "phoneboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    pieces = 14
    size = -(-len(body) // pieces)

    def chunks():
        for i in range(0, len(body), size):
            yield body[i:i + size]
            time.sleep(seconds / pieces)

    started = time.monotonic()
    try:
        outcome["status"], _, outcome["body"] = call(
            port, "POST", "/api/v1/photos", body=chunks(), timeout=seconds + 20,
            headers={"Authorization": f"Bearer {token}", "Content-Length": str(len(body)),
                     "Content-Type": f"multipart/form-data; boundary={boundary}"})
    except OSError as exc:
        outcome["status"], outcome["body"] = None, repr(exc)
    outcome["seconds"] = time.monotonic() - started


# --- the servers ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def servers(app, tmp_path_factory):
    """The embedded server and nginx + gunicorn, on this engine's test database."""
    if not os.path.exists(NGINX):
        pytest.skip("nginx is not installed (scripts/bootstrap test)")
    tmp = tmp_path_factory.mktemp("serving")
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": app.config["DATABASE_URL"],
           "PHOTO_ROOT": str(tmp / "photos"), "INSTANCE_PATH": str(tmp / "instance")}
    embedded_port, gunicorn_port = free_port(), free_port()
    procs, gunicorn = [], None
    try:
        embedded = subprocess.Popen(
            [sys.executable, "-m", "app.serving", "--listen", f"127.0.0.1:{embedded_port}"], cwd=ROOT,
            env={**env, "SERVER_THREADS": "2", "SERVER_CHANNEL_TIMEOUT_SECONDS": "2"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(embedded)
        # --preload: the app is imported once before the workers fork, so that the lowered worker
        # timeout does not also apply to each worker's import
        gunicorn = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "deploy/gunicorn.conf.py", "--preload",
             "--access-logfile", "/dev/null", "wsgi:app"], cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{gunicorn_port}", "WEB_CONCURRENCY": "2",
                 "GUNICORN_TIMEOUT": "2"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(gunicorn)
        nginx, front_port = start_nginx(tmp, f"127.0.0.1:{gunicorn_port}")
        procs.append(nginx)
        wait_ready(embedded_port, embedded)
        wait_ready(gunicorn_port, gunicorn)
        wait_ready(front_port, nginx)
        yield SimpleNamespace(embedded=embedded_port, production=front_port, gunicorn=gunicorn_port)
    finally:
        for proc in reversed(procs):
            try:
                stop(proc, signal.SIGQUIT if proc is gunicorn else signal.SIGTERM)  # gunicorn: quick shutdown
            except Exception:  # stop the others all the same
                proc.kill()


@pytest.mark.parametrize("which", ["embedded", "production"])
def test_health_stays_fast_and_a_slow_upload_completes_among_slow_clients(servers, inspector, which):
    port = getattr(servers, which)
    clients = SlowClients(port)
    outcome = {}
    try:
        time.sleep(0.5)  # every slow client is connected and trickling
        uploader = threading.Thread(target=slow_upload,
                                    args=(port, inspector.token, noise_jpeg(), UPLOAD_SECONDS, outcome))
        uploader.start()
        latencies, failures = [], []
        until = time.monotonic() + UPLOAD_SECONDS + 15
        while (uploader.is_alive() or len(latencies) < 5) and time.monotonic() < until:
            started = time.monotonic()
            try:
                status = call(port, "GET", "/api/v1/health", timeout=HEALTH_WITHIN + 1)[0]
                (latencies if status == 200 else failures).append(time.monotonic() - started)
            except OSError as exc:
                failures.append(repr(exc))
            time.sleep(0.1)
        uploader.join(5)
    finally:
        clients.close()
    assert not failures, f"health failed while {SLOW_CLIENTS} clients trickled: {failures[:3]}"
    assert max(latencies) < HEALTH_WITHIN, sorted(latencies)[-3:]
    assert outcome.get("status") == 201, outcome
    assert outcome["seconds"] > UPLOAD_SECONDS - 0.5  # it did arrive slowly, past the 2 s timeouts
    assert outcome["body"]["size_bytes"] > 100_000


def test_the_embedded_server_reads_bodies_before_a_worker_thread(servers, inspector):
    """Two worker threads, 30 trickling connections: an ordinary request still gets a thread."""
    clients = SlowClients(servers.embedded)
    try:
        time.sleep(0.5)
        started = time.monotonic()
        status, _, body = call(servers.embedded, "GET", "/api/v1/me", headers={"Authorization": f"Bearer {inspector.token}"})
        assert status == 200 and body["username"] == inspector.username
        assert time.monotonic() - started < HEALTH_WITHIN
    finally:
        clients.close()


@pytest.mark.parametrize("which", ["embedded", "production"])
def test_long_urls_answer_the_json_shape(servers, which):
    port = getattr(servers, which)
    long_query = "/api/v1/health?q=" + "a" * 7000  # over gunicorn's default request line (4094)
    assert call(port, "GET", long_query)[0] == 200
    status, _, body = call(port, "GET", "/api/v1/health?q=" + "a" * 8100)  # over MAX_URL_BYTES: the app
    assert status == 414
    assert_error_shape(body, 414, "uri_too_long")
    status, _, body = call(port, "GET", "/api/v1/health?q=" + "a" * 20000)  # the embedded app, or nginx
    assert status == 414
    assert_error_shape(body, 414, "uri_too_long")
    if which == "embedded":  # past waitress's header limit (64 KB): waitress itself, in the same shape
        status, head, body = raw(port, b"GET /api/v1/health?q=" + b"a" * 70000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        assert status == 431 and "application/json" in head
        assert_error_shape(json.loads(body), 431, "request_header_too_large")


def test_behind_nginx_the_app_sees_the_client_address_not_a_claimed_one(servers, database):
    status, _, _ = call(servers.production, "POST", "/api/v1/auth/token",
                        body=json.dumps({"username": "nobody-here", "password": "wrong-password"}),
                        headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.9"})
    assert status == 401
    keys = [row[0] for row in sql(database, "SELECT key FROM login_throttle")]
    assert any("127.0.0.1" in key for key in keys), keys
    assert not any("203.0.113.9" in key for key in keys), keys


# --- nginx's own answers ----------------------------------------------------------------------

@needs_nginx
def test_nginx_answers_its_own_errors_in_the_json_shape_and_serves_static_files(tmp_path):
    """nginx alone, its app not running: 502 with Retry-After, 413, 414 and 400 in the one JSON
    shape, and the static files still served from the disk."""
    proc, port = start_nginx(tmp_path, f"127.0.0.1:{free_port()}")
    try:
        status, response, body = call(port, "GET", "/api/v1/health")
        assert status == 502 and response.getheader("Retry-After") == "5"
        assert_error_shape(body, 502, "service_unavailable")

        status, response, body = call(port, "GET", "/static/index.html")
        assert status == 200 and response.getheader("Server") == "nginx" and b"<" in body
        assert response.getheader("Cache-Control") == "max-age=3600"

        status, head, body = raw(port, b"POST /api/v1/photos HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n")
        assert status == 413 and "application/json" in head
        assert_error_shape(json.loads(body), 413, "payload_too_large")

        status, _, body = call(port, "GET", "/api/v1/health?q=" + "a" * 9000)
        assert_error_shape(body, 414, "uri_too_long")

        status, head, body = raw(port, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        assert status == 400 and "application/json" in head
        assert_error_shape(json.loads(body), 400, "bad_request")
    finally:
        stop(proc)


# --- the app itself, behind a server that does not buffer --------------------------------------

@pytest.fixture
def unbuffered_server(database):
    """Werkzeug's threaded server in this process: like gunicorn alone, it hands the app the
    socket, so a body is read while it arrives."""
    server = make_server("127.0.0.1", 0, database, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(5)
    server.server_close()


def test_a_slow_upload_in_flight_does_not_block_a_login(unbuffered_server, inspector, make_user):
    """The upload's authentication ends its transaction before the body is read, and the write
    transaction starts once the body is in: on SQLite the write lock is free while it arrives."""
    other = make_user("reviewer")
    outcome = {}
    uploader = threading.Thread(target=slow_upload,
                                args=(unbuffered_server, inspector.token, noise_jpeg(300), 2.5, outcome))
    uploader.start()
    time.sleep(0.8)  # authenticated, body arriving
    started = time.monotonic()
    status, _, body = call(unbuffered_server, "POST", "/api/v1/auth/token",
                           body=json.dumps({"username": other.username, "password": other.password}),
                           headers={"Content-Type": "application/json"})
    took = time.monotonic() - started
    uploader.join(20)
    assert status == 201, body
    assert took < 1.0, f"the login waited {took:.1f} s for the upload"
    assert uploader.is_alive() is False and outcome.get("status") == 201, outcome
