"""Background jobs (Huey): the work that need not keep a phone waiting.

A photo's display and thumbnail variants and its perceptual hash (then the inspection's
`photo_reused` check), webhook deliveries and their retries, and the periodic sweeps run in a
worker (`flask jobs worker`, started beside the server by ./scripts/run; production:
deploy/rural-inspections-worker.service). `JOB_BROKER` says where the queue lives:

- `sqlite:///path` — a SqliteHuey file; the embedded default is `instance/jobs.sqlite3`, beside
  the SQLite database (no server to run);
- `redis://host:port/db` — RedisHuey, for several app servers and workers (`JOB_NAME`, default
  `rural-inspections`, prefixes its keys, so several installations can share one Redis);
- `immediate` — no queue: a job runs in the process that asks for it, right after that
  transaction's commit (the default under TESTING; periodic jobs then never run by themselves).

The database is the record of what must happen, never the queue: a photo row says whether its
variants are `pending`, the webhook delivery table which deliveries are due. A job only carries an
id, re-reads the row and does nothing when the work is done already, so running one twice is
harmless; and a worker killed with a job in hand (Huey deletes the message when it picks it up)
loses nothing, because the periodic sweeps (every JOB_SWEEP_MINUTES) do again whatever the
database says is unfinished.

Services register their jobs with `@job(name)` and `@periodic(name)`, and ask for one with
`enqueue(name, *args)` or, in a transaction, `enqueue_after_commit(name, *args)`: a job about a
row must never run before the row is committed, and must not run at all when it is rolled back.
"""
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

JOBS = {}  # name -> function(*args), run in an app context
PERIODIC = {}  # name -> function(), run every JOB_SWEEP_MINUTES
AFTER_COMMIT = "jobs_after_commit"  # Session.info key: [(app, name, args)] waiting for the commit
DEFAULT_NAME = "rural-inspections"


def job(name):
    """Register a function as the job `name` (its arguments: plain JSON-like values)."""
    def register(function):
        JOBS[name] = function
        return function
    return register


def periodic(name):
    """Register a function to run every JOB_SWEEP_MINUTES in the worker."""
    def register(function):
        PERIODIC[name] = function
        return function
    return register


@dataclass
class JobRunner:
    huey: object
    broker: str
    run_job: object  # the one Huey task: run JOBS[name](*args) in an app context

    @property
    def immediate(self):
        return self.huey.immediate


def setting(name, default, app=None):
    """A JOB_* setting: the app's config (create_app overrides), else the environment, else `default`
    (README "Configuration")."""
    value = (app or current_app).config.get(name)
    if value is None or value == "":
        value = os.environ.get(name)
    if value is None or value == "":
        return default
    return type(default)(value) if default is not None else value


def broker_url(app):
    """JOB_BROKER (setting or environment); default `immediate` under TESTING, else a SqliteHuey
    file beside the instance's SQLite database."""
    url = setting("JOB_BROKER", None, app)
    if url:
        return url
    if app.testing:
        return "immediate"
    return f"sqlite:///{Path(app.instance_path) / 'jobs.sqlite3'}"


def make_huey(url, name=DEFAULT_NAME):
    """The Huey for a JOB_BROKER URL; ValueError for any other scheme. No result store: nothing
    reads a job's return value (the database has the outcome), so none piles up in the broker."""
    if url == "immediate":
        return MemoryHuey(name, immediate=True, results=False)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        # a table per queue name: several installations may share one file too
        return SqliteHuey(name, filename=str(path), timeout=10, results=False)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, results=False)
    raise ValueError(f"JOB_BROKER must be `immediate`, `sqlite:///path` or `redis://…`, not {url!r}")


def init_app(app):
    """Make this app's job runner (app.extensions["jobs"]): the Huey of JOB_BROKER, its one task,
    and the periodic sweeps (minute granularity)."""
    broker = broker_url(app)
    huey = make_huey(broker, setting("JOB_NAME", DEFAULT_NAME, app))

    @huey.task(retries=setting("JOB_RETRIES", 2, app), retry_delay=setting("JOB_RETRY_DELAY_SECONDS", 30, app),
               name="run_job")
    def run_job(name, args):
        run_now(app, name, args)

    minutes = setting("JOB_SWEEP_MINUTES", 1, app)
    for name in PERIODIC:
        def sweep(name=name):
            with app.app_context():
                return PERIODIC[name]()
        huey.periodic_task(crontab(minute=f"*/{minutes}"), name=f"periodic:{name}")(sweep)
    app.extensions["jobs"] = JobRunner(huey=huey, broker=broker, run_job=run_job)
    return app.extensions["jobs"]


def run_now(app, name, args):
    """Run the job `name` here, in an app context (and a database session) of its own."""
    with app.app_context():
        return JOBS[name](*args)


_init_lock = threading.Lock()


def runner(app=None):
    """The app's JobRunner, made on first use (create_app makes it in register_jobs)."""
    app = app or current_app._get_current_object()
    jobs = app.extensions.get("jobs")
    if jobs is None:
        with _init_lock:
            jobs = app.extensions.get("jobs") or init_app(app)
    return jobs


def enqueue(name, *args, eta=None):
    """Hand the job `name` to the queue (at `eta`, an aware datetime, when given). In immediate
    mode it runs now, and a job due later never runs by itself (the sweep does it)."""
    if name not in JOBS:
        raise KeyError(f"no job named {name!r}")
    task = runner().run_job
    if eta is not None:
        return task.schedule((name, list(args)), eta=eta)
    return task(name, list(args))


def enqueue_after_commit(name, *args):
    """Enqueue the job `name` once the current database transaction commits (never if it rolls back)."""
    from app.extensions import db

    if name not in JOBS:
        raise KeyError(f"no job named {name!r}")
    pending = db.session().info.setdefault(AFTER_COMMIT, [])
    if (name, args) not in [(n, a) for _, n, a in pending]:
        pending.append((current_app._get_current_object(), name, args))


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session):
    if session.in_nested_transaction():  # a SAVEPOINT released: the transaction, and its lock, go on
        return
    pending = session.info.pop(AFTER_COMMIT, None)
    for app, name, args in pending or ():
        try:
            with app.app_context():
                enqueue(name, *args)
        except Exception:  # a broker that is down loses no work: the sweep finds the row unfinished
            log.exception("could not enqueue job %s%r; the periodic sweep will do it", name, args)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session):
    # a SAVEPOINT rolled back keeps what the transaction queued before it (a job whose row was rolled
    # back with the savepoint finds nothing to do: jobs re-read their row)
    if not session.in_nested_transaction():
        session.info.pop(AFTER_COMMIT, None)


def run_periodic(name):
    """Run one periodic job here (the sweeps, e.g. from `flask jobs sweep`)."""
    return PERIODIC[name]()


def worker(app, workers=2, periodic_tasks=True):
    """A Huey consumer for this app's queue (thread workers); `.run()` blocks until SIGTERM/SIGINT."""
    jobs = runner(app)
    if jobs.immediate:
        raise ValueError("JOB_BROKER is `immediate`: there is no queue for a worker to read")
    # an idle worker polls a SqliteHuey file every JOB_POLL_SECONDS at most (Huey's default backs off
    # to 10 s, which an upload's thumbnail would wait); RedisHuey blocks on the list instead
    poll = setting("JOB_POLL_SECONDS", 0.25, app)
    return jobs.huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic_tasks,
                                     initial_delay=min(0.05, poll), backoff=1.15, max_delay=poll,
                                     check_worker_health=True)
