"""Administrators' file imports through the browser: a division CSV, a boundary GeoJSON and a
historical inspections CSV, each checked by the same function as its flask command, first as a
preview (dry run), then stored."""
from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import auth_required
from app.errors import APIError
from app.extensions import db
from app.schemas.admin_imports import ImportAnswerSchema, ImportFileArgs, ImportFormArgs
from app.services.imports import import_upload

blp = Blueprint("admin_imports", __name__, url_prefix="/api/v1/admin/imports", description=(
    "Administrators: division, boundary and historical inspection files, previewed then stored. Multipart: the "
    "part `file`, and `dry_run` (default true: check and answer the preview, nothing stored; false: check again "
    "and store, audited). A commit may send the preview's `sha256` as `preview_sha256` so that only the previewed "
    "bytes are stored (409 otherwise). Every problem of every line (feature) is a 422 `validation_error` with "
    "`details.problems` = [{line | feature, message, message_zh}] and nothing is stored; rows outside your scope "
    "are problems of their line. An empty file, bytes in no accepted encoding or an Excel workbook renamed .csv "
    "are a problem of line 1; a file over MAX_IMPORT_BYTES is 413 `payload_too_large`."))

ADMIN = ("admin",)


class ImportTooLarge(APIError):
    status, code = 413, "payload_too_large"


def read_import_file(file):
    """The uploaded file's bytes, reading at most one byte past MAX_IMPORT_BYTES (413 past it)."""
    limit = current_app.config["MAX_IMPORT_BYTES"]
    data = file.stream.read(limit + 1)
    if len(data) > limit:
        raise ImportTooLarge(f"The file is larger than {limit} bytes.", message_zh=f"文件超过 {limit} 字节的上限。",
                             details={"max_bytes": limit})
    return data


# the form and the file are one multipart body: documented together
UPLOAD_DOC = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "the file, as the matching flask command takes it"},
        "dry_run": {"type": "boolean", "default": True,
                    "description": "true: check and answer the preview, store nothing; false: check again and store"},
        "preview_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                           "description": "the preview's sha256: a commit of different bytes is 409"},
    }}}}}


def run_import(kind, form, files):
    file = files["file"]
    answer = import_upload(kind, read_import_file(file), g.user, dry_run=form["dry_run"],
                           file_name=file.filename or None, preview_sha256=form["preview_sha256"])
    if form["dry_run"]:
        db.session.rollback()
    else:
        db.session.commit()
    return answer


@blp.route("/divisions")
class DivisionImport(MethodView):
    @blp.doc(requestBody=UPLOAD_DOC)
    @blp.arguments(ImportFormArgs, location="form")
    @blp.arguments(ImportFileArgs, location="files")
    @blp.response(200, ImportAnswerSchema)
    @auth_required(roles=ADMIN)
    def post(self, form, files):
        """A division CSV, as `flask divisions import` takes it: code, name, level, parent_code[, kind,
        households]; UTF-8 (± BOM) or GB18030/GBK. The preview counts new, changed and unchanged
        divisions and draws the stored shape of each (a new one: its parent's)."""
        return run_import("divisions", form, files)


@blp.route("/boundaries")
class BoundaryImport(MethodView):
    @blp.doc(requestBody=UPLOAD_DOC)
    @blp.arguments(ImportFormArgs, location="form")
    @blp.arguments(ImportFileArgs, location="files")
    @blp.response(200, ImportAnswerSchema)
    @auth_required(roles=ADMIN)
    def post(self, form, files):
        """A boundary GeoJSON FeatureCollection, as `flask divisions import-boundaries` takes it
        (properties.code; Polygon/MultiPolygon and/or Point). The preview counts divisions getting a
        first shape, a changed one or the same one, and draws the new shapes."""
        return run_import("boundaries", form, files)


@blp.route("/inspections")
class InspectionImport(MethodView):
    @blp.doc(requestBody=UPLOAD_DOC)
    @blp.arguments(ImportFormArgs, location="form")
    @blp.arguments(ImportFileArgs, location="files")
    @blp.response(200, ImportAnswerSchema)
    @auth_required(roles=ADMIN)
    def post(self, form, files):
        """A historical inspections CSV, as `flask inspections import` takes it (是/否, 通过/退回/不通过);
        UTF-8 (± BOM) or GB18030/GBK. The preview counts new rows and rows already stored (by
        client_uuid), lists them with their village names and draws a point per row."""
        return run_import("inspections", form, files)

