"""Shapes shared by several resources: pagination and the value fields every schema uses, each
written once (division codes, periods, years, China days, comments)."""
import re
from datetime import date

from marshmallow import Schema, fields, validate

from app.domain import (
    DIVISION_CODE_PATTERN,
    MAX_COMMENT_CHARS,
    PERIOD_PATTERN,
    VILLAGE_CODE_PATTERN,
    YEAR_MAX,
    YEAR_MIN,
)
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


def _with_description(kwargs, description):
    metadata = dict(kwargs.pop("metadata", {}))
    metadata.setdefault("description", description)
    return {**kwargs, "metadata": metadata}


def division_code(**kwargs):
    """A division code of any level (2 to 12 digits): the division and its subtree."""
    return fields.String(validate=validate.Regexp(DIVISION_CODE_PATTERN, error="A division code: 2 to 12 digits."),
                         **_with_description(kwargs, "a division code (2 to 12 digits)"))


def village_code(**kwargs):
    """A 12-digit village code."""
    return fields.String(validate=validate.Regexp(VILLAGE_CODE_PATTERN, error="A 12-digit village code."),
                         **_with_description(kwargs, "a 12-digit village code"))


def _year_in_range(value):
    match = re.match(PERIOD_PATTERN, value)
    if match and not YEAR_MIN <= int(match[1]) <= YEAR_MAX:
        raise validate.ValidationError(f"The year must be between {YEAR_MIN} and {YEAR_MAX}.")


def period(**kwargs):
    """A period in China time: a year (2026), a quarter (2026-Q3) or a month (2026-09)."""
    return fields.String(
        validate=[validate.Regexp(PERIOD_PATTERN, error="Use a year (2026), a quarter (2026-Q3) or a month (2026-09)."),
                  _year_in_range],
        **_with_description(kwargs, "a year (2026), quarter (2026-Q3) or month (2026-09), China time"))


def year(**kwargs):
    return fields.Integer(validate=validate.Range(min=YEAR_MIN, max=YEAR_MAX), **kwargs)


def china_day(**kwargs):
    """A calendar day in China time, within the years the service can reason about."""
    return fields.Date(validate=validate.Range(min=date(YEAR_MIN, 1, 1), max=date(YEAR_MAX, 12, 31)), **kwargs)


def comment_text(min_length=0, **kwargs):
    """A review comment, a reopen reason or a comment in a thread."""
    return fields.String(validate=validate.Length(min=min_length, max=MAX_COMMENT_CHARS), **kwargs)


class UserRefSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String(allow_none=True)
