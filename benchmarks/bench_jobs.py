"""Photo uploads with the variants in the request and in a background job, and the job's latency.

1. before: POST /api/v1/photos with a 12-megapixel JPEG and JOB_BROKER=immediate — the variants
   and the hash are made in the request (after its commit), as before the job queue;
2. after: the same uploads with JOB_BROKER a SqliteHuey file (or Redis, --broker redis) and a
   real worker process (`flask jobs worker`) running beside, taking the variants off the request;
3. job latency: upload one photo, wait until the worker has made it `ready`, next: the time from
   the upload's answer to the photo's row saying `ready` (polled every 5 ms), p50/p95; these
   uploads, each arriving with the worker idle, are timed too.

    .venv/bin/python benchmarks/bench_jobs.py [--small] [--broker sqlite|redis] [--database-url URL]
        [--before PATH]

`--before PATH`: also the same uploads on a worktree of the commit before the job queue
(`git worktree add /tmp/jobs-before 3f2a3fe && ln -s /work/main/.venv /tmp/jobs-before/.venv`),
SQLite, in a process of its own: the variants in the request as they were (one decode at reduced
scale). JOB_BROKER=immediate is a little slower than that — the request's check decode at 1/8
scale, then the job's decode of the stored original — so it overstates "before" somewhat.

Uploads go through the Flask test client (the whole app: auth, multipart, checks, store, row);
the worker is a separate process, so on this 2-core machine it competes with the uploads, as it
would in production on one machine.
"""
import argparse
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_upload import make_app, twelve_megapixel_jpeg, user_headers, variant_of  # noqa: E402
from app.serving import stop_jobs_worker  # noqa: E402
from benchmarks.figures import figure  # noqa: E402


BEFORE_SCRIPT = """
import io, json, sys, tempfile, time
sys.path.insert(0, ".")
from benchmarks.bench_upload import make_app, twelve_megapixel_jpeg, user_headers, variant_of
count, data = int(sys.argv[1]), twelve_megapixel_jpeg()
with tempfile.TemporaryDirectory() as tmp:
    app = make_app(f"sqlite:///{tmp}/bench.db", f"{tmp}/photos")
    headers, client, times = user_headers(app), app.test_client(), []
    for n in range(count + 1):  # the first is a warm-up
        body = {"file": (io.BytesIO(variant_of(data, n)), "p.jpg")}
        start = time.perf_counter()
        r = client.post("/api/v1/photos", headers=headers, data=body, content_type="multipart/form-data")
        elapsed = time.perf_counter() - start
        assert r.status_code == 201, r.get_json()
        times.append(elapsed)
print("TIMES " + json.dumps(times[1:]))
"""


def uploads_on(tree, count):
    """Upload latencies (s) on another checkout of the app (`--before`), SQLite, its own process."""
    done = subprocess.run([sys.executable, "-c", BEFORE_SCRIPT, str(count)], cwd=tree, capture_output=True,
                          text=True, timeout=1800)
    lines = [line for line in done.stdout.splitlines() if line.startswith("TIMES ")]
    if done.returncode or not lines:
        raise RuntimeError(f"the --before run failed: {(done.stdout + done.stderr)[-2000:]}")
    return json.loads(lines[-1][len("TIMES "):])


def percentiles(values):
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def upload(client, headers, data):
    start = time.perf_counter()
    r = client.post("/api/v1/photos", headers=headers, data={"file": (io.BytesIO(data), "p.jpg")},
                    content_type="multipart/form-data")
    elapsed = time.perf_counter() - start
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"], elapsed


def status_of(app, photo_id):
    from app.extensions import db
    from app.models import Photo

    with app.app_context():
        return db.session.get(Photo, photo_id).variants_status


def wait_ready(app, photo_id, timeout=120):
    deadline = time.monotonic() + timeout
    while status_of(app, photo_id) != "ready":
        if time.monotonic() > deadline:
            raise RuntimeError(f"photo {photo_id} not ready after {timeout} s: is the worker running?")
        time.sleep(0.005)


