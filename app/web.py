"""Pages served from static/: the web client and the API docs (assets vendored, no CDN)."""
from flask import Blueprint, current_app, send_from_directory

web = Blueprint("web", __name__)


@web.get("/")
def index():
    response = send_from_directory(current_app.static_folder, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@web.get("/sw.js")
def service_worker():
    """The client's service worker, served from the root so that it controls the whole client."""
    response = send_from_directory(current_app.static_folder, "sw.js", mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@web.get("/api/v1/docs")
def api_docs():
    return send_from_directory(current_app.static_folder, "docs.html")
