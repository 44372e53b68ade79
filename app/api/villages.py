"""Villages from the inspector's point of view: which ones are due for a visit."""
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import auth_required
from app.schemas.due import DueArgs, DuePageSchema
from app.services.due import due_villages

blp = Blueprint("villages", __name__, url_prefix="/api/v1/villages",
                description="Villages due for a visit (本月待巡查).")


@blp.route("/due")
class DueVillages(MethodView):
    @blp.arguments(DueArgs, location="query")
    @blp.response(200, DuePageSchema)
    @auth_required()
    def get(self, args):
        """The villages in your scope with no submitted or approved inspection in the period
        (default: this month, China time), never visited first, then the longest ago, each with
        when it was last visited. Any role (inspectors: their own scope); a `division` outside
        your scope is 404."""
        return due_villages(g.user, **args)
