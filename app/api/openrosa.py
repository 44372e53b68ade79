"""The OpenRosa endpoints that ODK Collect, KoboCollect and Enketo use, under a device key's server
URL `<base>/openrosa/key/<key>` (see README, "ODK Collect, KoboCollect and Enketo"):

    GET  formList[?formID=]                     the form list (text/xml; hash = md5 of the bytes served)
    GET  forms/<formID>/<version>.xml           a form version (every version ever served)
    GET  forms/<formID>/<version>/manifest      its media files (only when it has some: villages.csv)
    GET  forms/<formID>/<version>/media/<name>  a media file
    HEAD submission, GET submission             204 with X-OpenRosa-Accept-Content-Length
    POST submission                             multipart: xml_submission_file + one part per file

Every answer carries `X-OpenRosa-Version: 1.0` and `Date`; messages are an OpenRosaResponse
(Chinese first, English after), errors included: a bad or revoked key is 403 (Collect asks for a
password only on 401). The `Date` Collect sends is never read (its clock format is often wrong).

The key never reaches a log: `redact_device_keys` (installed by the factory around the WSGI app)
takes it out of PATH_INFO, RAW_URI and REQUEST_URI before anything else sees the request, so that
access logs show `/openrosa/key/-/…`; the key travels in the WSGI environ only.
"""
import re
from email.utils import formatdate
from urllib.parse import unquote
from xml.etree import ElementTree as ET

from flask import Blueprint, current_app, g, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.errors import APIError, BadRequest, NotFound, flatten_messages
from app.extensions import db
from app.schemas.inspections import AnswersSchema
from app.services.device_keys import authenticate_device_key
from app.services.openrosa import parse_instance, receive_submission, typed_answers
from app.services.xform import FORM_ID, FORM_TITLE, form_version, published_form

PREFIX = "/openrosa/key/"
MASK = "-"
ENVIRON_KEY = "openrosa.device_key"
KEY_IN_PATH = re.compile(r"^(/openrosa/key/)([^/?#]+)")
RESPONSE_NS = "http://openrosa.org/http/response"
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
XML_TYPE = "text/xml; charset=utf-8"
MAX_XML_BYTES = 2 * 1024 * 1024

bp = Blueprint("openrosa", __name__, url_prefix=PREFIX + MASK)


# --- the key stays out of logs --------------------------------------------------------------------

def redact_device_keys(wsgi_app):
    """WSGI middleware: move the key of /openrosa/key/<key>/… into the environ and mask it in every
    field a server logs (PATH_INFO, RAW_URI, REQUEST_URI)."""

    def middleware(environ, start_response):
        match = KEY_IN_PATH.match(environ.get("PATH_INFO", ""))
        if match:
            environ[ENVIRON_KEY] = unquote(match.group(2))
            for name in ("PATH_INFO", "RAW_URI", "REQUEST_URI"):
                if name in environ:
                    environ[name] = KEY_IN_PATH.sub(r"\g<1>" + MASK, environ[name], count=1)
        return wsgi_app(environ, start_response)

    return middleware


def server_url_for(key):
    base = current_app.config["OPENROSA_BASE_URL"] or request.host_url
    return base.rstrip("/") + PREFIX + key


def _base():
    return server_url_for(request.environ.get(ENVIRON_KEY, MASK))


# --- answers --------------------------------------------------------------------------------------

def _xml(root):
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def openrosa_response(status, message_zh, message_en=None, nature=None):
    root = ET.Element("OpenRosaResponse", {"xmlns": RESPONSE_NS, "items": "0"})
    text = message_zh if not message_en or message_en == message_zh else f"{message_zh}\n{message_en}"
    message = ET.SubElement(root, "message", {"nature": nature or ("submit_success" if status < 300 else "error")})
    message.text = text
    return _xml(root), status, {"Content-Type": XML_TYPE}


@bp.after_request
def _openrosa_headers(response):
    response.headers["X-OpenRosa-Version"] = "1.0"
    response.headers.setdefault("Date", formatdate(usegmt=True))
    response.headers["Cache-Control"] = "no-store"
    if request.endpoint == "openrosa.submission":
        response.headers["X-OpenRosa-Accept-Content-Length"] = str(_accept_length())
    return response


def _accept_length():
    cfg = current_app.config
    limit = cfg["OPENROSA_ACCEPT_CONTENT_LENGTH"]
    return min(limit, cfg["MAX_CONTENT_LENGTH"]) if cfg.get("MAX_CONTENT_LENGTH") else limit


@bp.errorhandler(APIError)
def _api_error(error):
    db.session.rollback()
    response = openrosa_response(error.status, error.message_zh, error.message)
    return response[0], response[1], {**response[2], **error.headers}


@bp.errorhandler(HTTPException)
def _http_error(error):
    db.session.rollback()
    status = error.code or 500
    if status == 413:
        return openrosa_response(413, "请求内容过大。", f"The request is larger than {current_app.config.get('MAX_CONTENT_LENGTH')} bytes.")
    if status == 405:
        return openrosa_response(405, "不支持此请求方法。", "This method is not allowed here.")
    return openrosa_response(status, "请求有误。", error.description or error.name)


