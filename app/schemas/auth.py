from marshmallow import Schema, fields, validate


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))


class TokenSchema(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    must_change_password = fields.Boolean(metadata={
        "description": "true: change the password (POST /api/v1/me/password) before anything else"})


class DivisionRefSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String(allow_none=True)
    role = fields.String()
    scope = fields.Nested(DivisionRefSchema)
    token_expires_at = fields.DateTime()
    must_change_password = fields.Boolean()
