"""Photos per second through one app node and through two, same run, same machine.

Each node is gunicorn (deploy/gunicorn.conf.py, 2 workers) with a job worker (`flask jobs worker`,
2 threads) beside it; the nodes share a throwaway PostgreSQL+PostGIS cluster, a one-node Ceph RADOS
Gateway (the S3 photo store) and a throwaway Redis (the job broker), and have no disk in common;
Debian's nginx is in front. Eight clients upload 12-megapixel JPEGs (distinct bytes) through nginx:

- accepted/s — uploads answered 201 per second (the request stores the original and its row; the
  variants and the hash are jobs);
- ready/s — photos whose variants are made, per second from the first upload to the last `ready`.

Both topologies run on this machine's 2 cores, so two nodes cannot be twice as fast here: the
figure shows that nothing is serialised between nodes (no shared lock, no shared disk), and what a
second machine would add is the cores it brings.

    .venv/bin/python benchmarks/bench_nodes.py [--small] [--photos N] [--clients N]
"""
import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from urllib3 import encode_multipart_formdata  # noqa: E402

from benchmarks.bench_upload import twelve_megapixel_jpeg, variant_of  # noqa: E402
from benchmarks.figures import figure  # noqa: E402
from tests.servers import call, free_port, start_nginx, stop  # noqa: E402

BUCKET = "rie-bench"


def prepare(database_url):
    """Schema, the Jixi tree and one inspector; returns the bearer headers."""
    import flask_migrate
    from sqlalchemy import select

    from app import create_app
    from app.auth import hash_password, issue_token
    from app.extensions import db
    from app.models import Division, User
    from app.services.demo import load_jixi_divisions

    app = create_app("testing", DATABASE_URL=database_url, PHOTO_ROOT=tempfile.mkdtemp())
    with app.app_context():
        flask_migrate.upgrade()
        if db.session.scalar(select(Division.code).limit(1)) is None:
            load_jixi_divisions()
        user = User(username=f"bench-{secrets.token_hex(3)}", role="inspector", scope_code="230382100",
                    password_hash=hash_password("bench-nodes-password"))
        db.session.add(user)
        db.session.flush()
        token = issue_token(user)[0]
        db.session.commit()
        db.engine.dispose()
    return {"Authorization": f"Bearer {token}"}


def wait_serving(port, seconds=60):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        try:
            if call(port, "GET", "/api/v1/health", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"node on {port} did not start")


class Topology:
    """`count` nodes (gunicorn + job worker each) behind nginx."""

    def __init__(self, count, env, workdir):
        self.procs, self.gunicorns, ports = [], [], []
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        for n in range(count):
            node = Path(workdir) / f"node{n}"
            (node / "metrics").mkdir(parents=True)
            node_env = {**env, "PHOTO_ROOT": str(node / "photos"), "INSTANCE_PATH": str(node / "instance"),
                        "PROMETHEUS_MULTIPROC_DIR": str(node / "metrics")}
            port = free_port()
            log = open(node / "server.log", "wb")
            proc = subprocess.Popen([gunicorn, "-c", "deploy/gunicorn.conf.py", "--preload", "wsgi:app"], cwd=ROOT,
                                    env={**node_env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"},
                                    stdout=log, stderr=subprocess.STDOUT)
            self.procs.append(proc)
            self.gunicorns.append(proc)
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--workers", "2"], cwd=ROOT,
                env=node_env, stdout=open(node / "worker.log", "wb"), stderr=subprocess.STDOUT))
            ports.append(port)
        for port in ports:
            wait_serving(port)
        (Path(workdir) / "nginx").mkdir()
        nginx, self.port = start_nginx(Path(workdir) / "nginx", [f"127.0.0.1:{p}" for p in ports],
                                       CLIENT_MAX_BODY_SIZE="100m", CLIENT_BODY_TIMEOUT="60s")
        self.procs.append(nginx)

    def close(self):
        for proc in reversed(self.procs):
            stop(proc, signal.SIGQUIT if proc in self.gunicorns else signal.SIGTERM)


