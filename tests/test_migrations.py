"""The schema built by the Alembic migrations is exactly the one the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.database import include_object
from app.extensions import db


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_spatial_indexes_exist(app, engine_name):
    with app.app_context(), db.engine.connect() as conn:
        if engine_name == "sqlite":
            rows = conn.exec_driver_sql(
                "SELECT f_table_name, f_geometry_column FROM geometry_columns WHERE spatial_index_enabled = 1"
            ).all()
        else:
            rows = conn.exec_driver_sql(
                "SELECT tablename, indexname FROM pg_indexes WHERE strpos(indexdef, 'USING gist') > 0"
            ).all()
    names = {tuple(r) for r in rows}
    assert any("divisions" in r[0] and "boundary" in r[1] for r in names)
    assert any("divisions" in r[0] and "point" in r[1] for r in names)
