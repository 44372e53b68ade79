"""Accounts as an administrator manages them, and a user's own password change."""
from marshmallow import Schema, fields, validate

from app.models import ROLES
from app.schemas.auth import DivisionRefSchema
from app.schemas.common import PageArgs, division_code

PASSWORD = {"validate": validate.Length(min=8, max=256), "load_only": True}


class UserListArgs(PageArgs):
    role = fields.String(validate=validate.OneOf(ROLES))
    scope = division_code(metadata={"description": "only accounts whose scope lies in this division's subtree"})
    active = fields.Boolean(metadata={"description": "true: enabled accounts; false: disabled ones"})
    q = fields.String(validate=validate.Length(min=1, max=64),
                      metadata={"description": "a part of the username or display name"})


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String(allow_none=True)
    role = fields.String()
    scope_code = fields.String()
    scope = fields.Nested(DivisionRefSchema)
    active = fields.Boolean()
    must_change_password = fields.Boolean(metadata={"description": "the user must set a new password at login"})
    created_at = fields.DateTime()
    last_login_at = fields.DateTime(allow_none=True, metadata={"description": "the last successful login"})


class UserCreateArgs(Schema):
    username = fields.String(required=True, validate=validate.Regexp(
        r"^[^\s\x00-\x1f]{1,64}$", error="1 to 64 characters, no spaces"))
    password = fields.String(required=True, **PASSWORD)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    scope_code = division_code(required=True, metadata={"description": "within the administrator's own scope"})
    display_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    must_change_password = fields.Boolean(load_default=True, metadata={
        "description": "the user must replace this password at first login (default true)"})


class UserUpdateArgs(Schema):
    role = fields.String(validate=validate.OneOf(ROLES))
    scope_code = division_code(metadata={"description": "within the administrator's own scope"})
    display_name = fields.String(validate=validate.Length(max=100))
    active = fields.Boolean(metadata={"description": "false: disable (every token stops working at once); "
                                                     "true: enable again"})


class PasswordResetArgs(Schema):
    password = fields.String(load_default=None, metadata={"description": "omit to have one generated"}, **PASSWORD)
    must_change_password = fields.Boolean(load_default=True)


class PasswordResetSchema(Schema):
    user = fields.Nested(UserSchema)
    temporary_password = fields.String(allow_none=True, metadata={
        "description": "the generated password (shown once); null when the request gave one"})


class PasswordChangeArgs(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)
    new_password = fields.String(required=True, **PASSWORD)
