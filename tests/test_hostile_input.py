"""Hostile JSON and text never reach a 500 and store nothing: nesting beyond MAX_JSON_DEPTH, numbers
longer than MAX_JSON_NUMBER_CHARS, NaN/Infinity, lone surrogates and NUL characters, bodies that are
not UTF-8 or larger than MAX_JSON_BYTES — in JSON bodies, the multipart `inspection` part, query
strings and path segments; every route of the OpenAPI document is probed on both engines."""
import io
import json
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from app.extensions import db
from tests import factories
from tests.factories import VILLAGE, submission
from tests.photos import jpeg_bytes

HUGE = "9" * 5000  # past Python's 4300-digit int() limit
SURROGATE = '"a\\ud800b"'  # a lone surrogate, as a JSON escape (raw JSON text)
NUL = '"a\\u0000b"'


# --- helpers ------------------------------------------------------------------------------------

def post_raw(client, url, text, user=None, method="POST", content_type="application/json"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return client.open(url, method=method, data=data, content_type=content_type,
                       headers=user.headers if user else {})


def error_of(response):
    """The one error shape, checked; returns the error object."""
    assert response.is_json, (response.status_code, response.data[:200])
    error = response.get_json()["error"]
    assert error["status"] == response.status_code
    assert error["code"] and error["message"] and error["message_zh"]
    return error


def table_counts(app):
    with app.app_context():
        return {t.name: db.session.scalar(select(func.count()).select_from(t))
                for t in db.metadata.sorted_tables if t.name != "api_tokens"}


def nested(depth, leaf="1", kind="array"):
    return ("[" * depth + leaf + "]" * depth) if kind == "array" else ('{"a":' * depth + leaf + "}" * depth)


def inspection_text(app, **raw_fields):
    """A valid inspection (tap water only: no photo needed) as JSON text; `raw_fields` replace a
    top-level value with raw JSON text, e.g. notes=NUL."""
    body = submission(app, {}, answers={"tap_water": {"households": 100, "households_with_tap": 99}})
    placeholders = {}
    for name, text in raw_fields.items():
        placeholders[name] = f"@@{name}@@"
        body[name] = placeholders[name]
    out = json.dumps(body)
    for name, text in raw_fields.items():
        out = out.replace(json.dumps(placeholders[name]), text)
    return out


# --- nesting ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [nested(100_000), nested(5_000, kind="object"), nested(33)],
                         ids=["array-100000", "object-5000", "array-33"])
def test_deep_nesting_is_400_even_on_the_login_route(client, app, text):
    before = table_counts(app)
    r = post_raw(client, "/api/v1/auth/token", text)
    assert r.status_code == 400 and error_of(r)["code"] == "bad_request"
    assert "nested" in error_of(r)["message"]
    assert table_counts(app) == before


def test_nesting_up_to_the_limit_is_parsed(client, app):
    limit = app.config["MAX_JSON_DEPTH"]
    body = '{"username": "x", "password": %s}' % nested(limit - 1, '"p"')
    r = post_raw(client, "/api/v1/auth/token", body)
    assert r.status_code == 422 and error_of(r)["fields"] == {"password": ["Not a valid string."]}


def test_deep_nesting_in_an_inspection_is_400(client, app, inspector):
    r = post_raw(client, "/api/v1/inspections", inspection_text(app, notes=nested(50_000)), inspector)
    assert r.status_code == 400 and error_of(r)["code"] == "bad_request"


# --- numbers ------------------------------------------------------------------------------------

def test_huge_integer_in_a_json_body_is_422_naming_the_field(client, app, inspector):
    before = table_counts(app)
    r = post_raw(client, "/api/v1/auth/token", '{"username": %s, "password": "x"}' % HUGE)
    assert r.status_code == 422 and list(error_of(r)["fields"]) == ["username"]
    location = '{"lat": %s, "lon": 131.8}' % HUGE
    r = post_raw(client, "/api/v1/inspections", inspection_text(app, location=location), inspector)
    assert r.status_code == 422 and list(error_of(r)["fields"]) == ["location.lat"]
    assert table_counts(app) == before


