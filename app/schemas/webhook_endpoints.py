"""Shapes of the webhook endpoints an administrator keeps per division, and of a test event."""
from marshmallow import Schema, fields, validate

from app.models import WEBHOOK_EVENTS
from app.schemas.auth import DivisionRefSchema
from app.schemas.common import PageArgs, UserRefSchema, division_code
from app.schemas.reviews import DeliverySchema


def endpoint_url(**kwargs):
    return fields.Url(schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=500), metadata={
        "description": "where the events are POSTed: http:// or https:// only, at most 500 characters"}, **kwargs)


def subscribed_events(**kwargs):
    return fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)), allow_none=True,
                       validate=validate.Length(min=1), metadata={
                           "description": "the events it receives, of " + ", ".join(WEBHOOK_EVENTS)
                                          + "; null or omitted: all of them"}, **kwargs)


class EndpointListArgs(PageArgs):
    division = division_code(metadata={"description": "only endpoints of divisions in this subtree"})
    active = fields.Boolean(metadata={"description": "true: active endpoints; false: disabled ones"})


class EndpointCreateArgs(Schema):
    division_code = division_code(required=True, metadata={
        "description": "a township (or any division) in your scope: the endpoint receives the events of "
                       "the inspections in its subtree"})
    url = endpoint_url(required=True)
    events = subscribed_events(load_default=None)
    active = fields.Boolean(load_default=True)


class EndpointUpdateArgs(Schema):
    division_code = division_code(metadata={"description": "within your scope"})
    url = endpoint_url()
    events = subscribed_events()
    active = fields.Boolean(metadata={"description": "false: disable (its pending deliveries are given up); "
                                                     "true: enable again"})
    rotate_secret = fields.Boolean(load_default=False, metadata={
        "description": "true: replace the signing secret; the new one is in `secret`, shown once"})


class EndpointSchema(Schema):
    id = fields.Integer()
    division_code = fields.String()
    division = fields.Nested(DivisionRefSchema)
    url = fields.String()
    events = fields.List(fields.String(), allow_none=True, metadata={"description": "null: every event"})
    active = fields.Boolean()
    created_by = fields.Nested(UserRefSchema, allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    secret_rotated_at = fields.DateTime(allow_none=True)


class EndpointWithSecretSchema(EndpointSchema):
    secret = fields.String(attribute="new_secret", allow_none=True, metadata={
        "description": "the HMAC-SHA256 signing key, only in the answer that created or rotated it (shown "
                       "once); null otherwise"})


class PingResultSchema(Schema):
    ok = fields.Boolean(metadata={"description": "the endpoint answered 2xx"})
    status_code = fields.Integer(allow_none=True, metadata={"description": "its HTTP status; null: no answer"})
    error = fields.String(allow_none=True, metadata={"description": "e.g. HTTP 500, ConnectionRefusedError: …, "
                                                                    "TimeoutError: …"})
    duration_ms = fields.Integer()
    delivery = fields.Nested(DeliverySchema, metadata={"description": "the `ping` delivery recorded"})
