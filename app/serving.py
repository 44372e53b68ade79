"""Serving: the embedded server, and the request hooks that keep slow clients and long URLs cheap.

The embedded server (`./scripts/run`, `python -m app.serving`) is waitress: its one I/O thread
reads every request whole — headers, then the body (to a temp file past 512 KB) — before a
worker thread sees it, so a phone trickling a photo over 2G, or a thousand connections trickling
one byte a second, cost a socket each and never a worker thread. A connection silent for
SERVER_CHANNEL_TIMEOUT_SECONDS is closed; one that keeps sending may take as long as it needs.
Production puts nginx in front of gunicorn instead (deploy/), which buffers the same way.

Whatever the server, the app itself:

- answers 414 `uri_too_long` (the one JSON error shape) for a URL longer than MAX_URL_BYTES,
  before anything else;
- reads a request's body (JSON or a form) before it opens a write transaction: authentication
  reads the token in a transaction that is ended before the body is read (`read_body_first`),
  and on SQLite that transaction starts deferred (app/database.py), so an upload arriving slowly
  through a server that does not buffer (gunicorn alone, `flask run`) holds neither SQLite's
  write lock nor a pooled connection while it arrives. Multipart files past 500 KB are spooled
  to disk by Werkzeug.
"""
import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time

from flask import current_app, g, request

from app.errors import MESSAGES, APIError

log = logging.getLogger(__name__)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# set on `g` while a request's body is still unread: transactions begun meanwhile only read
BODY_PENDING = "request_body_pending"


class URITooLong(APIError):
    status, code = 414, "uri_too_long"


def check_url_length():
    """before_request, first of all: a URL longer than MAX_URL_BYTES answers a JSON 414."""
    limit = current_app.config["MAX_URL_BYTES"]
    env = request.environ
    raw = env.get("RAW_URI") or env.get("REQUEST_URI")
    if raw is None:
        query = env.get("QUERY_STRING", "")
        raw = env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", "") + ("?" + query if query else "")
    if len(raw) > limit:
        raise URITooLong(
            f"The URL is longer than {limit} bytes; send long filters in fewer or shorter parameters.",
            message_zh=f"请求地址超过 {limit} 字节，请减少或缩短查询参数。",
        )


def mark_body_pending():
    """before_request, before authentication: until the body is read, transactions only read."""
    if request.method in BODY_METHODS:
        g.setdefault(BODY_PENDING, True)


def end_read_transaction():
    """Commit the request's read-only transaction (authentication's) without expiring the loaded
    token and user, so that no transaction and no pooled connection is held while the body arrives."""
    from app.extensions import commit_keeping_loaded, db

    if db.session().in_transaction():
        commit_keeping_loaded()


def read_body_first():
    """before_request, after authentication: end its transaction, then read the whole body
    (form and files parsed, large files spooled to temp files) before any view writes."""
    if not g.pop(BODY_PENDING, False):
        return
    end_read_transaction()
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        request.form  # noqa: B018  (parses the form and the files once; the views read the cache)
    elif request.is_json:
        request.get_data(cache=True)  # within the JSON size limit (413 past it); get_json() reads the cache
    # any other body is no view's to read: it is left unread, not pulled into memory


# --- the embedded server --------------------------------------------------------------------

WAITRESS_CODES = {400: "bad_request", 413: "payload_too_large", 431: "request_header_too_large",
                  500: "internal_error", 501: "bad_request"}
WAITRESS_MESSAGES = {431: ("The request line or headers are too large.", "请求地址或请求头过长。")}


def json_error_task_class():
    """waitress's own errors (malformed request, headers or body over the limits) in the one JSON shape."""
    from waitress.task import ErrorTask

    class JSONErrorTask(ErrorTask):
        def execute(self):
            error = self.request.error
            status = error.code
            code = WAITRESS_CODES.get(status, "bad_request")
            en, zh = WAITRESS_MESSAGES.get(status) or MESSAGES.get(code, (error.reason, error.reason))
            body = json.dumps({"error": {"status": status, "code": code, "message": en, "message_zh": zh}},
                              ensure_ascii=False).encode()
            self.status = f"{status} {error.reason}"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    return JSONErrorTask


def server_options(config):
    """waitress adjustments from the app's settings."""
    return {
        "threads": config["SERVER_THREADS"],
        "connection_limit": config["SERVER_CONNECTION_LIMIT"],
        "channel_timeout": config["SERVER_CHANNEL_TIMEOUT_SECONDS"],
        "cleanup_interval": max(1, min(30, config["SERVER_CHANNEL_TIMEOUT_SECONDS"] // 2)),
        "max_request_body_size": config["MAX_CONTENT_LENGTH"],
        # the app answers long URLs itself (JSON 414); headers beyond this are refused with a JSON 431
        "max_request_header_size": max(65536, 2 * config["MAX_URL_BYTES"]),
        "asyncore_use_poll": True,  # select() stops at 1024 sockets
        "ident": "rural-inspections",
    }


def create_server(app, listen):
    """A waitress server for `app` on `listen` ("host:port", several separated by spaces)."""
    from waitress import create_server as waitress_server
    from waitress.channel import HTTPChannel
    from waitress.server import BaseWSGIServer

    channel = type("JSONErrorChannel", (HTTPChannel,), {"error_task_class": json_error_task_class()})
    server = waitress_server(app, listen=listen, **server_options(app.config))
    sockets = getattr(server, "map", None) or server._map  # several listen addresses, or one
    for dispatcher in list(sockets.values()):
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = channel
    return server


def access_log(wsgi_app):
    """One line per request on the log (waitress writes none): address, method, URL, status, time."""
    logger = logging.getLogger("app.access")

    def logged(environ, start_response):
        started, status = time.monotonic(), ["-"]

        def start(line, headers, exc_info=None):
            status[0] = line.split(" ", 1)[0]
            return start_response(line, headers, exc_info)

        try:
            return wsgi_app(environ, start)
        finally:
            uri = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
            logger.info("%s %s %s %s %.0f ms", environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD"),
                        uri[:300], status[0], (time.monotonic() - started) * 1000)

    return logged


def start_jobs_worker(app):
    """`flask jobs worker` in a child process beside the server (./scripts/run), or None when
    JOB_BROKER is `immediate` (jobs then run in the server's own threads)."""
    from app.jobs import runner

    if runner(app).immediate:
        return None
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker"],
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stop_jobs_worker(worker):
    """SIGINT: Huey finishes the jobs in hand and exits; killed if it has not within 30 s."""
    if worker is None or worker.poll() is not None:
        return
    worker.send_signal(signal.SIGINT)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve the app with the embedded server (waitress).")
    parser.add_argument("--listen", default=f"127.0.0.1:{os.environ.get('PORT', '8000')}",
                        help="host:port to listen on (several separated by spaces)")
    parser.add_argument("--jobs-worker", action="store_true",
                        help="also run the background jobs worker (`flask jobs worker`) as a child process")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("waitress", "app.access"):
        logging.getLogger(name).setLevel(logging.INFO)
    from wsgi import app

    app.wsgi_app = access_log(app.wsgi_app)
    server = create_server(app, args.listen)
    worker = start_jobs_worker(app) if args.jobs_worker else None
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # through the finally below: the worker stops too
    server.print_listen("serving on http://{}:{}/")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stop_jobs_worker(worker)


def _exit_on_sigterm(*_):
    raise SystemExit(0)


if __name__ == "__main__":
    main()
