"""Operations: a request id on every request, one access line each, logs as text or JSON with
secrets scrubbed, and Prometheus metrics at GET /metrics (README "Metrics and logs").

Request id: a sane `X-Request-ID` (from nginx, which sets `$request_id`) is kept, anything else is
replaced by a new one; it is echoed in the response and carried by every log line of the request.

Access line (logger `app.access`, once the answer has been sent): method, route (the URL rule, never
the path with its values or the query string), status, duration, user id, request and response
bytes, request id.

Logs: structlog renders every record of the process (the app's, Flask's, gunicorn's) as one JSON
object a line (LOG_FORMAT=json) or as text; a scrubbing step removes bearer tokens, passwords,
Authorization headers, secrets in query strings (token, key, password, presigned signatures) and
the values of keys named like secrets, wherever they come from.

Metrics: prometheus_client; with PROMETHEUS_MULTIPROC_DIR set (deploy/gunicorn.conf.py does) every
worker writes its own files there and /metrics adds them up, so the totals are the server's, not
one worker's. Values that are read when scraped (the job queue's depth) come from callables the
factory registers in `app.extensions["metrics_gauges"]`: {name: (help, callable)}.
"""
import hmac
import ipaddress
import logging
import os
import re
import sys
import time
import uuid

import structlog
from flask import current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import NoInspectionAvailable

from app.errors import NotFound

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
UNMATCHED_ROUTE = "<unmatched>"
GAUGES_EXTENSION = "metrics_gauges"

# --- metrics ------------------------------------------------------------------------------------

REQUESTS = Counter("http_requests_total", "HTTP requests answered, by method, route (URL rule) and status",
                   ["method", "route", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time from the request's start to its last byte sent, by route",
                    ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
UPLOAD_BYTES = Counter("http_request_body_bytes_total", "Bytes of request bodies received (uploads), by route",
                       ["method", "route"])
PHOTOS_STORED = Counter("photos_stored_total", "New photos stored (committed photo rows)")
PHOTO_BYTES_STORED = Counter("photo_bytes_stored_total", "Bytes of the new photos stored (originals)")
JOB_FAILURES = Counter("jobs_failed_total", "Background jobs that failed, by job name", ["job"])


def job_failed(name):
    """For the job runner: count a failed job (its consumer process writes to the same
    PROMETHEUS_MULTIPROC_DIR, so /metrics shows it)."""
    JOB_FAILURES.labels(job=name).inc()


def _job_name(task):
    """The app's job name of a Huey task (its one task `run_job` carries it first), else the task's."""
    args = getattr(task, "args", None) or ()
    if getattr(task, "name", "").endswith("run_job") and args and isinstance(args[0], str):
        return args[0]
    return getattr(task, "name", None) or "unknown"


def _count_job_failure(_signal, task, *_exc):
    job_failed(_job_name(task))


def observe_jobs(app):
    """With the job runner (app.extensions["jobs"], app/jobs.py): the queue's depth and the jobs
    scheduled for later, read from the broker at each scrape (so the same whichever process
    scrapes), and every failed attempt of a job counted (in the worker process: give it the same
    PROMETHEUS_MULTIPROC_DIR as gunicorn to see them in /metrics)."""
    runner = app.extensions.get("jobs")
    if runner is None:
        return False
    huey = runner.huey
    gauges = app.extensions.setdefault(GAUGES_EXTENSION, {})
    if not getattr(huey, "immediate", False):
        gauges.setdefault("jobs_queue_depth", ("Jobs waiting in the queue (JOB_BROKER)", huey.pending_count))
        gauges.setdefault("jobs_scheduled", ("Jobs scheduled for later (retries, delayed jobs)", huey.scheduled_count))
    from huey.signals import SIGNAL_ERROR

    huey.signal(SIGNAL_ERROR)(_count_job_failure)
    return True


class ScrapeTimeGauges:
    """Gauges read when /metrics is scraped, from the app's registered callables."""

    def __init__(self, sources):
        self.sources = sources

    def collect(self):
        for name, (documentation, read) in sorted(self.sources.items()):
            try:
                value = read()
            except Exception:  # a source that fails must not take /metrics down
                logging.getLogger(__name__).warning("metrics source %s failed", name, exc_info=True)
                continue
            if value is not None:
                yield GaugeMetricFamily(name, documentation, value=value)


def metrics_text(app):
    """The exposition: every worker's files in multiprocess mode (else this process's registry),
    then the gauges read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    now = CollectorRegistry()
    now.register(ScrapeTimeGauges(app.extensions.get(GAUGES_EXTENSION, {})))
    return generate_latest(registry) + generate_latest(now)


def _loopback(address):
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def metrics_allowed():
    """METRICS_TOKEN set: only its bearer. Unset: only a direct request from loopback (a request that
    came through a proxy carries X-Forwarded-For)."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    if token:
        given = request.headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode())
    forwarded = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
    return (_loopback(forwarded or request.remote_addr) and "X-Forwarded-For" not in request.headers)


def metrics_view():
    if not metrics_allowed():
        raise NotFound()  # like every object outside a scope: nothing says it is there
    body = metrics_text(current_app)
    return body, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}


