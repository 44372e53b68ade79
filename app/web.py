"""Pages served from static/: the web client and the API docs (assets vendored, no CDN)."""
from flask import Blueprint, current_app, send_from_directory

web = Blueprint("web", __name__)


@web.get("/")
def index():
    return send_from_directory(current_app.static_folder, "index.html")


@web.get("/api/v1/docs")
def api_docs():
    return send_from_directory(current_app.static_folder, "docs.html")
