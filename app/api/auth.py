from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import auth_required, login, revoke_token
from app.extensions import db
from app.schemas.auth import LoginSchema, MeSchema, TokenSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Log in, log out, who am I.")


@blp.route("/auth/token")
class TokenResource(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(201, TokenSchema)
    def post(self, credentials):
        """Log in: exchange username and password for a bearer token.

        Repeated failures for one username or address answer 429 `rate_limited` with Retry-After;
        a disabled account answers 401 `invalid_credentials` like a wrong password. When
        `must_change_password` is true, change it first (POST /api/v1/me/password): every other
        endpoint but GET /me and logging out answers 403 `password_change_required`.
        """
        token, row = login(credentials["username"], credentials["password"])
        db.session.commit()
        return {"token": token, "expires_at": row.expires_at,
                "must_change_password": row.user.must_change_password}

    @blp.response(204)
    @auth_required(pending_password_ok=True)
    def delete(self):
        """Log out: revoke the token used for this request."""
        revoke_token(g.token)
        db.session.commit()


@blp.route("/me")
class MeResource(MethodView):
    @blp.response(200, MeSchema)
    @auth_required(pending_password_ok=True)
    def get(self):
        """The logged-in user, with role and scope."""
        user = g.user
        return {"id": user.id, "username": user.username, "display_name": user.display_name,
                "role": user.role, "scope": user.scope, "token_expires_at": g.token.expires_at,
                "must_change_password": user.must_change_password}
