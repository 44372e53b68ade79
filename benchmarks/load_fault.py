"""Load and faults: N phones for T seconds, with retries and double sends, while server workers
are killed; then a database check that prints lost, duplicated and orphaned (all must be 0).

    .venv/bin/python benchmarks/load_fault.py [--small] [--phones N] [--seconds T]
        [--kill-every S] [--workers W] [--database-url URL]

Each phone is a thread that visits villages of 密山镇 over real HTTP: it uploads three photos
(distinct small JPEGs), then submits the inspection with its own `client_uuid`, retrying every
failed step (connection reset, 5xx, timeout) with the same bytes and the same `client_uuid`, as the
web client's outbox does; one create in four is sent twice at once (a double tap). Meanwhile a
killer SIGKILLs a random gunicorn worker every few seconds (the master starts a new one), so
requests die mid-upload and mid-transaction.

Afterwards, from the database and the photo store:
- lost: a create answered 2xx whose inspection is not stored (or is stored without its photos);
- duplicated: more than one inspection for one visit (same client_uuid, or two acknowledged ids
  for one client_uuid);
- orphaned: a photo link without its photo row, a photo row whose files are missing;
- and, for information, stored files without a row (left by killed uploads), which
  `flask photos sweep` removes: the script runs the sweep and counts again.
Exit status 1 when lost, duplicated or orphaned is not 0. Everything runs on 127.0.0.1 and stops
by itself.
"""
import argparse
import http.client
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.figures import figure  # noqa: E402

TOWNSHIP = "230382100"  # 密山镇
ASPECTS = ("garbage", "sewage", "cleanliness")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(database_url, photo_root, phones):
    """Schema, the Jixi tree and one inspector (with a token) per phone; returns (villages, tokens)."""
    import flask_migrate
    from sqlalchemy import select

    from app import create_app
    from app.auth import hash_password, issue_token
    from app.extensions import db
    from app.models import Division, User
    from app.services.demo import load_jixi_divisions

    app = create_app("testing", DATABASE_URL=database_url, PHOTO_ROOT=photo_root)
    with app.app_context():
        flask_migrate.upgrade()
        if db.session.scalar(select(Division.code).limit(1)) is None:
            load_jixi_divisions()
        password_hash = hash_password("load-fault-password")
        tokens = []
        for n in range(phones):
            user = User(username=f"phone-{n}-{uuid.uuid4().hex[:6]}", role="inspector", scope_code=TOWNSHIP,
                        password_hash=password_hash)
            db.session.add(user)
            db.session.flush()
            tokens.append(issue_token(user)[0])
        villages = db.session.scalars(select(Division.code).where(
            Division.level == "village", Division.parent_code == TOWNSHIP, Division.active.is_(True))).all()
        points = {code: db.session.get(Division, code).point for code in villages}
        db.session.commit()
        db.engine.dispose()
    return {code: (p.y, p.x) for code, p in points.items()}, tokens


def small_jpeg(rng):
    from PIL import Image

    image = Image.frombytes("RGB", (16, 12), rng.randbytes(16 * 12 * 3)).resize((160, 120))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


