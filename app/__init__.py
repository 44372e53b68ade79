"""Application factory: every global the app needs is made and registered here, step by step."""
import os

from flask import Flask

from config import INSTANCE_DIR, load_config


def create_app(config_name=None, **overrides):
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), static_folder="../static", static_url_path="/static")
    configure(app, config_name, overrides)
    register_observability(app)
    register_proxy_fix(app)
    configure_database(app)
    configure_database_timeouts(app)
    register_extensions(app)
    configure_read_replica(app)
    register_photo_store(app)
    register_blueprints(app)
    register_jobs(app)
    register_job_metrics(app)
    register_request_limits(app)
    register_request_hooks(app)
    register_body_reading(app)
    register_input_rules(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_commands(app)
    return app


def configure(app, config_name, overrides):
    from config import instance_secret

    app.config.from_object(load_config(config_name))
    app.config.update(overrides)
    if not app.config.get("SECRET_KEY") and app.config["APP_ENV"] == "development":
        app.config["SECRET_KEY"] = instance_secret()


def register_observability(app):
    """Logs (LOG_FORMAT text|json), a request id and one access line per request, GET /metrics
    (app/observability.py). First, so that every other hook runs inside the request's id."""
    from app.observability import register

    register(app)


def register_job_metrics(app):
    """/metrics shows the job queue's depth and counts failed jobs (app/observability.py)."""
    from app.observability import observe_jobs

    observe_jobs(app)


def register_proxy_fix(app):
    """Behind PROXY_FIX_HOPS proxies, the client address and scheme come from X-Forwarded-*."""
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def configure_database(app):
    from app.database import engine_options, normalise_url

    url = normalise_url(app.config["DATABASE_URL"])
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    if url.startswith("sqlite"):
        os.makedirs(app.instance_path, exist_ok=True)


def configure_database_timeouts(app):
    """Connect, statement, lock and pool timeouts from the settings (app/database.py)."""
    from app.database import engine_options

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url, app.config)


def register_extensions(app):
    from app import models  # noqa: F401  (registers the tables on the metadata)
    from app.database import install_engine_listeners
    from app.extensions import api, db, migrate

    db.init_app(app)
    with app.app_context():
        install_engine_listeners(db.engine)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})


def configure_read_replica(app):
    """DATABASE_REPLICA_URL: rates, trend, exports and the queue's counts read a streaming replica
    through read_session() (app/database.py); PostgreSQL only."""
    from app.database import configure_read_replica as configure

    configure(app)


def register_photo_store(app):
    from app.storage import make_store

    app.extensions["photo_store"] = make_store(app.config)


def register_blueprints(app):
    from app.api import BLUEPRINTS
    from app.extensions import api
    from app.web import web

    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(web)
    register_openrosa(app)


def register_openrosa(app):
    """ODK Collect / KoboCollect / Enketo endpoints under /openrosa/key/<key>/ (outside the OpenAPI
    document: they speak OpenRosa XML); the key is masked in the WSGI environ before any logging."""
    from app.api.openrosa import bp, redact_device_keys

    app.register_blueprint(bp)
    app.wsgi_app = redact_device_keys(app.wsgi_app)


def register_jobs(app):
    """The job queue of JOB_BROKER (app/jobs.py) with the jobs the services define: photo variants
    and hash, webhook deliveries and retries, and the periodic sweeps."""
    from app import jobs
    from app.services import photos, webhooks  # noqa: F401  (register their jobs)

    jobs.init_app(app)


def register_request_hooks(app):
    from app.auth import authenticate_before_parsing
    from app.services.webhooks import deliver_after_response

    app.before_request(authenticate_before_parsing)
    # webhook events queued by any request become a delivery job once its response has gone out
    app.after_request(deliver_after_response)


def register_request_limits(app):
    """Before authentication: a too-long URL answers 414; transactions only read until the body is in."""
    from app.serving import check_url_length, mark_body_pending

    app.before_request(check_url_length)
    app.before_request(mark_body_pending)


def register_body_reading(app):
    """After authentication: its transaction ends, then the whole body is read before any write."""
    from app.serving import read_body_first

    app.before_request(read_body_first)


def register_input_rules(app):
    """JSON and text rules for every request (app/inputs.py): JSON bodies up to MAX_JSON_BYTES,
    parsed once under the rules after the body is read; no NUL in query strings or paths."""
    from app.inputs import InputRequest, check_request_input

    app.request_class = InputRequest
    app.before_request(check_request_input)


def register_error_handlers(app):
    from app.errors import install_error_handlers

    install_error_handlers(app)


def register_security_headers(app):
    """Content-Security-Policy, nosniff, no framing, referrer policy, no-store on tokens (app/security.py)."""
    from app.security import register_security_headers as install

    install(app)


def register_commands(app):
    from app.cli import COMMAND_GROUPS

    for group in COMMAND_GROUPS:
        app.cli.add_command(group)
