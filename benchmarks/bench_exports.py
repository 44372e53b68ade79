"""Export benchmark: 10^5 inspections (and a rates table of 10^5 villages) exported as CSV, XLSX and
GeoJSON through HTTP (Flask test client), each in a fresh process: time to the first body byte,
total time, size and peak memory (the process's peak RSS above what it held before the request),
plus where the time goes (the query alone; the query and the row building).

`--app-root` runs the same measurements with the code of another checkout (e.g. a `git worktree`
of the commit before a change, with .venv symlinked), against the same database, so "before" and
"after" come from one session:

    .venv/bin/python benchmarks/bench_exports.py --postgres-url postgresql://postgres@127.0.0.1:5432/test \\
        --app-root /tmp/before --app-root .

The database is created (PostgreSQL: on the server of --postgres-url; SQLite with --sqlite) and
dropped at the end; it is migrated and loaded once with the last --app-root's code (give the newest
checkout last), then every checkout runs the same exports on it.
"""
import argparse
import json
import os
import platform
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
CN = timezone(timedelta(hours=8))
HEADER = ("client_uuid,village_code,observed_at,lon,lat,garbage_stable,sewage_treated,village_clean,"
          "households,households_with_tap,status\n")


def tree_csv(villages_per_township):
    """Province 91: 10 cities x 10 counties x 10 townships x N villages."""
    lines = ["code,name,level,parent_code,kind,households", "91,合成省,province,,,"]
    for c in range(1, 11):
        city = f"91{c:02d}"
        lines.append(f"{city},合成{c}市,city,91,,")
        for k in range(1, 11):
            county = f"{city}{k:02d}"
            lines.append(f"{county},合成{c}-{k}县,county,{city},,")
            for t in range(1, 11):
                township = f"{county}{t:03d}"
                lines.append(f"{township},合成{t}镇,township,{county},,")
                for v in range(1, villages_per_township + 1):
                    lines.append(f"{township}{v:03d},合成{v}村,village,{township},,{100 + (v * 37) % 400}")
    return "\n".join(lines) + "\n"


def history_chunks(codes, rows, rng, chunk=50_000):
    out = []
    for n in range(rows):
        code = codes[n % len(codes)]
        when = datetime(2026, 1 + (n // len(codes)) % 9, rng.randint(1, 28), rng.randint(7, 18), rng.randint(0, 59),
                        tzinfo=CN)
        b = lambda p: "true" if rng.random() < p else "false"  # noqa: E731
        households = 100 + rng.randint(0, 400)
        out.append(f"{uuid.UUID(int=rng.getrandbits(128))},{code},{when.isoformat()},"
                   f"{131 + rng.random():.6f},{45 + rng.random():.6f},{b(0.9)},{b(0.5)},{b(0.85)},"
                   f"{households},{households - rng.randint(0, 10)},approved\n")
        if len(out) == chunk:
            yield HEADER + "".join(out)
            out = []
    if out:
        yield HEADER + "".join(out)


def use_checkout(root):
    sys.path.insert(0, str(Path(root).resolve()))


def make_app(url):
    from app import create_app

    return create_app("testing", DATABASE_URL=url, PHOTO_ROOT=tempfile.mkdtemp(prefix="bench-photos-"))


def load(url, rows, villages_per_township):
    import flask_migrate
    from sqlalchemy import select, text

    from app.auth import issue_token
    from app.extensions import db
    from app.models import Division
    from app.services.divisions import import_divisions
    from app.services.imports import import_inspections
    from app.services.users import create_user

    app = make_app(url)
    with app.app_context():
        flask_migrate.upgrade()
        t0 = time.perf_counter()
        import_divisions(tree_csv(villages_per_township))
        db.session.commit()
        codes = db.session.scalars(select(Division.code).where(Division.level == "village").order_by(Division.code)).all()
        print(f"{len(codes)} villages loaded in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        for chunk in history_chunks(codes, rows, random.Random(2026)):
            import_inspections(chunk, file_name="bench.csv")
            db.session.commit()
        print(f"{rows} inspections imported in {time.perf_counter() - t0:.1f} s", flush=True)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        user = create_user("bench-bureau", "bureau", "91", "bench-password")
        token, _ = issue_token(user)
        db.session.commit()
        db.engine.dispose()
    return token


REQUESTS = {
    "inspections.csv": ("/api/v1/inspections/export", {"format": "csv"}),
    "inspections.xlsx": ("/api/v1/inspections/export", {"format": "xlsx"}),
    "inspections.geojson": ("/api/v1/inspections/export", {"format": "geojson"}),
    "rates-villages.xlsx": ("/api/v1/rates/export", {"format": "xlsx", "division": "91", "level": "village",
                                                     "period": "2026-Q3"}),
    "rates-villages.csv": ("/api/v1/rates/export", {"format": "csv", "division": "91", "level": "village",
                                                    "period": "2026-Q3"}),
}


def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(url, token, name):
    """One export in this process: prints a JSON line."""
    app = make_app(url)
    client = app.test_client()
    path, params = REQUESTS[name]
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/api/v1/me", headers=headers)  # imports and connections warm
    before = peak_kib()
    t0 = time.perf_counter()
    response = client.get(path, query_string=params, headers=headers)
    first = None
    size = 0
    for chunk in response.response:
        if chunk and first is None:
            first = time.perf_counter() - t0
        size += len(chunk)
    total = time.perf_counter() - t0
    assert response.status_code == 200, response.status_code
    print(json.dumps({"name": name, "first_byte_s": first, "total_s": total, "mb": size / 1e6,
                      "peak_mib": (peak_kib() - before) / 1024, "peak_total_mib": peak_kib() / 1024}))


def child_breakdown(url, token):
    """Where an inspection export's time goes: the query alone, then the query and the row building."""
    from app.extensions import db
    from app.models import User
    from app.services import exports

    app = make_app(url)
    out = {}
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "bench-bureau"))
        stmt = exports.inspection_export_query(user)
        t0 = time.perf_counter()
        n = sum(1 for _ in exports._stream_rows(stmt))
        out["query_s"] = time.perf_counter() - t0
        db.session.rollback()
        t0 = time.perf_counter()
        for row in exports._stream_rows(stmt):
            exports._inspection_values(row, "en")
        out["query_and_rows_s"] = time.perf_counter() - t0
        out["rows"] = n
        db.session.rollback()
        if db.engine.dialect.name == "postgresql":
            raw = db.engine.raw_connection()
            try:
                with raw.cursor() as cur:
                    t0 = time.perf_counter()
                    with cur.copy("COPY (SELECT * FROM inspections ORDER BY id) TO STDOUT WITH (FORMAT csv)") as copy:
                        copied = sum(len(block) for block in copy)
                    out["copy_s"] = time.perf_counter() - t0
                    out["copy_mb"] = copied / 1e6
            finally:
                raw.close()
    print(json.dumps({"name": "breakdown", **out}))


