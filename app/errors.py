"""Domain exceptions and the one JSON error shape.

Every failure answers::

    {"error": {"status": 404, "code": "not_found", "message": "...", "message_zh": "...",
               "fields": {"location.lat": ["..."]}, "details": {...}}}

`code` is stable and machine-readable (a phone app translates it); `fields` appears for
validation errors, `details` where the error carries facts (e.g. the stored id of a duplicate).
"""
import logging
import re

import marshmallow as ma
from flask import current_app, jsonify
from sqlalchemy.exc import DataError, StatementError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Generic wording per code; a raise may give a more specific message.
MESSAGES = {
    "bad_request": ("The request could not be understood.", "请求格式有误。"),
    "validation_error": ("Some fields are invalid.", "部分字段填写有误。"),
    "unauthorized": ("Log in first.", "请先登录。"),
    "invalid_credentials": ("Wrong username or password.", "用户名或密码错误。"),
    "token_expired": ("Your login has expired; log in again.", "登录已过期，请重新登录。"),
    "forbidden": ("Your role may not do this.", "您的角色无权执行此操作。"),
    "not_found": ("Not found.", "未找到。"),
    "method_not_allowed": ("This method is not allowed here.", "不支持此请求方法。"),
    "conflict": ("The request conflicts with the stored data.", "请求与已保存的数据冲突。"),
    "version_conflict": ("Someone changed this first; reload and try again.", "数据已被他人修改，请刷新后重试。"),
    "duplicate_conflict": (
        "An inspection with this client_uuid exists with different content.",
        "相同 client_uuid 的巡查记录已存在且内容不同。",
    ),
    "invalid_transition": ("This step is not allowed in the current status.", "当前状态下不能执行此操作。"),
    "payload_too_large": ("The request is too large.", "请求内容过大。"),
    "photo_too_large": ("The photo is too large.", "照片过大。"),
    "unsupported_media_type": ("This file type is not accepted.", "不支持此文件类型。"),
    "unprocessable_photo": ("The photo could not be read.", "照片无法读取。"),
    "rate_limited": ("Too many attempts; wait and try again.", "尝试次数过多，请稍后再试。"),
    "service_unavailable": ("The service is unavailable; try again later.", "服务暂不可用，请稍后再试。"),
    "internal_error": ("Something went wrong on our side.", "服务器内部错误。"),
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


class APIError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message=None, *, message_zh=None, fields=None, details=None, headers=None, code=None):
        self.code = code or self.code
        default_en, default_zh = MESSAGES.get(self.code, (None, None))
        self.message = message or default_en or self.code
        self.message_zh = message_zh or default_zh or self.message
        self.fields = fields
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(APIError):
    status, code = 400, "bad_request"


class Unauthorized(APIError):
    status, code = 401, "unauthorized"


class Forbidden(APIError):
    status, code = 403, "forbidden"


class NotFound(APIError):
    status, code = 404, "not_found"


class Conflict(APIError):
    status, code = 409, "conflict"


class VersionConflict(APIError):
    status, code = 409, "version_conflict"


class DuplicateConflict(APIError):
    status, code = 409, "duplicate_conflict"


class InvalidTransition(APIError):
    status, code = 409, "invalid_transition"


class PhotoTooLarge(APIError):
    status, code = 413, "photo_too_large"


