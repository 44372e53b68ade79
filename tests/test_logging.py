"""Structured logs: a request id on every request (a sane X-Request-ID kept and echoed, anything else
replaced), one access line per request (method, route, status, duration, user id, bytes), and never
a password, token, Authorization header, query-string secret or presigned signature in the output:
the captured output is grepped after a login, a bearer request and requests with secrets in the
query, in this process and from a real gunicorn (deploy/gunicorn.conf.py: JSON by default).
"""
import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.observability import configure_logging, scrub_text
from tests.factories import DEFAULT_PASSWORD, make_app
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
QUERY_SECRETS = {"token": "qs-token-5f1c9a", "password": "qs-password-8d2e", "access_token": "qs-access-77aa01",
                 "X-Amz-Signature": "d41d8cd98f00b204e9800998ecf8427e", "X-Amz-Credential": "AKIAEXAMPLE0042"}
PRESIGNED = ("https://rgw.example/photos/ab/cd?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE0042"
             "&X-Amz-Signature=d41d8cd98f00b204e9800998ecf8427e")


def query(**extra):
    return "&".join(f"{k}={v}" for k, v in {**QUERY_SECRETS, **extra}.items())


def json_lines(text):
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines
    return lines


def assert_no_secret(text, *secrets):
    for secret in secrets:
        assert secret not in text, f"{secret!r} is in the log"


@pytest.fixture
def captured(client):
    """The process's log output as JSON lines in a buffer, for one test."""
    buffer = io.StringIO()
    configure_logging("json", "INFO", stream=buffer)
    yield buffer
    configure_logging(client.application.config["LOG_FORMAT"], client.application.config["LOG_LEVEL"])


def test_a_request_id_is_kept_when_sane_made_otherwise_and_echoed(client, captured):
    sane = "nginx-4f1d2c3b9a8e7f60"
    assert client.get("/api/v1/health", headers={"X-Request-ID": sane}, buffered=True).headers["X-Request-ID"] == sane
    made = set()
    for bad in ("short", "has spaces in it ok", "x" * 200, "semi;colon-12345678", "ünïcode-12345678"):
        echoed = client.get("/api/v1/health", headers={"X-Request-ID": bad}, buffered=True).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", echoed), echoed
        made.add(echoed)
    made.add(client.get("/api/v1/health", buffered=True).headers["X-Request-ID"])
    assert len(made) == 6  # a new one each time
    access = [line for line in json_lines(captured.getvalue()) if line["logger"] == "app.access"]
    assert len(access) == 7 and access[0]["request_id"] == sane
    assert {line["request_id"] for line in access[1:]} == made


def test_one_access_line_per_request_and_no_secret_in_any_line(database, client, inspector, captured):
    credentials = json.dumps({"username": inspector.username, "password": DEFAULT_PASSWORD})
    login = client.post("/api/v1/auth/token", data=credentials, content_type="application/json", buffered=True)
    assert login.status_code == 201
    token = login.get_json()["token"]
    wrong = client.post("/api/v1/auth/token", json={"username": inspector.username, "password": "wrong-pw-31337"},
                        buffered=True)
    assert wrong.status_code == 401
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}, buffered=True)
    assert me.status_code == 200
    assert client.get(f"/api/v1/health?{query()}", buffered=True).status_code == 200
    assert client.get(f"/no/such/page?{query()}", buffered=True).status_code == 404
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-real-token-4242"}, buffered=True)
    assert bad.status_code == 401
    text = captured.getvalue()
    assert_no_secret(text, DEFAULT_PASSWORD, "wrong-pw-31337", token, inspector.token, "not-a-real-token-4242",
                     *QUERY_SECRETS.values())
    access = [line for line in json_lines(text) if line["logger"] == "app.access"]
    assert [(a["method"], a["route"], a["status"]) for a in access] == [
        ("POST", "/api/v1/auth/token", 201), ("POST", "/api/v1/auth/token", 401), ("GET", "/api/v1/me", 200),
        ("GET", "/api/v1/health", 200), ("GET", "<unmatched>", 404), ("GET", "/api/v1/me", 401)]
    assert access[2]["user_id"] == inspector.id and access[0]["user_id"] is None
    for line in access:
        assert line["duration_ms"] >= 0 and line["bytes_out"] > 0 and re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
        assert line["level"] == "info" and line["timestamp"].endswith("Z")
    assert access[0]["bytes_in"] == len(credentials.encode())