@bp.errorhandler(Exception)
def _unexpected(error):
    db.session.rollback()
    current_app.logger.exception("unhandled error in an OpenRosa request", exc_info=error)
    return openrosa_response(500, "服务器内部错误，请稍后重试。", "Something went wrong on our side; try again later.")


@bp.before_request
def _device_key():
    row = authenticate_device_key(request.environ.get(ENVIRON_KEY))
    g.device_key, g.user = row, row.user


# --- forms ----------------------------------------------------------------------------------------

def _form_urls(row):
    base = f"{_base()}/forms/{row.form_id}/{row.version}"
    return f"{base}.xml", f"{base}/manifest", f"{base}/media/"


@bp.get("/formList")
def form_list():
    wanted = request.args.get("formID")
    root = ET.Element("xforms", {"xmlns": XFORMS_LIST_NS})
    row = published_form(g.user.scope_code) if wanted in (None, "", FORM_ID) else None
    db.session.commit()
    if row is not None:
        download, manifest, _ = _form_urls(row)
        xform = ET.SubElement(root, "xform")
        for name, value in (("formID", row.form_id), ("name", FORM_TITLE), ("version", row.version),
                            ("hash", f"md5:{row.md5}"),
                            ("descriptionText", "农村人居环境巡查：垃圾、污水、村容村貌、自来水"),
                            ("downloadUrl", download)):
            ET.SubElement(xform, name).text = value
        if row.media:
            ET.SubElement(xform, "manifestUrl").text = manifest
    return _xml(root), 200, {"Content-Type": XML_TYPE}


def _version_or_404(form_id, version):
    row = form_version(form_id, version)
    if row is None or row.scope_code != g.user.scope_code:
        raise NotFound(f"Form {form_id} version {version} not found.", message_zh="未找到该表单版本。")
    return row


@bp.get("/forms/<string:form_id>/<string:version>.xml")
def form_download(form_id, version):
    row = _version_or_404(form_id, version)
    return row.xml.encode("utf-8"), 200, {"Content-Type": XML_TYPE,
                                          "Content-Disposition": f'attachment; filename="{form_id}.xml"'}


@bp.get("/forms/<string:form_id>/<string:version>/manifest")
def form_manifest(form_id, version):
    row = _version_or_404(form_id, version)
    if not row.media:
        raise NotFound("This form version has no media files.", message_zh="该表单版本没有媒体文件。")
    _, _, media_base = _form_urls(row)
    root = ET.Element("manifest", {"xmlns": MANIFEST_NS})
    for name, media in sorted(row.media.items()):
        entry = ET.SubElement(root, "mediaFile")
        ET.SubElement(entry, "filename").text = name
        ET.SubElement(entry, "hash").text = f"md5:{media['md5']}"
        ET.SubElement(entry, "downloadUrl").text = media_base + name
    return _xml(root), 200, {"Content-Type": XML_TYPE}


@bp.get("/forms/<string:form_id>/<string:version>/media/<string:filename>")
def form_media(form_id, version, filename):
    row = _version_or_404(form_id, version)
    media = row.media.get(filename)
    if media is None:
        raise NotFound(f"No media file {filename}.", message_zh="未找到该媒体文件。")
    return media["content"].encode("utf-8"), 200, {"Content-Type": "text/csv; charset=utf-8"}


# --- submissions ----------------------------------------------------------------------------------

def validate_answers(typed):
    """({aspect: answer} that the JSON API's schema accepts, {aspect: {"values", "errors"}} that it
    refuses). Each aspect is checked on its own, so one impossible count loses only its aspect."""
    schema = AnswersSchema()
    answers, problems = {}, {}
    for aspect, values in typed.items():
        try:
            answers[aspect] = schema.load({aspect: values})[aspect]
        except ValidationError as err:
            problems[aspect] = {"values": values, "errors": flatten_messages(err.messages)}
    return answers, problems


def _request_files():
    """({part name or file name: FileStorage}, the XML bytes)."""
    files, xml_bytes = {}, None
    for name, storage in request.files.items(multi=True):
        if name == "xml_submission_file":
            xml_bytes = storage.stream.read(MAX_XML_BYTES + 1)
            continue
        files.setdefault(name, storage)
        if storage.filename:
            files.setdefault(storage.filename, storage)
    if xml_bytes is None and "xml_submission_file" in request.form:
        xml_bytes = request.form["xml_submission_file"].encode("utf-8")
    if not xml_bytes:
        raise BadRequest("Send the form as the multipart part xml_submission_file.",
                         message_zh="缺少表单数据（xml_submission_file）。")
    if len(xml_bytes) > MAX_XML_BYTES:
        raise BadRequest("The submission XML is too large.", message_zh="表单数据（XML）过大。")
    return files, xml_bytes


@bp.route("/submission", methods=["GET", "POST"], endpoint="submission")
def submission():
    if request.method != "POST":  # HEAD (and GET): Collect checks for 204 before it sends
        return "", 204
    files, xml_bytes = _request_files()
    instance = parse_instance(xml_bytes)
    answers, problems = validate_answers(typed_answers(instance))
    receipt = receive_submission(g.user, g.device_key, instance, answers, problems, xml_bytes, files)
    db.session.commit()
    message_zh, message_en = receipt.message
    return openrosa_response(201, message_zh, message_en)
