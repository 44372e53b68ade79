"""The application factory, the one error shape, health and the API description."""
import io

import pytest

from app import create_app
from tests.factories import make_app


@pytest.fixture
def bare_app(tmp_path):
    """An app on an empty SQLite file, for behaviour that needs no schema."""
    app = make_app(f"sqlite:///{tmp_path / 'bare.db'}", tmp_path / "photos", MAX_CONTENT_LENGTH=1024)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    return app


def test_factory_gives_independent_apps(tmp_path):
    a = make_app(f"sqlite:///{tmp_path / 'a.db'}", tmp_path)
    b = make_app(f"sqlite:///{tmp_path / 'b.db'}", tmp_path)
    assert a is not b and a.config["SQLALCHEMY_DATABASE_URI"] != b.config["SQLALCHEMY_DATABASE_URI"]
    assert a.testing


def test_production_refuses_to_start_without_secrets(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_postgres_urls_use_psycopg3(tmp_path):
    app = make_app("postgresql://u@127.0.0.1:1/x", tmp_path)
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def assert_error_shape(response, status, code):
    assert response.status_code == status
    assert response.is_json, response.data[:200]
    body = response.json["error"]
    assert body["status"] == status and body["code"] == code
    assert body["message"] and body["message_zh"]
    return body


def test_404_from_flask_is_json(bare_app):
    assert_error_shape(bare_app.test_client().get("/api/v1/no-such-thing"), 404, "not_found")


def test_405_is_json_with_allow(bare_app):
    r = bare_app.test_client().put("/api/v1/health")
    assert_error_shape(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"]


def test_413_is_json(bare_app):
    r = bare_app.test_client().post("/api/v1/auth/token", data="x" * 4096, content_type="application/json")
    assert_error_shape(r, 413, "payload_too_large")


def test_500_is_json_without_a_traceback(bare_app):
    r = bare_app.test_client().get("/boom")
    body = assert_error_shape(r, 500, "internal_error")
    assert "secret internals" not in r.get_data(as_text=True) and "Traceback" not in str(body)


def test_body_that_is_not_json_is_400(client):
    r = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    assert_error_shape(r, 400, "bad_request")


def test_validation_error_names_fields(client):
    body = assert_error_shape(client.post("/api/v1/auth/token", json={}), 422, "validation_error")
    assert set(body["fields"]) == {"username", "password"}


def test_403_for_a_role_below_the_endpoint(client, inspector):
    # bureau-only endpoints refuse inspectors; the audit log is one (built with the review workflow)
    r = client.get("/api/v1/audit", headers=inspector.headers)
    assert_error_shape(r, 403, "forbidden")


def test_health_reports_database_and_spatial_extension(client, engine_name):
    body = client.get("/api/v1/health").json
    assert body["status"] == "ok" and body["database"] == engine_name
    assert body["spatial"]["name"] == ("spatialite" if engine_name == "sqlite" else "postgis")
    assert body["spatial"]["version"] and body["schema_revision"]


def test_health_is_503_when_the_database_is_unreachable(tmp_path):
    app = make_app("postgresql://nobody@127.0.0.1:1/nothing", tmp_path)
    assert_error_shape(app.test_client().get("/api/v1/health"), 503, "service_unavailable")


def test_openapi_document_describes_the_api(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/divisions/locate" in spec["paths"] and "/api/v1/auth/token" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    locate = spec["paths"]["/api/v1/divisions/locate"]["get"]
    assert {p["name"] for p in locate["parameters"]} >= {"lat", "lon", "crs"}


def test_docs_page_is_served_without_a_cdn(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page and "//cdn" not in page and "https://" not in page
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize("path", [
    "/api/v1/rates?division=2303&period=9999&level=county",
    "/api/v1/inspections?to=9999-12-31",
    "/api/v1/review-queue?from=0001-01-01",
    "/api/v1/inspections?page=100000000000000000000",
    "/api/v1/audit?actor=100000000000000000000",
    "/api/v1/inspections/export?format=csv&from=2026-01-01T00:00:00",
])
def test_out_of_range_or_odd_query_values_never_give_500(client, admin, path):
    r = client.get(path, headers=admin.headers)
    assert r.status_code in (200, 422), (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code == 422:
        assert r.json["error"]["code"] == "validation_error"
    else:
        assert r.get_data()  # a complete body, not a stream cut short


def test_an_inspection_id_beyond_64_bits_is_404(client, admin):
    assert_error_shape(client.get("/api/v1/inspections/100000000000000000000", headers=admin.headers), 404, "not_found")


def test_a_year_one_observed_at_is_a_validation_error(client, inspector):
    body = {"client_uuid": "1b4e28ba-2fa1-41d2-883f-0016d3cca427", "village": "230382100200",
            "observed_at": "0001-01-01T00:00:00+08:00", "location": {"lat": 45.5, "lon": 131.8, "accuracy_m": 5},
            "answers": {}}
    r = client.post("/api/v1/inspections", json=body, headers=inspector.headers)
    assert r.status_code == 422 and r.json["error"]["code"] == "validation_error"


def test_without_a_token_the_answer_is_401_before_any_argument_is_checked(client):
    r = client.get("/api/v1/rates?division=x&period=never&level=nowhere")
    assert_error_shape(r, 401, "unauthorized")
    r = client.post("/api/v1/photos", data={"file": (io.BytesIO(b"x" * 1000), "a.jpg")})
    assert_error_shape(r, 401, "unauthorized")


def test_every_api_route_is_in_the_openapi_document(client):
    import re

    spec_paths = set(client.get("/api/v1/openapi.json").json["paths"])
    routes = {re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule) for rule in client.application.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") and rule.endpoint not in ("api-docs.openapi_json", "web.api_docs")}
    assert routes - spec_paths == set()
