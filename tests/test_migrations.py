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


def test_migration_0008_fills_the_hash_bands_of_existing_photos(database):
    import flask_migrate
    from sqlalchemy import text

    with database.app_context():
        flask_migrate.downgrade(revision="0007")
        try:
            db.session.execute(text(
                "INSERT INTO photos (id, sha256, content_type, size_bytes, width, height, exif, has_exif, phash, created_at) "
                "VALUES ('a' , :sha_a, 'image/jpeg', 1, 1, 1, '{}', false, '0123456789abcdef', CURRENT_TIMESTAMP), "
                "('b', :sha_b, 'image/jpeg', 1, 1, 1, '{}', false, NULL, CURRENT_TIMESTAMP)"),
                {"sha_a": "a" * 64, "sha_b": "b" * 64})
            db.session.commit()
        finally:
            db.session.remove()
            flask_migrate.upgrade()
        rows = db.session.execute(text("SELECT photo_id, band, value FROM photo_hash_bands ORDER BY band")).all()
    assert [tuple(r) for r in rows] == [("a", i, v) for i, v in enumerate((0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef))]