class UnsupportedMediaType(APIError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(APIError):
    status, code = 422, "validation_error"

    @classmethod
    def for_fields(cls, messages, **kwargs):
        """A 422 naming every invalid field: `messages` as marshmallow gives them (nested) or
        already flat ({"location.lat": ["..."]})."""
        fields = flatten_messages(messages)
        return cls(invalid_fields_message(fields), fields=fields, **kwargs)


class UnprocessablePhoto(APIError):
    status, code = 422, "unprocessable_photo"


class RateLimited(APIError):
    status, code = 429, "rate_limited"

    def __init__(self, message=None, *, retry_after=None, **kw):
        super().__init__(message, **kw)
        if retry_after is not None:
            self.headers["Retry-After"] = str(int(retry_after))
            self.details = {**(self.details or {}), "retry_after": int(retry_after)}


class ServiceUnavailable(APIError):
    status, code = 503, "service_unavailable"


class ErrorBodySchema(ma.Schema):
    status = ma.fields.Integer(metadata={"description": "HTTP status"})
    code = ma.fields.String(metadata={"description": "stable machine-readable code, e.g. validation_error"})
    message = ma.fields.String(metadata={"description": "English message"})
    message_zh = ma.fields.String(metadata={"description": "Chinese message"})
    field_messages = ma.fields.Dict(data_key="fields", metadata={"description": "per-field messages"})
    field_messages_zh = ma.fields.Dict(data_key="fields_zh", metadata={
        "description": "the same per-field messages in Chinese (marshmallow's and ours, translated by "
                       "app/errors.py FIELD_MESSAGES_ZH); present whenever `fields` is"})
    details = ma.fields.Dict(metadata={"description": "facts about the error, e.g. the stored id"})


class ErrorSchema(ma.Schema):
    """The one error shape (documented in OpenAPI for every error response)."""

    error = ma.fields.Nested(ErrorBodySchema)


def flatten_messages(messages, prefix=""):
    """webargs/marshmallow nested messages -> {"a.b": ["msg"]}; the location (json, query) is dropped."""
    out = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if not prefix and key in ("json", "query", "form", "files", "headers", "path", "view_args"):
                out.update(flatten_messages(value, ""))
                continue
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_messages(value, name))
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            out[prefix or "_schema"] = list(messages)
        else:
            for item in messages:
                out.update(flatten_messages(item, prefix))
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


# Per-field messages in Chinese: marshmallow's default messages (fields and validators) and the
# app's own, as full-match patterns; {1}, {2} are the pattern's groups. One table, applied where
# every error body is made (error_response), so no message reaches a phone in English only.
_COMPARE = r"(greater than or equal to|greater than|less than or equal to|less than) (\S+?)"
_COMPARE_ZH = {"greater than or equal to": "不能小于", "greater than": "须大于",
               "less than or equal to": "不能大于", "less than": "须小于"}
