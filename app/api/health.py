from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from app.database import spatial_version
from app.errors import ServiceUnavailable
from app.extensions import db

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Liveness and readiness.")


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String(metadata={"description": "sqlite | postgresql"})
    spatial = fields.Dict(metadata={"description": "{name, version} of SpatiaLite or PostGIS"})
    schema_revision = fields.String(allow_none=True)


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Database reachable, spatial extension and its version, schema revision (503 when down)."""
        try:
            name, version = spatial_version(db.session)
            revision = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception as exc:
            raise ServiceUnavailable(f"database not ready: {exc.__class__.__name__}") from exc
        return {"status": "ok", "database": db.session.get_bind().dialect.name,
                "spatial": {"name": name, "version": version}, "schema_revision": revision}