def run(port, headers, photos, clients, data, offset):
    """Upload `photos` photos with `clients` threads; (accepted/s, ready/s, failures)."""
    ids, failures, lock = [], [], threading.Lock()
    counter = iter(range(photos))

    def client():
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            body, content_type = encode_multipart_formdata(
                {"file": ("photo.jpg", variant_of(data, offset + n), "image/jpeg")})
            status, _, answer = call(port, "POST", "/api/v1/photos", body, {**headers, "Content-Type": content_type},
                                     timeout=120)
            with lock:
                (ids.append(answer["id"]) if status == 201 else failures.append((status, answer)))

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = time.monotonic() - started
    pending = set(ids)
    while pending and time.monotonic() - started < 600:
        for photo_id in list(pending):
            status, _, answer = call(port, "GET", f"/api/v1/photos/{photo_id}", headers=headers)
            if status == 200 and answer["variants_status"] == "ready":
                pending.discard(photo_id)
        time.sleep(0.2)
    ready = time.monotonic() - started
    return len(ids) / accepted, (len(ids) - len(pending)) / ready, failures + [("not ready", p) for p in pending]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="24 photos (CI size)")
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    photos = 24 if args.small else args.photos

    import psycopg

    from app.storage import S3PhotoStore
    from tests.ceph_rgw import ThrowawayRGW
    from tests.pg_cluster import ThrowawayCluster
    from tests.redis_server import ThrowawayRedis

    cluster, rgw, redis, topologies = ThrowawayCluster(), ThrowawayRGW(), ThrowawayRedis(), []
    workdir = tempfile.mkdtemp(prefix="rie-bench-nodes-")
    try:
        server = cluster.start()
        database_url = server.replace("postgresql://", "postgresql+psycopg://")
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        rgw.start()
        redis_url = redis.start()
        S3PhotoStore(BUCKET, endpoint_url=rgw.endpoint_url, access_key=rgw.access_key, secret_key=rgw.secret_key,
                     region=rgw.region).ensure_bucket()
        headers = prepare(database_url)
        data = twelve_megapixel_jpeg()
        env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": database_url,
               "PHOTO_STORE": f"s3://{BUCKET}/bench", "S3_ENDPOINT_URL": rgw.endpoint_url,
               "AWS_ACCESS_KEY_ID": rgw.access_key, "AWS_SECRET_ACCESS_KEY": rgw.secret_key,
               "AWS_DEFAULT_REGION": rgw.region, "JOB_BROKER": redis_url,
               "JOB_NAME": f"rie-bench-{secrets.token_hex(3)}", "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}
        results = {}
        for count in (1, 2):
            topology = Topology(count, env, Path(workdir) / f"nodes{count}")
            topologies.append(topology)
            run(topology.port, headers, 4, args.clients, data, offset=count * 100_000)  # warm both nodes
            results[count] = run(topology.port, headers, photos, args.clients, data, offset=count * 1_000_000)
            topology.close()
            topologies.remove(topology)
            accepted, ready, failures = results[count]
            print(json.dumps({"nodes": count, "photos": photos, "clients": args.clients,
                              "accepted_per_s": round(accepted, 2), "ready_per_s": round(ready, 2),
                              "failures": failures[:5]}))
            if failures:
                raise SystemExit(f"{len(failures)} uploads failed with {count} node(s): {failures[:3]}")
        (a1, r1, _), (a2, r2, _) = results[1], results[2]
        figure(f"12 MP photos through nginx, {args.clients} clients, 1 node vs 2 (S3, Redis jobs, 2 cores)",
               f"accepted {a1:.1f} vs {a2:.1f}/s (x{a2 / a1:.2f}); variants ready {r1:.1f} vs {r2:.1f}/s "
               f"(x{r2 / r1:.2f})")
    finally:
        for topology in topologies:
            topology.close()
        redis.stop()
        rgw.stop()
        cluster.stop()


if __name__ == "__main__":
    main()
