"""Alembic environment: the app's engine and metadata, with GeoAlchemy2's helpers so that
geometry columns and their spatial indexes are created right on PostGIS and SpatiaLite."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from geoalchemy2 import alembic_helpers

from app.database import include_object

config = context.config
# keep the app's own loggers: migrations also run inside the app (tests, `flask db upgrade`)
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
config.set_main_option("sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def process_revision_directives(context_, revision, directives):
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")
        return
    alembic_helpers.writer.process_revision_directives(context_, revision, directives)


def render_item(type_, obj, autogen_context):
    """Our UTCDateTime is a DateTime(timezone=True) in the database."""
    if type_ == "type" and obj.__class__.__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return alembic_helpers.render_item(type_, obj, autogen_context)


def configure_args(connection=None):
    return {
        "target_metadata": db.metadata,
        "include_object": include_object,
        "render_item": render_item,
        "process_revision_directives": process_revision_directives,
        "render_as_batch": connection is not None and connection.dialect.name == "sqlite",
        "compare_type": True,
    }


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **configure_args())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    with db.engine.connect() as connection:
        context.configure(connection=connection, **configure_args(connection))
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
