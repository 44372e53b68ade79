"""Shapes shared by several resources: pagination and small value types."""
from datetime import date

from marshmallow import Schema, fields, validate

from app.geo import CRS_CHOICES


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


_page_schemas = {}


def page_of(item_schema):
    """A schema for {"items": [...], "page", "per_page", "total", "pages"} of `item_schema`."""
    name = item_schema.__name__.replace("Schema", "") + "PageSchema"
    if name not in _page_schemas:
        _page_schemas[name] = type(name, (Schema,), {
            "items": fields.List(fields.Nested(item_schema)),
            "page": fields.Integer(), "per_page": fields.Integer(),
            "total": fields.Integer(), "pages": fields.Integer(),
        })
    return _page_schemas[name]


def paginated(pagination):
    """Flask-SQLAlchemy Pagination -> the page dict the page schemas dump."""
    return {"items": pagination.items, "page": pagination.page, "per_page": pagination.per_page,
            "total": pagination.total, "pages": pagination.pages}


class LatLonArgs(Schema):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    crs = fields.String(load_default="wgs84", validate=validate.OneOf(CRS_CHOICES))


class GeoJSONField(fields.Dict):
    """A GeoJSON geometry object."""


def china_day(**kwargs):
    """A calendar day in China time, within the years the service can reason about."""
    return fields.Date(validate=validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31)), **kwargs)


class UserRefSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String(allow_none=True)
