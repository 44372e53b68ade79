from marshmallow import Schema, fields, validate

from app.models import LEVELS
from app.schemas.auth import DivisionRefSchema
from app.schemas.common import GeoJSONField, LatLonArgs, PageArgs


class DivisionSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_code = fields.String(allow_none=True)
    kind = fields.String(allow_none=True, metadata={"description": "villages: rural | urban | farm"})
    households = fields.Integer(allow_none=True)
    active = fields.Boolean()


class DivisionListArgs(PageArgs):
    parent = fields.String(metadata={"description": "direct children of this code"})
    level = fields.String(validate=validate.OneOf(LEVELS))
    q = fields.String(validate=validate.Length(min=1, max=50),
                      metadata={"description": "part of the name, or the start of the code"})
    kind = fields.String()
    active = fields.Boolean(metadata={"description": "only active (true) or inactive (false) divisions"})


class DivisionUpdateArgs(Schema):
    active = fields.Boolean(required=True, metadata={
        "description": "false: the division and every division below it are inactive (out of rates, "
                       "locate, due and the ODK village list); true: active again"})


class DivisionActiveSchema(Schema):
    division = fields.Nested(DivisionSchema)
    changed = fields.Integer(metadata={"description": "divisions whose flag changed (this one and those below)"})


class DivisionDetailArgs(Schema):
    geometry = fields.Boolean(load_default=False, metadata={"description": "include GeoJSON boundary and point"})


class GeometrySchema(Schema):
    boundary = GeoJSONField(allow_none=True)
    point = GeoJSONField(allow_none=True)
    source = fields.String(allow_none=True, metadata={"description": "synthetic | import"})
    synthetic = fields.Boolean()


class DivisionDetailSchema(DivisionSchema):
    ancestors = fields.List(fields.Nested(DivisionRefSchema))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "direct children and divisions below, per level"})
    geometry = fields.Nested(GeometrySchema, allow_none=True)


class LocateArgs(LatLonArgs):
    pass


class LocatedSchema(Schema):
    village = fields.Nested(DivisionSchema)
    township = fields.Nested(DivisionRefSchema, allow_none=True)
    inside = fields.Boolean(metadata={"description": "the point lies inside the village boundary"})
    distance_m = fields.Float(metadata={"description": "0 when inside, else metres to the village point"})
    location = fields.Dict(metadata={"description": "the point in WGS-84: {lat, lon}"})
    boundary_synthetic = fields.Boolean()
