"""Security headers on every answer and a production secret long enough. That the web client and
the API docs page render under the Content-Security-Policy without a violation is measured in
Chromium: tests/e2e/test_content_security_policy.py."""
import pytest

from app import create_app
from config import load_config


def policy(response):
    return dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in response.headers["Content-Security-Policy"].split(";")
    )


@pytest.mark.parametrize("path", ["/", "/api/v1/docs", "/static/client/main.js", "/api/v1/health",
                                  "/api/v1/openapi.json", "/api/v1/me", "/api/v1/no-such-thing"])
def test_every_answer_carries_the_headers(client, path):
    r = client.get(path)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "same-origin"
    csp = policy(r)
    assert csp["frame-ancestors"] == "'none'"
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'" and csp["object-src"] == "'none'"
    assert "unsafe-inline" not in csp["script-src"] and "unsafe-eval" not in r.headers["Content-Security-Policy"]
    # inline styles: attributes only (the map legend's swatches); never <style> elements
    assert csp["style-src"] == "'self'" and csp["style-src-elem"] == "'self'"
    assert csp["style-src-attr"] == "'unsafe-inline'"


def test_errors_and_uploads_carry_them_too(client, inspector):
    r = client.post("/api/v1/photos", headers=inspector.headers, data=b"junk", content_type="image/jpeg")
    assert r.status_code >= 400 and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_token_answers_are_not_stored(client, inspector):
    ok = client.post("/api/v1/auth/token", json={"username": inspector.username, "password": inspector.password})
    bad = client.post("/api/v1/auth/token", json={"username": inspector.username, "password": "wrong"})
    out = client.delete("/api/v1/auth/token", headers=inspector.headers)
    assert ok.status_code == 201 and bad.status_code == 401 and out.status_code == 204
    for r in (ok, bad, out):
        assert r.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/api/v1/health").headers.get("Cache-Control", "")


def test_https_answers_ask_for_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/api/v1/health").headers
    r = client.get("/api/v1/health", base_url="https://localhost")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_extra_image_origins_are_allowed_by_setting(tmp_path, database):
    app = create_app("testing", DATABASE_URL=database.config["SQLALCHEMY_DATABASE_URI"], PHOTO_ROOT=str(tmp_path),
                     CSP_EXTRA_IMG_SRC="https://t0.tianditu.gov.cn https://t1.tianditu.gov.cn")
    csp = policy(app.test_client().get("/"))
    assert csp["img-src"] == "'self' data: blob: https://t0.tianditu.gov.cn https://t1.tianditu.gov.cn"


# --- the production secret ------------------------------------------------------------------

@pytest.fixture
def production_env(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.invalid/rural")
    return monkeypatch


@pytest.mark.parametrize("secret", ["short", "x" * 31, "密钥" * 5])  # 密钥 × 5 is 30 bytes
def test_production_refuses_a_short_secret_key(production_env, secret):
    production_env.setenv("SECRET_KEY", secret)
    with pytest.raises(RuntimeError, match="SECRET_KEY .* at least 32 .*bytes"):
        load_config()
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_production_accepts_a_32_byte_secret_key(production_env):
    production_env.setenv("SECRET_KEY", "k" * 32)
    assert load_config().APP_ENV == "production"


def test_other_environments_take_any_secret(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "short")
    assert load_config("testing").APP_ENV == "testing"
    assert load_config("development").APP_ENV == "development"