def run_child(root, args):
    env = {**os.environ, "PYTHONPATH": str(Path(root).resolve())}
    out = subprocess.run([sys.executable, str(HERE / "bench_exports.py"), "--app-root", str(root), *args],
                         capture_output=True, text=True, env=env, cwd=str(root))
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_database(server, sqlite):
    if sqlite:
        path = Path(tempfile.mkdtemp(prefix="bench-exports-")) / "bench.db"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    import psycopg

    name = f"bench_exports_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop():
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                   "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--villages-per-township", type=int, default=100, help="10^3 townships: 100 gives 10^5 villages")
    parser.add_argument("--app-root", action="append", help="checkout(s) whose code runs the exports")
    parser.add_argument("--child", nargs=3, metavar=("URL", "TOKEN", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    roots = args.app_root or [str(HERE.parent)]
    if args.child:
        use_checkout(roots[0])
        url, token, name = args.child
        return child_breakdown(url, token) if name == "breakdown" else child(url, token, name)
    print(f"export benchmark: {args.rows} inspections, {10 ** 3 * args.villages_per_township} villages, "
          f"{'SQLite' if args.sqlite else 'PostgreSQL'}; {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}", flush=True)
    url, drop = make_database(args.postgres_url, args.sqlite)
    try:
        use_checkout(roots[-1])
        token = load(url, args.rows, args.villages_per_township)
        for root in roots:
            commit = subprocess.run(["git", "-C", root, "log", "-1", "--format=%h %s"], capture_output=True,
                                    text=True).stdout.strip()[:70]
            print(f"\n== code of {root} ({commit})")
            breakdown = run_child(root, ["--child", url, token, "breakdown"])
            print(f"  inspections: query alone {breakdown.get('query_s', 0):.2f} s, query + row building "
                  f"{breakdown.get('query_and_rows_s', 0):.2f} s"
                  + (f", COPY of the table {breakdown['copy_s']:.2f} s" if "copy_s" in breakdown else "")
                  + (f"  {breakdown['error']}" if "error" in breakdown else ""), flush=True)
            for name in REQUESTS:
                r = run_child(root, ["--child", url, token, name])
                if "error" in r:
                    print(f"  {name}: failed {r['error']}", flush=True)
                    continue
                print(f"  {name:22s} first body byte {r['first_byte_s']:.2f} s, total {r['total_s']:.2f} s, "
                      f"{r['mb']:.1f} MB, peak RSS {r['peak_total_mib']:.0f} MiB "
                      f"(+{r['peak_mib']:.0f} MiB over the process before the request)", flush=True)
    finally:
        drop()


if __name__ == "__main__":
    main()