FIELD_MESSAGES_ZH = [
    # marshmallow fields
    (r"Missing data for required field\.", "必填项，不能为空。"),
    (r"Field may not be null\.", "不能为空值。"),
    (r"Invalid value\.", "取值无效。"),
    (r"Invalid (input )?type\.", "数据类型不正确。"),
    (r"Unknown field\.", "不认识的字段。"),
    (r"Not a valid list\.", "应为列表。"),
    (r"Not a valid tuple\.", "应为列表。"),
    (r"Not a valid string\.", "应为文字。"),
    (r"Not a valid utf-8 string\.", "文字编码不是 UTF-8。"),
    (r"Not a valid UUID\.", "不是有效的 UUID。"),
    (r"Not a valid number\.", "应为数字。"),
    (r"Number too large\.", "数字过大。"),
    (r"Not a valid integer\.", "应为整数。"),
    (r"Special numeric values \(nan or infinity\) are not permitted\.", "不能是 NaN 或无穷大。"),
    (r"Not a valid boolean\.", "应为“是”或“否”（true / false）。"),
    (r"Not a valid aware datetime\.", "时间须带时区（如 2026-11-05T10:15:00+08:00）。"),
    (r"Not a valid naive datetime\.", "时间不能带时区。"),
    (r"Not a valid datetime\.", "不是有效的时间（ISO 8601，如 2026-11-05T10:15:00+08:00）。"),
    (r"Not a valid date\.", "不是有效的日期（如 2026-11-05）。"),
    (r"Not a valid time\.", "不是有效的时刻。"),
    (r"Not a valid period of time\.", "不是有效的时长。"),
    (r"Not a valid mapping type\.", "应为对象（键值对）。"),
    (r"Not a valid URL\.", "不是有效的网址。"),
    (r"Not a valid email address\.", "不是有效的电子邮箱。"),
    (r"Invalid JSON body\.", "请求内容不是有效的 JSON。"),
    # marshmallow validators
    (r"Must be greater than or equal to (\S+?) and less than or equal to (\S+?)\.", "须在 {1} 到 {2} 之间。"),
    (rf"Must be {_COMPARE} and {_COMPARE}\.", "{1} {2}，且{3} {4}。"),
    (rf"Must be {_COMPARE}\.", "{1} {2}。"),
    (r"Shorter than minimum length (\d+)\.", "长度不能少于 {1}。"),
    (r"Longer than maximum length (\d+)\.", "长度不能超过 {1}。"),
    (r"Length must be between (\d+) and (\d+)\.", "长度须在 {1} 到 {2} 之间。"),
    (r"Length must be (\d+)\.", "长度须为 {1}。"),
    (r"String does not match expected pattern\.", "格式不正确。"),
    (r"Invalid input\.", "输入无效。"),
    (r"Must be one of: (.*)\.", "须为以下之一：{1}。"),
    (r"Must be equal to (.*)\.", "须等于 {1}。"),
    (r"One or more of the choices you made was not in: (.*)\.", "有选项不在以下范围内：{1}。"),
    # the app's own
    (r"is in the future \(check the phone's clock\)", "时间晚于服务器时间，请检查手机时间。"),
    (r"is more than (\d+) days ago", "时间早于 {1} 天前，不能提交。"),
    (r"photos given for an aspect that is not answered", "未填报的项目不能附照片。"),
    (r"a photo is listed twice", "同一张照片列了两次。"),
    (r"at least one photo is required for an answered aspect", "填报的项目至少需要一张照片。"),
    (r"unknown photo (\S+) \(upload it first with POST /api/v1/photos\)", "找不到照片 {1}，请先上传照片。"),
    (r"must not exceed (\w+)", "不能超过“{item:1}”。"),
    (r"answer at least one aspect", "请至少填报一项。"),
    (r"A division code: 2 to 12 digits\.", "行政区划代码应为 2 到 12 位数字。"),
    (r"A 12-digit village code\.", "村代码应为 12 位数字。"),
    (r"Use a year \(2026\), a quarter \(2026-Q3\) or a month \(2026-09\)\.",
     "期间应为年（2026）、季度（2026-Q3）或月（2026-09）。"),
    (r"The year must be between (\d+) and (\d+)\.", "年份须在 {1} 到 {2} 之间。"),
    (r"Required when the decision is (\w+)\.", "不通过或退回时必须填写意见。"),
    (r"Between (\d+) and (\d+) characters\.", "须为 {1} 到 {2} 个字。"),
    (r"Give between (\d+) and (\d+) ids\.", "须给出 {1} 到 {2} 个编号。"),
    (r"Missing the JSON part 'inspection'\.", "缺少 inspection 部分（JSON）。"),
    (r"Not valid JSON\.", "不是有效的 JSON。"),
    (r"unknown part; photo parts are (.*)", "不认识的上传部分；照片部分应为 {1}。"),
    (r"must have at least (\d+) characters", "至少 {1} 个字符。"),
    (r"'to' is before 'from'\.", "结束早于开始。"),
    (r"A trend holds at most (\d+) periods\.", "趋势最多 {1} 个期间。"),
    (r"A target is a fraction between 0 and 1\.", "目标值须在 0 到 1 之间。"),
    (r"(?:Use|must be) one of:? (.*?)\.?", "须为以下之一：{1}。"),
]
_FIELD_PATTERNS = [(re.compile(pattern), zh) for pattern, zh in FIELD_MESSAGES_ZH]
FALLBACK_ZH = "填写有误：{message}"