def test_huge_integers_in_lists_and_nested_answers(client, app, reviewer, inspector):
    r = post_raw(client, "/api/v1/reviews/bulk", '{"ids": [1, %s], "decision": "approve"}' % HUGE, reviewer)
    assert r.status_code == 422 and list(error_of(r)["fields"]) == ["ids.1"]
    answers = '{"tap_water": {"households": %s, "households_with_tap": 1}}' % HUGE
    r = post_raw(client, "/api/v1/inspections", inspection_text(app, answers=answers), inspector)
    assert r.status_code == 422 and list(error_of(r)["fields"]) == ["answers.tap_water.households"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_422(client, app, inspector, literal):
    location = '{"lat": %s, "lon": 131.8}' % literal
    r = post_raw(client, "/api/v1/inspections", inspection_text(app, location=location), inspector)
    assert r.status_code == 422 and list(error_of(r)["fields"]) == ["location.lat"]


@pytest.mark.parametrize("query", [f"page={HUGE}", f"per_page={HUGE}", f"page=-{HUGE}", f"page={'9' * 4000}"])
def test_huge_integer_in_a_query_string_is_422(client, bureau, query):
    r = client.get(f"/api/v1/inspections?{query}", headers=bureau.headers)
    assert r.status_code == 422 and error_of(r)["code"] == "validation_error"


@pytest.mark.parametrize("path", [f"/api/v1/inspections/{HUGE}", f"/api/v1/inspections/{HUGE}/history",
                                  f"/api/v1/inspections/{'9' * 30}/comments"])
def test_huge_integer_in_a_path_is_404(client, bureau, path):
    r = client.get(path, headers=bureau.headers)
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"


def test_huge_integer_in_a_path_of_a_write_is_404(client, reviewer):
    r = post_raw(client, f"/api/v1/inspections/{HUGE}/review", '{"decision": "approve", "version": 1}', reviewer)
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"


# --- text: lone surrogates and NUL ----------------------------------------------------------------

@pytest.mark.parametrize("value", [SURROGATE, NUL, '"\\udc00"', '"\\ud800\\ud800"'])
def test_bad_text_in_a_username_is_422_and_no_failure_is_recorded(client, app, value):
    before = table_counts(app)
    r = post_raw(client, "/api/v1/auth/token", '{"username": %s, "password": "x"}' % value)
    error = error_of(r)
    assert r.status_code == 422 and error["code"] == "validation_error" and list(error["fields"]) == ["username"]
    assert table_counts(app) == before  # no login-throttle row for the name


@pytest.mark.parametrize("value", [SURROGATE, NUL], ids=["surrogate", "nul"])
def test_bad_text_in_notes_is_422_on_both_engines_and_nothing_is_stored(client, app, inspector, value):
    before = table_counts(app)
    r = post_raw(client, "/api/v1/inspections", inspection_text(app, notes=value), inspector)
    error = error_of(r)
    assert r.status_code == 422 and error["code"] == "validation_error"
    assert list(error["fields"]) == ["notes"] and "NUL" in error["fields"]["notes"][0]
    assert table_counts(app) == before


def test_bad_text_in_a_key_is_422(client, app, inspector):
    answers = '{"tap_water": {"households": 1, "households_with_tap": 1, "x\\ud800": 1}}'
    r = post_raw(client, "/api/v1/inspections", inspection_text(app, answers=answers), inspector)
    assert r.status_code == 422 and error_of(r)["code"] == "validation_error"
    json.dumps(r.get_json(), ensure_ascii=False).encode("utf-8")  # the answer itself is valid UTF-8


def test_bad_text_in_a_comment_is_422_and_nothing_is_stored(client, app, inspector):
    inspection = factories.create_inspection(app, inspector_id=inspector.id)
    before = table_counts(app)
    for value in (SURROGATE, NUL):
        r = post_raw(client, f"/api/v1/inspections/{inspection.id}/comments", '{"body": %s}' % value, inspector)
        assert r.status_code == 422 and list(error_of(r)["fields"]) == ["body"]
    assert table_counts(app) == before


def test_paired_surrogates_and_other_text_are_kept(client, app, inspector):
    notes = "粪污 ✓ 😀 tab\tnewline\n"
    text = inspection_text(app, notes=json.dumps(notes))  # ensure_ascii: the emoji is a surrogate pair escape
    assert "\\ud83d\\ude00" in text
    r = post_raw(client, "/api/v1/inspections", text, inspector)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["notes"] == notes


@pytest.mark.parametrize("url", ["/api/v1/divisions?q=a%00b", "/api/v1/divisions/2303%00",
                                 "/api/v1/inspections?village=2303821002%00", "/api/v1/audit?action=%00"])
def test_nul_in_a_query_or_path_is_422(client, bureau, url):
    r = client.get(url, headers=bureau.headers)
    assert r.status_code == 422 and error_of(r)["code"] == "validation_error"


def test_undecodable_bytes_in_a_query_are_harmless(client, bureau):
    r = client.get("/api/v1/divisions?q=%ED%A0%80%FF", headers=bureau.headers)
    assert r.status_code == 200


# --- bodies -------------------------------------------------------------------------------------

def test_json_that_is_not_utf8_is_400(client):
    r = post_raw(client, "/api/v1/auth/token", b'{"username": "\xff\xfe", "password": "x"}')
    assert r.status_code == 400 and error_of(r)["code"] == "bad_request"


def test_json_body_over_the_limit_is_413(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_JSON_BYTES", 1000)
    r = post_raw(client, "/api/v1/auth/token", '{"username": "%s", "password": "x"}' % ("a" * 2000))
    error = error_of(r)
    assert r.status_code == 413 and error["code"] == "payload_too_large" and "1000" in error["message"]


MULTIPART_PARTS = {
    "deep": lambda app: nested(50_000),
    "surrogate": lambda app: inspection_text(app, notes=SURROGATE),
    "nul": lambda app: inspection_text(app, notes=NUL),
    "huge": lambda app: inspection_text(app, location='{"lat": %s, "lon": 1}' % HUGE),
}


@pytest.mark.parametrize("part", sorted(MULTIPART_PARTS))
def test_hostile_multipart_inspection_part_is_refused_and_stores_no_photo(client, app, inspector, part):
    before = table_counts(app)
    r = client.post("/api/v1/inspections", headers=inspector.headers, content_type="multipart/form-data",
                    data={"inspection": MULTIPART_PARTS[part](app), "photos.garbage": (io.BytesIO(jpeg_bytes(1)), "g.jpg")})
    assert r.status_code in (400, 422) and error_of(r)["code"] in ("bad_request", "validation_error")
    assert table_counts(app) == before


# --- every route --------------------------------------------------------------------------------

SANE = {"page": "1", "per_page": "5", "division": "2303", "period": "2026", "level": "county", "lat": "45.5",
        "lon": "131.8", "year": "2026", "village": VILLAGE, "township": "230382100", "metric": "garbage_stable",
        "from": "2026-01", "to": "2026-03", "granularity": "month", "format": "csv"}
QUERY_VALUES = [HUGE, "-" + HUGE, "9" * 4000, HUGE + ".5", "1e999", "nan", "\x00", "a\x00b", "%ED%A0%80",
                "x" * 3000, "2026-13-45", "../../etc/passwd"]
PATH_VALUES = {"integer": [HUGE, "9" * 4000, "9" * 30, "0"], "string": ["%00", "a%00b", "%ED%A0%80", HUGE, "x" * 3000]}
BODY_TEXTS = [nested(100_000), nested(5_000, kind="object"), "[]", "1", '"x"', "null", "true", "NaN", "{",
              '{"a": 1,}', HUGE, "\ufeff{}", b"\xff\xfe{}", "{" + '"k": 1, ' * 2000 + '"z": 1}']
FIELD_VALUES = [HUGE, "-" + HUGE, "1e999", "-1e999", "NaN", "Infinity", SURROGATE, NUL, '"\\udfff"', nested(2_000),
                '{"\\ud800": 1}', '["\\u0000"]', '"' + "x" * 100_000 + '"', "1" + "0" * 400, "0." + "0" * 4000 + "1"]


def _resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op, op.get("parameters", []) + item.get("parameters", [])


SANE_PATH = {"inspection_id": "1", "code": "2303", "photo_id": "x", "variant": "thumb"}


def _path(path, params, **values):
    return path.format(**{p["name"]: values.get(p["name"], SANE_PATH.get(p["name"], "1"))
                          for p in params if p["in"] == "path"})


def _urls(path, params):
    """The path with each hostile value in each path parameter."""
    fill = lambda values: _path(path, params, **values)  # noqa: E731
    for p in (p for p in params if p["in"] == "path"):
        if p["name"] == "variant":
            continue
        kind = "integer" if p.get("schema", {}).get("type") == "integer" else "string"
        for value in PATH_VALUES[kind]:
            yield fill({p["name"]: value})


def _queries(params):
    query_params = [p["name"] for p in params if p["in"] == "query"]
    base = {name: SANE[name] for name in query_params if name in SANE}
    for name in query_params:
        for value in QUERY_VALUES:
            raw = value if value.startswith("%") else quote(value, safe="")
            yield "&".join([f"{k}={quote(v)}" for k, v in base.items() if k != name] + [f"{name}={raw}"])
    if len(query_params) > 1:
        yield "&".join(f"{name}={quote(HUGE)}" for name in query_params)


def _bodies(spec, op):
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return
    yield from BODY_TEXTS
    schema = _resolve(spec, content["application/json"]["schema"])
    for name in schema.get("properties", {}):
        for value in FIELD_VALUES:
            yield '{"%s": %s}' % (name, value)


def test_no_route_answers_500_to_hostile_input(app, client, make_user):
    """Every operation of the OpenAPI document, as an admin and as an inspector: hostile path and
    query values, and hostile JSON bodies (nesting, numbers, constants, bad text, wrong types)."""
    spec = client.get("/api/v1/openapi.json").get_json()
    users = [make_user("admin", "2303"), make_user("inspector", "230382100")]
    factories.create_inspection(app, inspector_id=users[1].id, status="returned")
    before = table_counts(app)
    failures, sent = [], 0

    def check(method, url, body=None, user=None):
        nonlocal sent
        sent += 1
        if body is None:
            r = client.open(url, method=method.upper(), headers=user.headers)
        else:
            r = post_raw(client, url, body, user, method=method.upper())
        label = f"{method.upper()} {url[:120]} {'' if body is None else body[:80]!r} as {user.role}"
        if r.status_code >= 500:
            failures.append(f"{r.status_code} {label}")
        elif r.status_code >= 400:
            try:
                error_of(r)
            except AssertionError as exc:
                failures.append(f"bad error shape {label}: {exc}")
        if method == "delete" and "/auth/token" in url:  # the probe logged itself out: log in again
            user.headers = {"Authorization": f"Bearer {factories.token_for(app, user.id)}"}

    for path, method, op, params in _operations(spec):
        if method == "delete" and path.endswith("/auth/token"):
            continue  # probed last, below
        for user in users:
            for url in _urls(path, params):
                check(method, url, None if method in ("get", "delete") else "{}", user)
            for query in _queries(params):
                check(method, f"{_path(path, params)}?{query}", None, user)
            for body in _bodies(spec, op):
                check(method, _path(path, params), body, user)
    assert sent > 1000
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n".join(failures[:60])
    after = table_counts(app)
    assert after == before
