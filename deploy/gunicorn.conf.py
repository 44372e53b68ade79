"""gunicorn behind nginx (deploy/nginx.conf): `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

nginx reads each request whole before passing it on and takes each answer at once, so the
workers only ever talk to nginx over loopback at full speed: plain sync workers, one request
each, and a worker timeout that only ever meets a slow request of the app's own (exports).
Without nginx in front use the embedded server instead (./scripts/run, waitress).

Settings from the environment: GUNICORN_BIND (127.0.0.1:8001), WEB_CONCURRENCY (2 x cores + 1),
GUNICORN_TIMEOUT (60 s); the app's own settings as usual (README "Configuration").

Logs: JSON unless LOG_FORMAT says otherwise, gunicorn's own lines too; gunicorn's access log is off
(its line holds the raw URL and query string): the app writes one access line per request.
Metrics: prometheus_client's multiprocess mode: every worker writes its values to files in
PROMETHEUS_MULTIPROC_DIR (default: a new temporary directory), emptied when gunicorn starts; a
worker's files are kept when it exits (its counts stay in the totals), its live gauges dropped.
"""
import glob
import multiprocessing
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the app, for logconfig_dict

# Before anything imports prometheus_client: the workers' values go to files in this directory.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rural-metrics-")
os.environ.setdefault("LOG_FORMAT", "json")

# The app sits behind exactly one proxy, which replaces X-Forwarded-For (login throttling per address).
os.environ.setdefault("PROXY_FIX_HOPS", "1")

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# A request running longer is killed (its worker replaced); nginx's proxy_read_timeout is longer.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# nginx passes request lines up to 8 KB: gunicorn's maximum (its default, 4094, answered an HTML 414).
limit_request_line = 8190
limit_request_field_size = 8190
forwarded_allow_ips = "127.0.0.1"
accesslog = None
from app.observability import gunicorn_logconfig  # noqa: E402  (after PROMETHEUS_MULTIPROC_DIR is set)

logconfig_dict = gunicorn_logconfig(os.environ["LOG_FORMAT"], os.environ.get("LOG_LEVEL", "INFO"))


def on_starting(server):
    """Values left by a previous run are not this run's; a live process's are (the jobs worker,
    given the same PROMETHEUS_MULTIPROC_DIR to show its failed jobs, keeps its counts when gunicorn
    restarts)."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for path in glob.glob(os.path.join(directory, "*.db")):
        if not _writes_here(_writer_pid(path), directory):
            os.remove(path)


def _writer_pid(path):
    """The pid in a multiprocess file's name (`counter_1234.db`), or None."""
    tail = os.path.basename(path)[:-len(".db")].rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _writes_here(pid, directory):
    """Whether process `pid` is running with this PROMETHEUS_MULTIPROC_DIR (not merely a process
    that reuses a dead writer's pid)."""
    if pid is None or pid == os.getpid():
        return False
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"PROMETHEUS_MULTIPROC_DIR={directory}".encode() in f.read().split(b"\0")
    except OSError:  # gone, another user's, or no /proc
        return False


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