def start_worker(database_url, photo_root, broker, name, log):
    env = {**os.environ, "APP_ENV": "testing", "FLASK_APP": "wsgi", "DATABASE_URL": database_url,
           "PHOTO_ROOT": photo_root, "JOB_BROKER": broker, "JOB_NAME": name}
    return subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker", "--workers", "1"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a few uploads only (CI)")
    parser.add_argument("--broker", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--before", help="a worktree of the commit before the job queue (SQLite)")
    args = parser.parse_args()
    uploads, singles = (4, 3) if args.small else (20, 12)

    from app import create_app
    from app.jobs import make_huey

    data = twelve_megapixel_jpeg()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        photos = f"{tmp}/photos"
        inline = make_app(url, photos)  # the testing configuration: JOB_BROKER=immediate
        headers = user_headers(inline)
        engine = url.split(":", 1)[0].split("+")[0]
        counter = iter(range(1_000_000))

        client = inline.test_client()
        upload(client, headers, variant_of(data, next(counter)))  # warm-up
        before = [upload(client, headers, variant_of(data, next(counter)))[1] for _ in range(uploads)]

        name = f"bench-{secrets.token_hex(4)}"
        broker = f"sqlite:///{tmp}/jobs.sqlite3" if args.broker == "sqlite" else args.redis_url
        queued = create_app("testing", DATABASE_URL=url, PHOTO_ROOT=photos, JOB_BROKER=broker, JOB_NAME=name)
        log_path = Path(tmp) / "worker.log"
        with log_path.open("w") as log:
            worker = start_worker(url, photos, broker, name, log)
            try:
                client = queued.test_client()
                warm, _ = upload(client, headers, variant_of(data, next(counter)))
                wait_ready(queued, warm)  # the worker is up and has decoded once
                timed = [upload(client, headers, variant_of(data, next(counter))) for _ in range(uploads)]
                after = [elapsed for _, elapsed in timed]
                drain_start = time.perf_counter()
                for photo_id, _ in timed:
                    wait_ready(queued, photo_id)
                drain = time.perf_counter() - drain_start
                latency, alone = [], []
                for _ in range(singles):
                    photo_id, elapsed = upload(client, headers, variant_of(data, next(counter)))
                    alone.append(elapsed)
                    start = time.perf_counter()
                    wait_ready(queued, photo_id)
                    latency.append(time.perf_counter() - start)
            finally:
                stop_jobs_worker(worker)
                if args.broker == "redis":
                    make_huey(broker, name).storage.flush_all()
        for app in (inline, queued):
            with app.app_context():
                from app.extensions import db

                db.engine.dispose()

    previous = uploads_on(args.before, uploads) if args.before else None
    (b50, b95), (a50, a95), (j50, j95) = percentiles(before), percentiles(after), percentiles(latency)
    i50, i95 = percentiles(alone)
    print(f"POST /api/v1/photos, 4000x3000 JPEG {len(data) / 1e6:.1f} MB, {engine}, {uploads} uploads:")
    if previous:
        p50, p95 = percentiles(previous)
        print(f"  the commit before the queue ({args.before}, sqlite): p50 {p50 * 1000:6.0f} ms  "
              f"p95 {p95 * 1000:6.0f} ms")
        figure("POST /api/v1/photos 12 MP, sqlite: the commit before the job queue (p50/p95)",
               f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms")
    print(f"  before (variants + hash in the request): p50 {b50 * 1000:6.0f} ms  p95 {b95 * 1000:6.0f} ms")
    print(f"  after  (variants + hash in a job, {args.broker} worker running): "
          f"p50 {a50 * 1000:6.0f} ms  p95 {a95 * 1000:6.0f} ms  ({b50 / a50:.1f}x at p50)")
    print(f"  after, each upload alone (the worker idle when it arrives): p50 {i50 * 1000:6.0f} ms  "
          f"p95 {i95 * 1000:6.0f} ms  ({b50 / i50:.1f}x at p50)")
    print(f"  the worker finished the backlog {drain * 1000:.0f} ms after the last upload's answer")
    print(f"job latency (answer -> variants ready), {singles} single uploads: p50 {j50 * 1000:.0f} ms  "
          f"p95 {j95 * 1000:.0f} ms")
    figure(f"POST /api/v1/photos 12 MP, {engine}: variants in the request (p50/p95)",
           f"{b50 * 1000:.0f} / {b95 * 1000:.0f} ms")
    figure(f"POST /api/v1/photos 12 MP, {engine}: variants in a {args.broker} job (p50/p95)",
           f"{a50 * 1000:.0f} / {a95 * 1000:.0f} ms (before ÷ after at p50: {b50 / a50:.1f})")
    figure(f"POST /api/v1/photos 12 MP, {engine}: variants in a job, worker idle (p50/p95)",
           f"{i50 * 1000:.0f} / {i95 * 1000:.0f} ms (before ÷ after at p50: {b50 / i50:.1f})")
    figure(f"photo job latency, answer to variants ready, {args.broker} worker (p50/p95)",
           f"{j50 * 1000:.0f} / {j95 * 1000:.0f} ms")


if __name__ == "__main__":
    main()