def translate_field_message(message):
    """One per-field message in Chinese: from FIELD_MESSAGES_ZH, else the fallback with the original."""
    for pattern, zh in _FIELD_PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            groups = [_COMPARE_ZH.get(g, g) for g in match.groups(default="")]
            zh = re.sub(r"\{item:(\d)\}", lambda m: _item_label_zh(groups[int(m[1]) - 1]), zh)
            return re.sub(r"\{(\d)\}", lambda m: groups[int(m[1]) - 1], zh)
    return FALLBACK_ZH.format(message=message)


# Words for the fields a message names ({item:n}), e.g. the checklist items' Chinese labels:
# filled by the schemas that know them (app/schemas/inspections.py), read here.
FIELD_WORDS_ZH = {}


def _item_label_zh(key):
    """A field's Chinese words (its key when unknown)."""
    return FIELD_WORDS_ZH.get(key, key)


def translate_fields(fields):
    """{"field": ["English", ...]} -> {"field": ["中文", ...]}."""
    return {name: [translate_field_message(str(m)) for m in messages] for name, messages in fields.items()}


def invalid_fields_message(fields):
    return "Some fields are invalid: " + ", ".join(sorted(fields))


def error_response(status, code, message=None, message_zh=None, fields=None, details=None, headers=None):
    default_en, default_zh = MESSAGES.get(code, (None, None))
    body = {
        "status": status,
        "code": code,
        "message": message or default_en or code,
        # a code without a Chinese wording of its own still answers in Chinese
        "message_zh": message_zh or default_zh or f"请求未能完成（{code}）。",
    }
    if fields:
        body["fields"] = fields
        body["fields_zh"] = translate_fields(fields)
    if details:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _rollback():
    try:
        current_app.extensions["sqlalchemy"].session.rollback()
    except Exception:  # pragma: no cover - a broken connection must not hide the error
        log.exception("rollback failed while rendering an error")


def render_api_error(error):
    _rollback()
    return error_response(error.status, error.code, error.message, error.message_zh, error.fields, error.details, error.headers)


def render_http_exception(error):
    _rollback()
    status = error.code or 500
    code = HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    data = getattr(error, "data", None) or {}
    fields = None
    message = data.get("message")
    if "messages" in data or "errors" in data:
        fields = flatten_messages(data.get("errors") or data.get("messages"))
        if status == 422:
            message = message or invalid_fields_message(fields)
        else:  # e.g. a body that is not JSON at all
            message = message or "; ".join(m for msgs in fields.values() for m in msgs)
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = f"The request is larger than {limit} bytes."
    headers = dict(data.get("headers") or {})
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(status, code, message, None, fields, None, headers)


def render_out_of_range(error):
    """A value that passed its schema but does not fit a date or a database column."""
    _rollback()
    return error_response(422, "validation_error", "A value is out of range.", "数值超出允许范围。")


def render_data_error(error):
    """The database refused a value: the client's 422, but logged with the statement, since a
    schema should have caught it first. The values are left out (they may hold personal data), and so
    is the database's message, which quotes them."""
    log.error("the database refused a value (%s, SQLSTATE %s); statement: %s", type(error.orig).__name__,
              getattr(error.orig, "sqlstate", None), error.statement)
    return render_out_of_range(error)


def render_statement_error(error):
    """A bind value that could not be converted (e.g. a date beyond what a column holds) is the
    client's; anything else is ours."""
    if isinstance(error.orig, (OverflowError, ValueError)):
        return render_out_of_range(error)
    return render_unexpected(error)


def render_unexpected(error):
    _rollback()
    log.exception("unhandled error", exc_info=error)
    return error_response(500, "internal_error")


def _retry_after():
    return int(current_app.config.get("SERVICE_RETRY_AFTER_SECONDS", 5))


