"""Statements and time per JSON create in a county that already holds many photos, and creates per
second under concurrency through gunicorn.

A create searches the county's photos of the last two years for near duplicates of its own. This
seeds a county with `--existing` inspections of three photos each (random perceptual hashes),
then times `--creates` JSON creates of three fresh photos each (POST /api/v1/inspections through
the test client, photos uploaded before timing) and counts their SQL statements with a
`before_cursor_execute` listener. Then (unless `--clients 0`) it starts gunicorn with
deploy/gunicorn.conf.py and 2 workers on that database and `--clients` threads (default 8) each post
their share of `--concurrent-creates` more creates over HTTP: creates per second is all of them over
the wall time from the first request to the last answer. With `--before PATH` (a worktree of an earlier commit, its .venv
linked) the same run is made there too, in the same session, and both are printed.

    .venv/bin/python benchmarks/bench_create.py [--existing 4000] [--creates 40] [--clients 8]
        [--concurrent-creates 160] [--before /tmp/create-before]

A worktree for --before: `git worktree add /tmp/create-before f5d825a` (the commit before the band
index and the lighter create) and `ln -s /work/main/.venv /tmp/create-before/.venv`.

SQLite (a temporary file) unless --database-url names an empty PostgreSQL + PostGIS database (and
--before-database-url another one for the --before run).
"""
import argparse
import http.client
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root, database_url, photo_root, log):
    """gunicorn with `root`'s deploy settings and 2 workers, serving `root`'s app on `database_url`."""
    port = free_port()
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": database_url, "PHOTO_ROOT": photo_root,
           "WEB_CONCURRENCY": "2", "GUNICORN_BIND": f"127.0.0.1:{port}", "PROXY_FIX_HOPS": "0"}
    server = subprocess.Popen([str(root / ".venv" / "bin" / "gunicorn"), "-c", str(root / "deploy" / "gunicorn.conf.py"),
                               "--access-logfile", "/dev/null", "--error-logfile", log, "--chdir", str(root),
                               "wsgi:app"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root)
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return server, port
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise RuntimeError("gunicorn did not start")
        time.sleep(0.2)


def concurrent_creates(port, headers, bodies, clients):
    """POST every body with `clients` threads, each its share; returns (creates/s, p50 ms, failures)."""
    times, failures = [], []
    lock = threading.Lock()

    def client(share):
        for body in share:
            payload = json.dumps(body).encode()
            start = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/api/v1/inspections", body=payload,
                         headers={**headers, "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            conn.close()
            with lock:
                times.append(time.perf_counter() - start)
                if response.status != 201:
                    failures.append(response.status)

    threads = [threading.Thread(target=client, args=(bodies[k::clients],)) for k in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    times.sort()
    return (len(bodies) - len(failures)) / wall, times[len(times) // 2] * 1000, failures


def worker(root, existing, creates, database_url, clients=0, concurrent=0):
    sys.path.insert(0, str(root))
    import flask_migrate
    from PIL import Image
    from sqlalchemy import event

    from app import create_app
    from app.auth import hash_password, issue_token
    from app.domain import full_answers
    from app.extensions import db
    from app.models import Division, Inspection, InspectionPhoto, Photo, User
    from app.services.demo import load_jixi_divisions
    try:
        from app.models.photo import photo_hash_band_rows
    except ImportError:  # the tree before the band index
        photo_hash_band_rows = None

    tmp = tempfile.mkdtemp(prefix="bench-create-")
    url = database_url or f"sqlite:///{tmp}/bench.db"
    app = create_app("testing", DATABASE_URL=url, PHOTO_ROOT=f"{tmp}/photos")
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    with app.app_context():
        flask_migrate.upgrade(directory=str(root / "migrations"))
        load_jixi_divisions()
        user = User(username="bench-inspector", role="inspector", scope_code="230382100",
                    password_hash=hash_password("bench-password-1"))
        db.session.add(user)
        db.session.flush()
        token, _ = issue_token(user)
        villages = [d.code for d in db.session.query(Division).filter(Division.code.like("230382%"),
                                                                        Division.level == "village").limit(50)]
        point = db.session.get(Division, "230382100200").point
        for n in range(existing):
            inspection = Inspection(client_uuid=uuid.uuid4(), village_code=villages[n % len(villages)],
                                    observed_at=now - timedelta(days=rng.randrange(700)), accuracy_m=5.0,
                                    location_input={}, answers={}, status="approved", version=1, source="app",
                                    decided_at=now)
            for position, aspect in enumerate(("garbage", "sewage", "cleanliness")):
                photo = Photo(id=uuid.uuid4().hex, sha256=uuid.uuid4().hex * 2, content_type="image/jpeg",
                              size_bytes=1000, width=640, height=480, exif={}, has_exif=False,
                              phash=f"{rng.getrandbits(64):016x}")
                db.session.add(photo)
                if photo_hash_band_rows:
                    db.session.add_all(photo_hash_band_rows(photo))
                inspection.photo_links.append(InspectionPhoto(photo=photo, aspect=aspect, position=position))
            db.session.add(inspection)
            if n % 500 == 499:
                db.session.flush()
        db.session.commit()
        engine = db.engine
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()

    def photo_id(seed):
        out = io.BytesIO()
        Image.frombytes("RGB", (8, 6), random.Random(seed).randbytes(144)).resize((640, 480)).save(out, "JPEG")
        r = client.post("/api/v1/photos", headers=headers, data={"file": (io.BytesIO(out.getvalue()), "p.jpg")},
                        content_type="multipart/form-data")
        return r.get_json()["id"]

    bodies = [{
        "client_uuid": str(uuid.uuid4()), "village": "230382100200", "observed_at": now.isoformat(),
        "location": {"lat": point.y, "lon": point.x, "accuracy_m": 8}, "answers": full_answers(),
        "photos": {aspect: [photo_id(f"{n}-{aspect}")] for aspect in ("garbage", "sewage", "cleanliness")},
    } for n in range(creates + (concurrent if clients else 0))]
    bodies, later = bodies[:creates], bodies[creates:]
    statements = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    times = []
    for body in bodies:
        start = time.perf_counter()
        r = client.post("/api/v1/inspections", headers=headers, json=body)
        times.append(time.perf_counter() - start)
        assert r.status_code == 201, r.get_json()
    event.remove(engine, "before_cursor_execute", listener)
    times.sort()
    out = {"statements_per_create": len(statements) / creates, "creates_per_s": creates / sum(times),
           "p50_ms": times[len(times) // 2] * 1000, "existing_photos": existing * 3}
    if clients:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        server, port = serve(root, url, f"{tmp}/photos", f"{tmp}/gunicorn.log")
        try:
            rate, p50, failures = concurrent_creates(port, headers, later, clients)
        finally:
            server.terminate()
            server.wait(30)
        out.update(concurrent_creates_per_s=rate, concurrent_p50_ms=p50, concurrent_failures=len(failures),
                   failure_statuses=sorted(set(failures)))
        if failures:
            out["server_log"] = Path(f"{tmp}/gunicorn.log").read_text()[-3000:]
    print(json.dumps(out))


def run(root, args, database_url):
    python = str(Path(root) / ".venv" / "bin" / "python")
    command = [python, str(HERE), "--worker", "--root", str(root), "--existing", str(args.existing),
               "--creates", str(args.creates), "--clients", str(args.clients),
               "--concurrent-creates", str(args.concurrent_creates)]
    if database_url:
        command += ["--database-url", database_url]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=root).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--existing", type=int, default=4000, help="inspections (3 photos each) already in the county")
    parser.add_argument("--creates", type=int, default=40)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients through gunicorn (0: none)")
    parser.add_argument("--concurrent-creates", type=int, default=160, help="creates the clients post in all")
    parser.add_argument("--before", help="a worktree of the commit to compare against")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--before-database-url", help="another empty database for the --before run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", default=str(HERE.parent.parent), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(Path(args.root), args.existing, args.creates, args.database_url, args.clients,
                      args.concurrent_creates)
    sys.path.insert(0, str(HERE.parent.parent))
    from benchmarks.figures import figure

    engine = "PostgreSQL" if args.database_url else "SQLite"
    rows = ([("before", run(args.before, args, args.before_database_url or args.database_url))] if args.before else [])
    rows.append(("after", run(HERE.parent.parent, args, args.database_url)))
    for name, r in rows:
        print(f"  {name:6}  {r['statements_per_create']:5.1f} statements/create  {r['creates_per_s']:7.1f} creates/s"
              f"  p50 {r['p50_ms']:6.1f} ms  ({r['existing_photos']} photos in the county, {engine})")
        if args.clients:
            print(f"          gunicorn, 2 workers, {args.clients} clients: {r['concurrent_creates_per_s']:7.1f} creates/s"
                  f"  p50 {r['concurrent_p50_ms']:6.1f} ms  failed {r['concurrent_failures']} "
                  f"{r['failure_statuses'] or ''}")
            if r.get("server_log"):
                print(r["server_log"])
    after = rows[-1][1]
    label = f"{engine}, {after['existing_photos']} photos in the county"
    if args.before:
        before = rows[0][1]
        figure(f"JSON create, statements per create ({label})",
               f"{before['statements_per_create']:.0f} → {after['statements_per_create']:.0f}")
        figure(f"JSON creates/s, sequential ({label})",
               f"{before['creates_per_s']:.1f} → {after['creates_per_s']:.1f} "
               f"({after['creates_per_s'] / before['creates_per_s']:.1f}×)")
        if args.clients:
            figure(f"JSON creates/s, gunicorn 2 workers, {args.clients} clients ({label})",
                   f"{before['concurrent_creates_per_s']:.1f} → {after['concurrent_creates_per_s']:.1f} "
                   f"({after['concurrent_creates_per_s'] / before['concurrent_creates_per_s']:.1f}×)")
    else:
        figure(f"JSON create, statements per create ({label})", f"{after['statements_per_create']:.0f}")
        figure(f"JSON creates/s, sequential ({label})", f"{after['creates_per_s']:.1f}")
        if args.clients:
            figure(f"JSON creates/s, gunicorn 2 workers, {args.clients} clients ({label})",
                   f"{after['concurrent_creates_per_s']:.1f}")


if __name__ == "__main__":
    main()
