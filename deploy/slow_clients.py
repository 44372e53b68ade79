#!/usr/bin/env python3
"""Measure how a running server copes with slow clients (point it at a server of your own only).

While N raw connections trickle a request body at one byte per interval (login requests, no token
needed), a poller asks GET /api/v1/health every 0.25 s and a logged-in phone uploads one JPEG of
--upload-mb trickled evenly over --upload-seconds. Prints the health latencies (p50, p95, max,
failures) and the upload's status and duration. Everything is bounded: the run lasts
--upload-seconds plus a few seconds, each request has a timeout, then every socket is closed.

    python deploy/slow_clients.py --base http://127.0.0.1:8000 --slow 50 --upload-mb 10 --upload-seconds 60

Needs Pillow (in the app's virtualenv) to make the JPEG; the demo account logs in by default.
"""
import argparse
import http.client
import io
import json
import os
import socket
import statistics
import threading
import time
from urllib.parse import urlsplit


def open_slow_client(host, port, declared=100_000):
    """A connection that sent its headers and will trickle a login body that never completes."""
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall(
        f"POST /api/v1/auth/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n".encode() + b'{"username": "'
    )
    return sock


def trickle(socks, interval, stop):
    while not stop.wait(interval):
        for s in list(socks):
            try:
                s.send(b"x")
            except OSError:
                socks.remove(s)


def poll_health(host, port, stop, latencies, failures, timeout):
    while not stop.is_set():
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.request("GET", "/api/v1/health")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                latencies.append(time.monotonic() - started)
            else:
                failures.append(f"status {status}")
        except OSError as exc:
            failures.append(f"{exc.__class__.__name__} after {time.monotonic() - started:.1f}s")
        stop.wait(0.25)


def make_jpeg(target_bytes):
    from PIL import Image

    side = int((target_bytes / 0.9) ** 0.5)  # random RGB at quality 90 is ~0.9 bytes per pixel
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def login(host, port, username, password):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("POST", "/api/v1/auth/token", body=json.dumps({"username": username, "password": password}),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    body = json.loads(response.read())
    if response.status != 201:
        raise SystemExit(f"login failed: {response.status} {body}")
    return body["token"]


def slow_upload(host, port, token, data, seconds, outcome):
    boundary = "slowphoneboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    pieces = max(1, int(seconds * 4))
    size = -(-len(body) // pieces)

    def chunks():
        for i in range(0, len(body), size):
            yield body[i:i + size]
            time.sleep(seconds / pieces)

    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection(host, port, timeout=seconds + 60)
        conn.request("POST", "/api/v1/photos", body=chunks(), headers={
            "Authorization": f"Bearer {token}", "Content-Length": str(len(body)),
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = conn.getresponse()
        outcome.update(status=response.status, body=response.read()[:200])
    except OSError as exc:
        outcome.update(status=None, error=f"{exc.__class__.__name__}: {exc}")
    outcome["seconds"] = time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--slow", type=int, default=50, help="slow connections (default 50)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two bytes of a slow client")
    parser.add_argument("--upload-mb", type=float, default=10)
    parser.add_argument("--upload-seconds", type=float, default=60)
    parser.add_argument("--username", default="inspector")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--health-timeout", type=float, default=35)
    args = parser.parse_args()
    url = urlsplit(args.base)
    host, port = url.hostname, url.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("point this at a server on this machine only")

    token = login(host, port, args.username, args.password)
    data = make_jpeg(int(args.upload_mb * 1_000_000))
    stop = threading.Event()
    socks = [open_slow_client(host, port) for _ in range(args.slow)]
    latencies, failures, outcome = [], [], {}
    threads = [threading.Thread(target=trickle, args=(socks, args.interval, stop), daemon=True),
               threading.Thread(target=poll_health, args=(host, port, stop, latencies, failures, args.health_timeout),
                                daemon=True)]
    for t in threads:
        t.start()
    uploader = threading.Thread(target=slow_upload, args=(host, port, token, data, args.upload_seconds, outcome))
    uploader.start()
    uploader.join(args.upload_seconds + 70)
    stop.set()
    for t in threads:
        t.join(args.health_timeout + 5)
    for s in socks:
        s.close()

    print(f"slow clients: {args.slow} trickling 1 byte per {args.interval:g} s")
    if latencies:
        q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
        print(f"health: {len(latencies)} ok, p50 {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {q[18] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms; {len(failures)} failed")
    else:
        print(f"health: none answered; {len(failures)} failed")
    for f in failures[:5]:
        print("  failed:", f)
    if "seconds" not in outcome:
        print(f"upload: {len(data) / 1e6:.1f} MB over {args.upload_seconds:g} s -> no answer "
              f"{args.upload_seconds + 70:g} s after it started")
    else:
        print(f"upload: {len(data) / 1e6:.1f} MB over {args.upload_seconds:g} s -> status {outcome.get('status')} "
              f"after {outcome['seconds']:.1f} s {outcome.get('error', '')}")


if __name__ == "__main__":
    main()