def test_an_error_logged_in_a_request_carries_its_id_and_no_secret(database, tmp_path):
    app = make_app(database.config["DATABASE_URL"], tmp_path)

    @app.get("/boom")
    def boom():
        raise RuntimeError(f"upstream refused Authorization: Bearer sekrit-abc123 fetching {PRESIGNED}")

    buffer = io.StringIO()
    configure_logging("json", "INFO", stream=buffer)
    try:
        response = app.test_client().get("/boom", headers={"X-Request-ID": "req-boom-0001"}, buffered=True)
    finally:
        configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    assert response.status_code == 500 and response.get_json()["error"]["code"]
    text = buffer.getvalue()
    assert_no_secret(text, "sekrit-abc123", "d41d8cd98f00b204e9800998ecf8427e", "AKIAEXAMPLE0042")
    lines = json_lines(text)
    errors = [line for line in lines if line["level"] == "error"]
    assert errors and all(line["request_id"] == "req-boom-0001" for line in errors)
    assert any("RuntimeError" in line.get("exception", "") for line in errors)
    assert [line["status"] for line in lines if line["logger"] == "app.access"] == [500]


def test_the_scrubber_on_the_usual_shapes():
    assert scrub_text("GET /x?token=abc&page=2&X-Amz-Signature=ff00") == \
        "GET /x?token=[redacted]&page=2&X-Amz-Signature=[redacted]"
    assert scrub_text("Authorization: Bearer abc.def-ghi") == "Authorization: Bearer [redacted]"
    assert scrub_text('{"username": "li", "password": "hunter2"}') == '{"username": "li", "password": "[redacted]"}'
    assert scrub_text("/openrosa/key/Zk3x9q/formList") == "/openrosa/key/[redacted]/formList"
    assert scrub_text("village 230382100200 approved") == "village 230382100200 approved"


# --- a real gunicorn ------------------------------------------------------------------------

def call(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_gunicorn_writes_json_lines_without_secrets(app, database, inspector, tmp_path):
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": app.config["DATABASE_URL"],
           "PHOTO_ROOT": str(tmp_path / "photos"), "INSTANCE_PATH": str(tmp_path / "instance"),
           "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.pop("LOG_FORMAT", None)  # the recipe's default: JSON
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-c", "deploy/gunicorn.conf.py",
                                 "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        until = time.monotonic() + 40
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                if call(port, "GET", "/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < until
            time.sleep(0.2)
        status, _, body = call(port, "POST", "/api/v1/auth/token", json.dumps(
            {"username": inspector.username, "password": DEFAULT_PASSWORD}), {"Content-Type": "application/json"})
        assert status == 201
        token = json.loads(body)["token"]
        status, headers, _ = call(port, "GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}",
                                                                      "X-Request-ID": "nginx-abcdef0123456789"})
        assert status == 200 and headers["X-Request-ID"] == "nginx-abcdef0123456789"
        assert call(port, "GET", f"/api/v1/health?{query()}")[0] == 200
        assert call(port, "GET", f"/api/v1/inspections?{query()}", headers={"Authorization": f"Bearer {token}"})[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    text = log_path.read_text()
    assert_no_secret(text, DEFAULT_PASSWORD, token, inspector.token, *QUERY_SECRETS.values())
    lines = json_lines(text)  # every line is JSON, gunicorn's own too
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["event"] for line in lines)
    access = [line for line in lines if line["logger"] == "app.access"]
    assert [(a["method"], a["route"], a["status"]) for a in access][-4:] == [
        ("POST", "/api/v1/auth/token", 201), ("GET", "/api/v1/me", 200), ("GET", "/api/v1/health", 200),
        ("GET", "/api/v1/inspections", 200)]
    assert access[-3]["request_id"] == "nginx-abcdef0123456789" and access[-3]["user_id"] == inspector.id
    assert access[-1]["user_id"] == inspector.id and access[-1]["bytes_out"] > 0