def _count_new_photos(session, *_args):
    new = [obj for obj in session.new if getattr(obj, "__tablename__", None) == "photos"]
    if new:
        session.info.setdefault("metrics_new_photos", []).extend(getattr(p, "size_bytes", 0) or 0 for p in new)


def _photos_committed(session):
    sizes = session.info.pop("metrics_new_photos", None)
    if sizes:
        PHOTOS_STORED.inc(len(sizes))
        PHOTO_BYTES_STORED.inc(sum(sizes))


def _photos_rolled_back(session, *_args):
    session.info.pop("metrics_new_photos", None)


def count_photos(session):
    """Count photo rows once their transaction commits (listeners added once per session factory)."""
    for name, listener in (("before_flush", _count_new_photos), ("after_commit", _photos_committed),
                           ("after_rollback", _photos_rolled_back)):
        if not event.contains(session, name, listener):
            event.listen(session, name, listener)


# --- logs ---------------------------------------------------------------------------------------

REDACTED = "[redacted]"
SECRET_KEYS = re.compile(r"pass(word)?|secret|token|authori[sz]ation|cookie|api[_-]?key|^key$|signature|credential",
                         re.I)
SECRET_PATTERNS = [
    # Authorization: Bearer …, Basic …
    (re.compile(r"\b(Bearer|Basic|Digest)\s+[A-Za-z0-9._~+/=:-]+", re.I), r"\1 " + REDACTED),
    # secrets in query strings and form bodies: token=…, access_token=…, password=…, key=…,
    # presigned URLs' X-Amz-Signature / X-Amz-Credential / Signature= …
    (re.compile(r"((?:[A-Za-z0-9_-]*(?:token|password|passwd|secret|signature|credential|key))=)[^&\s\"']+", re.I),
     r"\1" + REDACTED),
    # "password": "…" inside a logged JSON text
    (re.compile(r"(\"(?:[A-Za-z_]*password|[A-Za-z_]*token|secret)\"\s*:\s*\")[^\"]*", re.I), r"\1" + REDACTED),
    # ODK Collect device keys in paths
    (re.compile(r"(/openrosa/key/)[^/\s?\"']+"), r"\1" + REDACTED),
]


# what every secret pattern needs somewhere in the text: most log fields have none of it
SECRET_HINT = re.compile(r"=|\"|bearer|basic|digest|/openrosa/key/", re.I)
# fields of the app's own lines that never hold a secret
SAFE_FIELDS = frozenset({"method", "route", "status", "duration_ms", "user_id", "bytes_in", "bytes_out",
                         "request_id", "logger", "level", "timestamp"})


def scrub_text(value):
    if not SECRET_HINT.search(value):
        return value
    for pattern, replacement in SECRET_PATTERNS:
        value = pattern.sub(replacement, value)
    return value


def _scrub(value, key=None):
    if key is not None and SECRET_KEYS.search(str(key)) and value not in (None, "", REDACTED):
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def scrub_secrets(_logger, _method, event_dict):
    """structlog processor: no token, password, Authorization header, query-string secret or
    presigned signature in any field of a log line (and in the text of an exception)."""
    for key, value in list(event_dict.items()):
        if key in SAFE_FIELDS or key in ("exc_info", "_record", "_from_structlog") or value is None:
            continue
        event_dict[key] = _scrub(value, None if key in ("event", "exception") else key)
    return event_dict


