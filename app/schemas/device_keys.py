"""Device keys for ODK Collect / KoboCollect / Enketo, and the OpenRosa submissions still waiting
for photos."""
from marshmallow import Schema, fields, validate

from app.schemas.common import PageArgs, UserRefSchema


class DeviceKeyCreateArgs(Schema):
    user_id = fields.Integer(load_default=None, allow_none=True, strict=True, metadata={
        "description": "admins: the inspector in scope the key is for; inspectors: omit (or their own id)"})
    label = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100),
                          metadata={"description": "which phone, e.g. 张三的红米"})


class DeviceKeyListArgs(Schema):
    user_id = fields.Integer(metadata={"description": "only this user's keys"})
    active = fields.Boolean(metadata={"description": "true: not revoked; false: revoked"})


class DeviceKeySchema(Schema):
    id = fields.Integer()
    user = fields.Nested(UserRefSchema)
    label = fields.String(allow_none=True)
    created_at = fields.DateTime()
    created_by = fields.Nested(UserRefSchema, allow_none=True)
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "the last submission through it"})
    revoked_at = fields.DateTime(allow_none=True)
    active = fields.Boolean()


class DeviceKeyCreatedSchema(DeviceKeySchema):
    key = fields.String(metadata={"description": "shown once; only its hash is stored"})
    server_url = fields.String(metadata={"description": "<base>/openrosa/key/<key>: Collect's server URL"})
    settings_qr = fields.String(metadata={
        "description": "data: URL of a PNG: Collect's settings QR code (Configure with QR code)"})
    settings = fields.Dict(metadata={"description": "the settings the QR code holds (zlib + base64 JSON)"})


class DeviceKeyListSchema(Schema):
    items = fields.List(fields.Nested(DeviceKeySchema))


class WaitingArgs(PageArgs):
    pass


class WaitingVillageSchema(Schema):
    code = fields.String()
    name = fields.String()
    township_code = fields.String(allow_none=True)


class WaitingSubmissionSchema(Schema):
    instance_id = fields.String(metadata={"description": "ODK meta/instanceID"})
    deprecated_id = fields.String(allow_none=True, metadata={"description": "an edit: the instance it replaces"})
    village = fields.Nested(WaitingVillageSchema)
    inspector = fields.Nested(UserRefSchema, allow_none=True)
    observed_at = fields.DateTime(allow_none=True)
    received = fields.Integer(metadata={"description": "photos arrived"})
    expected = fields.Integer(metadata={"description": "photos the form names"})
    missing = fields.List(fields.String(), metadata={"description": "file names still to come"})
    text = fields.String(metadata={"description": "e.g. 2 of 3 photos received"})
    text_zh = fields.String(metadata={"description": "e.g. 照片 2/3 已到"})
    first_received_at = fields.DateTime()
    last_received_at = fields.DateTime()
    posts = fields.Integer(metadata={"description": "how many POSTs carried this instance"})
