"""Shapes of "what is due": the villages not yet visited in a period."""
from marshmallow import Schema, fields

from app.schemas.common import PageArgs, division_code, period


class DueArgs(PageArgs):
    period = period(metadata={"description": "a month (2026-11; default: the current month, China time), "
                                             "a quarter or a year"})
    division = division_code(metadata={"description": "only villages in this division's subtree (in your scope)"})


class DueTownshipSchema(Schema):
    code = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class DueVillageSchema(Schema):
    code = fields.String()
    name = fields.String()
    township = fields.Nested(DueTownshipSchema)
    last_visited_at = fields.DateTime(allow_none=True, metadata={
        "description": "observed_at of the village's latest inspection by anyone, whatever its status "
                       "(null: never visited)"})
    last_status = fields.String(allow_none=True, metadata={
        "description": "that inspection's status: a returned or rejected visit in the period leaves the village due"})


class DuePageSchema(Schema):
    period = fields.String()
    counted_kinds = fields.List(fields.String(), metadata={
        "description": "the village kinds listed: those the rates count (RATES_COUNTED_KINDS)"})
    items = fields.List(fields.Nested(DueVillageSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()
