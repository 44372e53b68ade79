"""Real servers for the tests that need them: free ports, plain HTTP calls, waiting for a server to
answer /health, stopping a process, and Debian's nginx with deploy/nginx.conf rendered as
deploy/render-nginx renders it (one or several app nodes behind it)."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

needs_nginx = pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx is not installed (scripts/bootstrap test)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None, headers=None, timeout=5):
    """(status, headers, parsed JSON or raw bytes) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    is_json = (response.getheader("Content-Type") or "").startswith("application/json")
    return response.status, response, json.loads(data) if is_json and data else data


def raw(port, request, timeout=5):
    """Send bytes as they are; the answer's (status, headers text, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode("latin-1"), body


def assert_error_shape(body, status, code):
    assert isinstance(body, dict), body
    error = body["error"]
    assert error["status"] == status and error["code"] == code, body
    assert error["message"] and error["message_zh"], body


def wait_ready(port, proc, deadline=40):
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}: {proc.stdout.read()[-3000:]}")
        try:
            if call(port, "GET", "/api/v1/health", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server on {port} not ready after {deadline} s")


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def render_nginx(prefix, listen_port, upstream, **values):
    """deploy/nginx.conf with its placeholders filled, as deploy/render-nginx does; `upstream` is one
    app address or a list of them (one `server` line each)."""
    nodes = [upstream] if isinstance(upstream, str) else list(upstream)
    settings = {
        "NGINX_USER": "root", "NGINX_LISTEN": f"127.0.0.1:{listen_port}", "NGINX_RUN": str(prefix),
        "NGINX_LOGS": str(prefix), "APP_UPSTREAM_SERVERS": "".join(f"server {node}; " for node in nodes), "APP_STATIC": str(ROOT / "static"),
        "CLIENT_MAX_BODY_SIZE": "1m", "CLIENT_BODY_TIMEOUT": "10s", **values,
    }
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    for name, value in settings.items():
        text = text.replace("${" + name + "}", value)
    assert not re.search(r"^[^#]*\$\{", text, re.M), "a placeholder of deploy/nginx.conf is not rendered"
    conf = Path(prefix) / "nginx.conf"
    conf.write_text(text)
    return conf


def start_nginx(prefix, upstream, **values):
    """nginx in front of `upstream` (one address or a list), other settings as render_nginx's:
    (process, port)."""
    port = free_port()
    conf = render_nginx(prefix, port, upstream, **values)
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(Path(prefix) / "startup.log"),
                             "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    until = time.monotonic() + 10
    while time.monotonic() < until:
        if proc.poll() is not None:
            pytest.fail(f"nginx exited: {proc.stdout.read()} {(Path(prefix) / 'error.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    stop(proc)
    pytest.fail("nginx did not start")
