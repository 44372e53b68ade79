"""gunicorn behind nginx (deploy/nginx.conf): `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

nginx reads each request whole before passing it on and takes each answer at once, so the
workers only ever talk to nginx over loopback at full speed: plain sync workers, one request
each, and a worker timeout that only ever meets a slow request of the app's own (exports).
Without nginx in front use the embedded server instead (./scripts/run, waitress).

Settings from the environment: GUNICORN_BIND (127.0.0.1:8001), WEB_CONCURRENCY (2 x cores + 1),
GUNICORN_TIMEOUT (60 s); the app's own settings as usual (README "Configuration").
"""
import multiprocessing
import os

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
accesslog = "-"
