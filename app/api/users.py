"""Accounts, for administrators (within their own scope), and a user's own password change."""
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import auth_required
from app.extensions import db
from app.schemas.common import page_of, paginated
from app.schemas.users import (
    PasswordChangeArgs,
    PasswordResetArgs,
    PasswordResetSchema,
    UserCreateArgs,
    UserListArgs,
    UserSchema,
    UserUpdateArgs,
)
from app.services.users import change_own_password, create_user, get_user, reset_password, update_user, users_query

blp = Blueprint("users", __name__, url_prefix="/api/v1",
                description="Accounts (administrators, within their scope) and changing one's own password.")

ADMIN = ("admin",)


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, page_of(UserSchema))
    @auth_required(roles=ADMIN)
    def get(self, args):
        """Accounts whose scope lies in yours, by username; filter by `role`, `scope` (a subtree),
        `active` and `q` (part of the username or display name). Each says when it last logged in."""
        stmt = users_query(g.user, args.get("role"), args.get("scope"), args.get("active"), args.get("q"))
        return paginated(db.paginate(stmt, page=args["page"], per_page=args["per_page"], error_out=False))

    @blp.arguments(UserCreateArgs)
    @blp.response(201, UserSchema)
    @auth_required(roles=ADMIN)
    def post(self, args):
        """Create an account with a role and a scope within yours (a scope outside it is 404). By
        default the user must replace the password at first login. A taken username is 409."""
        user = create_user(args["username"], args["role"], args["scope_code"], args["password"],
                           args.get("display_name"), actor=g.user,
                           must_change_password=args["must_change_password"])
        db.session.commit()
        return user, 201


@blp.route("/users/<int(max=2147483647):user_id>")
class UserDetail(MethodView):
    @blp.response(200, UserSchema)
    @auth_required(roles=ADMIN)
    def get(self, user_id):
        """One account in your scope (404 otherwise)."""
        return get_user(user_id, g.user)

    @blp.arguments(UserUpdateArgs)
    @blp.response(200, UserSchema)
    @auth_required(roles=ADMIN)
    def patch(self, args, user_id):
        """Change `role`, `scope_code` (within your scope), `display_name`, or `active`: `false`
        disables the account and every token it holds stops working at once (401), `true` enables it
        again (the user logs in anew). You cannot change your own role or scope nor disable
        yourself (409). Audited as user.updated, user.disabled or user.enabled."""
        user = update_user(get_user(user_id, g.user), g.user, **args)
        db.session.commit()
        return user


@blp.route("/users/<int(max=2147483647):user_id>/password")
class UserPasswordReset(MethodView):
    @blp.arguments(PasswordResetArgs)
    @blp.response(200, PasswordResetSchema)
    @auth_required(roles=ADMIN)
    def post(self, args, user_id):
        """Reset a password: the one given, or a generated one returned once as
        `temporary_password`. The user's tokens are revoked and, by default, the user must change
        the password at the next login (until then every endpoint but GET /me, POST /me/password and
        logging out answers 403 `password_change_required`)."""
        user, generated = reset_password(get_user(user_id, g.user), g.user, args.get("password"),
                                         args["must_change_password"])
        db.session.commit()
        return {"user": user, "temporary_password": generated}


@blp.route("/me/password")
class MyPassword(MethodView):
    @blp.arguments(PasswordChangeArgs)
    @blp.response(204)
    @auth_required(pending_password_ok=True)
    def post(self, args):
        """Change your own password (the current one is checked; 422 `current_password` if wrong).
        Clears `must_change_password`; your other tokens are revoked, this one keeps working."""
        change_own_password(g.user, args["current_password"], args["new_password"], g.token)
        db.session.commit()
        return "", 204
