"""Targets as answered to the targets screen: each stored row with its division's name, who set it
and when (GET and PUT /api/v1/targets)."""
from marshmallow import Schema, fields

from app.schemas.rates import TargetSchema, TargetsSchema


class TargetSetterSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String(allow_none=True)


class TargetAnswerSchema(TargetSchema):
    division_name = fields.String(allow_none=True, metadata={"description": "the override's division"})
    set_at = fields.DateTime(metadata={"description": "when the value was last set"})
    set_by = fields.Nested(TargetSetterSchema, allow_none=True,
                           metadata={"description": "who set it (null once that account is gone)"})


class TargetsAnswerSchema(TargetsSchema):
    stored = fields.List(fields.Nested(TargetAnswerSchema))
