"""Rules for JSON and text input, enforced in one place for every request.

Python's JSON parser and drivers fail on input a schema never sees: nesting thousands deep
(RecursionError), an integer of more than 4300 digits (ValueError), a lone surrogate such as
"\\ud800" (UnicodeEncodeError in the database driver), NUL (stored by SQLite, refused by PostgreSQL).
Each of those once answered 500, or answered differently on the two engines. Here:

- `parse_json` reads JSON text under the rules: at most MAX_JSON_DEPTH levels of arrays and objects
  (deeper: 400), number literals of at most MAX_JSON_NUMBER_CHARS characters and finite (longer,
  1e999, NaN, Infinity: 422 naming the field), and text — values and keys — without NUL or unpaired
  surrogates (422 naming the field). Paired surrogate escapes ("\\ud83d\\ude00") are one character
  and welcome.
- `check_request_input` (before_request, after authentication and after the body has been read)
  applies it to every JSON body — so webargs and `request.get_json()` only ever parse text that
  has passed — and refuses NUL in query strings and path segments (422). Bytes that are not UTF-8
  answer 400; in a URL they are decoded with replacement characters and are harmless.
- `InputRequest` limits a JSON body to MAX_JSON_BYTES (413), before it is read, and makes
  `request.get_json()` parse under the same rules.

The multipart `inspection` part goes through `parse_json` too (app/api/parsing.py).
"""
import json
import math
import re

from flask import Request, current_app, request

from app.errors import BadRequest, ValidationFailed

BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
TEXT_RULE = "Text must not contain NUL characters (U+0000) or unpaired surrogates (U+D800 to U+DFFF)."
TEXT_RULE_ZH = "文本不能包含空字符（U+0000）或不成对的代理字符。"


class _Refused:
    """A number the rules refuse, kept in place while parsing so the field can be named."""

    def __init__(self, reason):
        self.reason = reason


def _number_parsers(max_chars):
    def parse_int(literal):
        if len(literal) > max_chars:
            return _Refused(f"A number may have at most {max_chars} characters.")
        return int(literal)

    def parse_float(literal):
        if len(literal) > max_chars:
            return _Refused(f"A number may have at most {max_chars} characters.")
        value = float(literal)
        return value if math.isfinite(value) else _Refused("The number is out of range.")

    def parse_constant(name):
        return _Refused(f"{name} is not a JSON number.")

    return {"parse_int": parse_int, "parse_float": parse_float, "parse_constant": parse_constant}


def _too_deep(limit):
    return BadRequest(f"The JSON is nested deeper than {limit} levels.", message_zh=f"JSON 嵌套超过 {limit} 层。")


def _name(path):
    return ".".join(BAD_TEXT.sub("\ufffd", str(part)) for part in path) or "_schema"


def parse_json(text, prefix=()):
    """The value of JSON `text` (str or UTF-8 bytes) under the input rules; raises BadRequest (400:
    not JSON, not UTF-8, nested too deep) or ValidationFailed (422, per field: numbers, text).
    `prefix` names the fields of a JSON part inside a larger request (e.g. ("inspection",))."""
    config = current_app.config
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("The body is not UTF-8 text.", message_zh="请求内容不是 UTF-8 文本。") from None
    try:
        value = json.loads(text, **_number_parsers(config["MAX_JSON_NUMBER_CHARS"]))
    except RecursionError:
        raise _too_deep(config["MAX_JSON_DEPTH"]) from None
    except ValueError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}", message_zh="请求内容不是有效的 JSON。") from None
    problems = _problems(value, config["MAX_JSON_DEPTH"], tuple(prefix))
    if problems:
        raise ValidationFailed.for_fields(problems)
    return value


def _problems(value, max_depth, prefix):
    """{field: [message]} for every refused number and bad text in `value`; raises when too deep.
    Iterative, so no depth can exhaust the stack."""
    problems = {}
    stack = [(value, prefix, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            if depth > max_depth:
                raise _too_deep(max_depth)
            if isinstance(item, dict):
                for key, child in item.items():
                    if BAD_TEXT.search(key):
                        problems.setdefault(_name(path + (key,)), []).append(TEXT_RULE)
                    stack.append((child, path + (key,), depth))
            else:
                stack.extend((child, path + (index,), depth) for index, child in enumerate(item))
        elif isinstance(item, str):
            if BAD_TEXT.search(item):
                problems.setdefault(_name(path), []).append(TEXT_RULE)
        elif isinstance(item, _Refused):
            problems.setdefault(_name(path), []).append(item.reason)
    return problems


def check_request_input():
    """before_request: NUL in the query string or a path segment is 422; a JSON body is parsed once
    under the rules, so every later parser (webargs, get_json) reads text that has passed."""
    problems = {}
    for name, value in request.args.items(multi=True):
        if BAD_TEXT.search(name) or BAD_TEXT.search(value):
            problems[_name((name,))] = [TEXT_RULE]
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and BAD_TEXT.search(value):
            problems[name] = [TEXT_RULE]
    if problems:
        raise ValidationFailed.for_fields(problems, message_zh=TEXT_RULE_ZH)
    if request.is_json:
        body = request.get_data(cache=True)
        if body.strip():
            parse_json(body)


class _RulesJSON:
    """The JSON module of InputRequest: `request.get_json()` parses under the rules."""

    @staticmethod
    def loads(s, **kwargs):
        return parse_json(s)


class InputRequest(Request):
    """`get_json()` parses under the rules (its refusals are 400/422 API errors, silent or not); a
    JSON body is limited to MAX_JSON_BYTES (413 before it is read), other bodies to
    MAX_CONTENT_LENGTH as before."""

    json_module = _RulesJSON

    @property
    def max_content_length(self):
        limit = Request.max_content_length.fget(self)
        if self._max_content_length is None and current_app and self.is_json:
            json_limit = current_app.config["MAX_JSON_BYTES"]
            limit = json_limit if limit is None else min(limit, json_limit)
        return limit

    @max_content_length.setter
    def max_content_length(self, value):
        self._max_content_length = value