def render_service_unavailable(error):
    """Every 503 tells the client when to try again (a phone's outbox waits that long)."""
    if "Retry-After" not in error.headers:
        error.headers["Retry-After"] = str(_retry_after())
        error.details = {**(error.details or {}), "retry_after": _retry_after()}
    return render_api_error(error)


# SQLite's primary result codes that mean "not now" rather than a faulty statement (no such column, ...)
SQLITE_UNAVAILABLE = {5: "SQLITE_BUSY", 6: "SQLITE_LOCKED", 10: "SQLITE_IOERR", 13: "SQLITE_FULL",
                      14: "SQLITE_CANTOPEN", 15: "SQLITE_PROTOCOL"}


def render_database_unavailable(error):
    """The database is down, unreachable, frozen past a timeout, or (SQLite) locked past the busy
    timeout: 503 with Retry-After, never a 500 — the request may simply be sent again."""
    sqlite_code = getattr(getattr(error, "orig", None), "sqlite_errorcode", None)
    if sqlite_code is not None and sqlite_code & 0xFF not in SQLITE_UNAVAILABLE:
        return render_unexpected(error)  # a statement SQLite cannot run is our bug, not an outage
    try:
        current_app.extensions["sqlalchemy"].session.rollback()
    except Exception:  # the connection is gone: the pool replaces it on the next checkout
        log.warning("rollback failed on an unavailable database")
    log.warning("database unavailable: %s: %s", error.__class__.__name__, str(getattr(error, "orig", error)).strip())
    retry = _retry_after()
    return error_response(503, "service_unavailable", "The database is unavailable; try again shortly.",
                          "数据库暂不可用，请稍后再试。", details={"retry_after": retry},
                          headers={"Retry-After": str(retry)})


def render_dbapi_error(error):
    """A lost connection is the database's unavailability; any other driver error keeps its handling."""
    if error.connection_invalidated:
        return render_database_unavailable(error)
    return render_statement_error(error)


def render_request_too_large(error):
    """413 naming the limit that was passed: the whole request (MAX_CONTENT_LENGTH), a JSON body
    (MAX_JSON_BYTES), or a multipart form's parts (MAX_FORM_PARTS) or text part (MAX_FORM_MEMORY_SIZE)."""
    from flask import request

    _rollback()
    config, length = current_app.config, request.content_length
    whole = config.get("MAX_CONTENT_LENGTH")
    if request.is_json and (length is None or whole is None or length <= whole):
        limit = config["MAX_JSON_BYTES"]
        return error_response(413, "payload_too_large", f"The JSON body is larger than {limit} bytes.",
                              f"JSON 请求内容超过 {limit} 字节。", details={"max_bytes": limit})
    if request.mimetype == "multipart/form-data" and length is not None and (whole is None or length <= whole):
        parts, text = config["MAX_FORM_PARTS"], config["MAX_FORM_MEMORY_SIZE"]
        return error_response(
            413, "payload_too_large", f"The form has more than {parts} parts, or a text part larger than {text} bytes.",
            f"表单超过 {parts} 个部分，或文本部分超过 {text} 字节。",
            details={"max_parts": parts, "max_text_part_bytes": text})
    return render_http_exception(error)


def install_error_handlers(app):
    app.register_error_handler(APIError, render_api_error)
    app.register_error_handler(ServiceUnavailable, render_service_unavailable)
    app.register_error_handler(OperationalError, render_database_unavailable)
    app.register_error_handler(InterfaceError, render_database_unavailable)
    app.register_error_handler(PoolTimeoutError, render_database_unavailable)
    app.register_error_handler(DBAPIError, render_dbapi_error)
    app.register_error_handler(HTTPException, render_http_exception)
    app.register_error_handler(413, render_request_too_large)
    app.register_error_handler(OverflowError, render_out_of_range)
    app.register_error_handler(DataError, render_data_error)
    app.register_error_handler(StatementError, render_statement_error)
    app.register_error_handler(Exception, render_unexpected)