def _render_exception(_logger, _method, event_dict):
    if event_dict.get("exc_info"):
        return structlog.processors.format_exc_info(_logger, _method, event_dict)
    return event_dict


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def log_formatter(fmt):
    """A logging.Formatter rendering every record (stdlib or structlog) as JSON or text, scrubbed."""
    renderer = (structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback))
    final = [_render_exception, scrub_secrets] if fmt == "json" else [scrub_secrets]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final, renderer],
    )


class _OurHandler(logging.StreamHandler):
    """The handler this module installs (a second app replaces it, not adds one). Without a stream
    of its own it writes to whatever sys.stderr is at that moment (a test runner swaps it)."""

    def __init__(self, stream=None):
        super().__init__(stream)
        self._own = stream  # StreamHandler put sys.stderr of this moment there

    @property
    def stream(self):
        return self._own if self._own is not None else sys.stderr

    @stream.setter
    def stream(self, value):
        self._own = value


def configure_logging(fmt="text", level="INFO", stream=None):
    """Every log record of the process to `stream` (stderr) as JSON or text, at `level`."""
    if fmt not in ("text", "json"):
        raise RuntimeError(f"LOG_FORMAT must be text or json, not {fmt!r}")
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = _OurHandler(stream)
    handler.setFormatter(log_formatter(fmt))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


def gunicorn_logconfig(fmt="json", level="INFO"):
    """deploy/gunicorn.conf.py's logconfig_dict: gunicorn's own lines rendered like the app's."""
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"app": {"()": log_formatter, "fmt": fmt}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "app", "stream": "ext://sys.stderr"}},
        # the root's handler is the app's own (configure_logging, when the app is created)
        "root": {"level": level.upper(), "handlers": []},
        "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
                    # gunicorn's access line holds the raw URL (query-string secrets): the app writes its own
                    "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False}},
    }


# --- the request hooks --------------------------------------------------------------------------

access_log = structlog.get_logger("app.access")


def start_request():
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if REQUEST_ID_PATTERN.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)


class _CountingBody:
    """The body of a streamed answer, counting the bytes as the server sends them."""

    def __init__(self, body, counter):
        self.body, self.counter = body, counter

    def __iter__(self):
        for chunk in self.body:
            self.counter[0] += len(chunk)
            yield chunk

    def close(self):
        if hasattr(self.body, "close"):
            self.body.close()


def _user_id(user):
    """The calling user's id, read from the identity map: never a query (its row may be expired)."""
    if user is None:
        return None
    try:
        identity = sa_inspect(user).identity
    except NoInspectionAvailable:
        return getattr(user, "id", None)
    return identity[0] if identity else None


def finish_request(response):
    """Echo the request id and count the request; its latency and access line once the answer has
    been sent (a streamed export's time included)."""
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("request_started") or time.perf_counter()
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED_ROUTE
    user_id = _user_id(g.get("user"))
    method, status = request.method, response.status_code
    received = request.content_length or 0
    sent = [0]
    if not response.is_streamed:
        sent[0] = response.calculate_content_length() or 0
    elif response.direct_passthrough:  # a file sent as it is: its length is in the headers
        sent[0] = response.content_length or 0
    else:  # counted as it leaves: calculate_content_length() would read a streamed export whole first
        response.response = _CountingBody(response.response, sent)

    # counted as the answer leaves the app, so a scrape after any answer has arrived includes it
    REQUESTS.labels(method, route, str(status)).inc()
    if received:
        UPLOAD_BYTES.labels(method, route).inc(received)

    def done():
        duration = time.perf_counter() - started
        LATENCY.labels(method, route).observe(duration)
        access_log.info("request", method=method, route=route, status=status,
                        duration_ms=round(duration * 1000, 2), user_id=user_id,
                        bytes_in=received, bytes_out=sent[0], request_id=request_id)

    response.call_on_close(done)
    return response


def register(app):
    """Logging, the request id and access line, the metrics view and the photo counters."""
    from app.extensions import db

    configure_logging(app.config.get("LOG_FORMAT", "text"), app.config.get("LOG_LEVEL", "INFO"))
    app.extensions.setdefault(GAUGES_EXTENSION, {})
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(finish_request)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
    count_photos(db.session)
