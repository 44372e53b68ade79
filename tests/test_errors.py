"""The one error path: a value the database refuses is answered as the client's 422 and logged
with the statement, so that a missing schema rule is seen by whoever runs the service."""
import logging

import pytest
from sqlalchemy import text

from app import create_app
from app.errors import ValidationFailed
from app.extensions import db


@pytest.fixture
def refusing_app(app, tmp_path):
    """The test database behind a fresh app with one extra route whose SQL the database refuses."""
    fresh = create_app("testing", DATABASE_URL=app.config["DATABASE_URL"], PHOTO_ROOT=str(tmp_path))

    @fresh.get("/refused")
    def refused():
        db.session.execute(text("SELECT CAST(:value AS integer) AS refused_value"), {"value": "not a number"})
        return {"ok": True}

    yield fresh
    with fresh.app_context():
        db.engine.dispose()


def test_a_value_the_database_refuses_is_a_logged_422(refusing_app, engine_name, caplog):
    if engine_name != "postgresql":
        pytest.skip("SQLite converts any text to an integer without complaint")
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        response = refusing_app.test_client().get("/refused")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"
    logged = [r.getMessage() for r in caplog.records if r.name == "app.errors"]
    assert len(logged) == 1
    assert "SELECT CAST(%(value)s AS integer) AS refused_value" in logged[0]
    assert "not a number" not in logged[0]  # the statement, never the values


def test_for_fields_names_every_invalid_field_flat():
    error = ValidationFailed.for_fields({"location": {"lat": ["Too big."]}, "village": ["Missing."]})
    assert error.fields == {"location.lat": ["Too big."], "village": ["Missing."]}
    assert error.message == "Some fields are invalid: location.lat, village"
    assert error.status == 422 and error.code == "validation_error"