class Server:
    """gunicorn with sync workers on the prepared database; workers can be killed."""

    def __init__(self, database_url, photo_root, workers, log_path):
        self.port = free_port()
        env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": database_url, "PHOTO_ROOT": photo_root,
               "PYTHONUNBUFFERED": "1"}
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [gunicorn, "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}", "--timeout", "60",
             "--graceful-timeout", "2", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_until_serving()

    def wait_until_serving(self, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                status, _ = request(self.port, "GET", "/api/v1/health", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def workers(self):
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def kill_a_worker(self, rng):
        workers = self.workers()
        if workers:
            try:
                os.kill(rng.choice(workers), signal.SIGKILL)
                return True
            except ProcessLookupError:
                pass
        return False

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def request(port, method, path, body=None, headers=None, timeout=20):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def multipart(data):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Phone:
    """One inspector's phone: visits until told to stop; every step retried like the outbox."""

    def __init__(self, n, port, token, villages, stop_at, stats):
        self.rng = random.Random(n)
        self.port, self.villages, self.stop_at, self.stats = port, villages, stop_at, stats
        self.headers = {"Authorization": f"Bearer {token}"}
        self.acked = {}  # client_uuid -> set of ids answered 2xx

    def call(self, method, path, body=None, content_type=None, deadline=None):
        """(status, json) of the first answer that is not a failure worth retrying."""
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        delay = 0.1
        while True:
            try:
                status, raw = request(self.port, method, path, body, headers)
                if status < 500:
                    return status, json.loads(raw or b"null")
                self.stats.add("5xx")
            except (OSError, http.client.HTTPException):
                self.stats.add("connection_errors")
            if deadline is not None and time.monotonic() > deadline:
                return None, None
            self.stats.add("retries")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def visit(self):
        village = self.rng.choice(sorted(self.villages))
        lat, lon = self.villages[village]
        deadline = time.monotonic() + 120  # a visit is given up only at the very end
        photos = {}
        for aspect in ASPECTS:
            body, content_type = multipart(small_jpeg(self.rng))
            status, answer = self.call("POST", "/api/v1/photos", body, content_type, deadline)
            if status not in (200, 201):
                self.stats.add("visits_given_up")
                return
            photos[aspect] = [answer["id"]]
        client_uuid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        inspection = {
            "client_uuid": client_uuid, "village": village,
            "observed_at": datetime.now(timezone.utc).isoformat(),
            "location": {"lat": lat, "lon": lon, "accuracy_m": 8},
            "answers": _answers(), "photos": photos, "notes": "load and fault run",
        }
        body = json.dumps(inspection).encode()
        sends = 2 if self.rng.random() < 0.25 else 1
        results = []

        def send():
            results.append(self.call("POST", "/api/v1/inspections", body, "application/json", deadline))

        threads = [threading.Thread(target=send) for _ in range(sends)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.stats.add("double_sends", sends - 1)
        for status, answer in results:
            if status in (200, 201):
                self.acked.setdefault(client_uuid, set()).add(answer["id"])
            elif status is None:
                self.stats.add("visits_given_up")
            else:
                self.stats.add(f"refused_{status}")
        if client_uuid in self.acked:
            self.stats.add("visits_acknowledged")

    def run(self):
        while time.monotonic() < self.stop_at:
            self.visit()


def _answers():
    from app.domain import full_answers

    answers = full_answers()
    return {aspect: answers[aspect] for aspect in ASPECTS}


def check(database_url, photo_root, acked):
    """{lost, duplicated, orphaned, unreferenced_files} from the database and the store."""
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import Inspection, InspectionPhoto, Photo
    from app.storage import get_store, photo_key

    app = create_app("testing", DATABASE_URL=database_url, PHOTO_ROOT=photo_root)
    with app.app_context():
        stored = {str(u): (i, n) for u, i, n in db.session.execute(
            select(Inspection.client_uuid, Inspection.id, func.count(InspectionPhoto.id))
            .outerjoin(InspectionPhoto, InspectionPhoto.inspection_id == Inspection.id)
            .group_by(Inspection.client_uuid, Inspection.id))}
        per_uuid = db.session.execute(select(Inspection.client_uuid, func.count()).group_by(Inspection.client_uuid)
                                      .having(func.count() > 1)).all()
        lost = [u for u, ids in acked.items() if u not in stored or stored[u][1] != len(ASPECTS)
                or stored[u][0] not in ids]
        duplicated = len(per_uuid) + sum(1 for ids in acked.values() if len(ids) > 1)
        dangling_links = db.session.scalar(
            select(func.count()).select_from(InspectionPhoto)
            .outerjoin(Photo, Photo.id == InspectionPhoto.photo_id).where(Photo.id.is_(None)))
        store = get_store()
        photos = db.session.execute(select(Photo.sha256, Photo.variants_status)).all()
        shas = {sha for sha, _ in photos}
        # a killed worker may leave a photo `pending` (its variants job lost): not orphaned, the
        # jobs sweep completes it; a ready photo must have all its files
        missing_files = sum(1 for sha, status in photos
                            for v in (("original", "display", "thumb") if status == "ready" else ("original",))
                            if not store.exists(photo_key(sha, v)))
        pending = sum(1 for _, status in photos if status == "pending")
        files = [p for p in Path(photo_root).rglob("*") if p.is_file()]
        unreferenced = sum(1 for p in files if p.name.startswith(".tmp-") or p.name.split(".")[0] not in shas)
        db.engine.dispose()
    return {"lost": len(lost), "duplicated": duplicated, "orphaned": dangling_links + missing_files,
            "unreferenced_files": unreferenced, "stored_inspections": len(stored), "pending_photos": pending}


def sweep(database_url, photo_root):
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": database_url, "PHOTO_ROOT": photo_root,
           "FLASK_APP": "wsgi", "PHOTO_SWEEP_MIN_AGE_SECONDS": "0"}  # the server is stopped: no request runs
    flask = str(Path(sys.executable).with_name("flask"))
    done = subprocess.run([flask, "photos", "sweep", "--min-age", "0"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    # and the background jobs' sweep: photos whose variants job was lost with a killed worker
    jobs = subprocess.run([flask, "jobs", "sweep"], cwd=ROOT, env={**env, "JOB_SWEEP_MIN_AGE_SECONDS": "0"},
                          capture_output=True, text=True, timeout=300)
    ok = done.returncode == 0 and jobs.returncode == 0
    return ok, (done.stdout + done.stderr + jobs.stdout + jobs.stderr).strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="CI size: 6 phones, 15 s")
    parser.add_argument("--phones", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between worker kills")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    if args.small:
        args.phones, args.seconds = 6, 15
    workdir = tempfile.mkdtemp(prefix="load-fault-")
    database_url = args.database_url or f"sqlite:///{workdir}/load.db"
    photo_root = os.path.join(workdir, "photos")
    villages, tokens = prepare(database_url, photo_root, args.phones)
    server = Server(database_url, photo_root, args.workers, os.path.join(workdir, "gunicorn.log"))
    stats = Counters("visits_acknowledged", "visits_given_up", "double_sends", "retries", "5xx",
                     "connection_errors")
    stop_at = time.monotonic() + args.seconds
    phones = [Phone(n, server.port, token, villages, stop_at, stats) for n, token in enumerate(tokens)]
    threads = [threading.Thread(target=p.run, daemon=True) for p in phones]
    started = time.monotonic()
    for t in threads:
        t.start()
    kills, rng = 0, random.Random(7)
    while time.monotonic() < stop_at:
        time.sleep(args.kill_every)
        if time.monotonic() < stop_at and server.kill_a_worker(rng):
            kills += 1
    for t in threads:
        t.join(timeout=180)
    elapsed = time.monotonic() - started
    server.stop()
    acked = {}
    for phone in phones:
        acked.update(phone.acked)
    result = check(database_url, photo_root, acked)
    swept_ok, sweep_output = sweep(database_url, photo_root)
    swept = check(database_url, photo_root, acked) if swept_ok else None
    after_sweep = swept["unreferenced_files"] if swept_ok else None
    print(f"load and fault: {args.phones} phones, {elapsed:.0f} s, {args.workers} gunicorn workers, "
          f"{kills} workers killed, database {'PostgreSQL' if 'postgres' in database_url else 'SQLite'}")
    print("  " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    print(f"  stored inspections {result['stored_inspections']}, "
          f"acknowledged creates {sum(len(v) for v in acked.values())}")
    print(f"  lost {result['lost']}, duplicated {result['duplicated']}, orphaned {result['orphaned']}")
    print(f"  stored files without a row (killed uploads): {result['unreferenced_files']}, after "
          f"`flask photos sweep --min-age 0`: {after_sweep if swept_ok else 'sweep failed: ' + sweep_output[-300:]}")
    print(f"  photos left pending (variants job lost with a killed worker): {result['pending_photos']}, after "
          f"`flask jobs sweep`: {swept['pending_photos'] if swept_ok else '-'}")
    figure(f"load and fault: {args.phones} phones, {elapsed:.0f} s, {kills} workers killed",
           f"{stats['visits_acknowledged']} visits; lost {result['lost']}, duplicated {result['duplicated']}, "
           f"orphaned {result['orphaned']}")
    bad = result["lost"] or result["duplicated"] or result["orphaned"] or not stats["visits_acknowledged"]
    sys.exit(1 if bad else 0)


class Counters(dict):
    """Counters shared by the phone threads."""

    def __init__(self, *names):
        super().__init__((name, 0) for name in names)
        self._lock = threading.Lock()

    def add(self, name, n=1):
        with self._lock:
            self[name] = self.get(name, 0) + n


if __name__ == "__main__":
    main()
