from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import auth_required
from app.extensions import db
from app.schemas.common import page_of, paginated
from app.schemas.divisions import (
    DivisionActiveSchema,
    DivisionDetailArgs,
    DivisionDetailSchema,
    DivisionListArgs,
    DivisionSchema,
    DivisionUpdateArgs,
    LocateArgs,
    LocatedSchema,
)
from app.services.divisions import division_detail, list_divisions_query, locate, set_division_active

blp = Blueprint("divisions", __name__, url_prefix="/api/v1/divisions",
                description="The division tree (city → county → township → village) within your scope.")


@blp.route("")
class DivisionList(MethodView):
    @blp.arguments(DivisionListArgs, location="query")
    @blp.response(200, page_of(DivisionSchema))
    @auth_required()
    def get(self, args):
        """Divisions in your scope, by code; filter by parent, level, kind or part of the name."""
        page, per_page = args.pop("page"), args.pop("per_page")
        return paginated(db.paginate(list_divisions_query(g.user, **args), page=page, per_page=per_page,
                                     error_out=False))


@blp.route("/locate")
class Locate(MethodView):
    @blp.arguments(LocateArgs, location="query")
    @blp.response(200, LocatedSchema)
    @auth_required()
    def get(self, args):
        """Which village am I in? The village in scope whose boundary contains the point, else the nearest.

        `crs` says how the phone's map SDK reports coordinates: `wgs84` (raw GPS, default),
        `gcj02` (Amap, Tencent) or `bd09` (Baidu); the answer's `location` is in WGS-84.
        """
        return locate(args["lat"], args["lon"], args["crs"], g.user)


@blp.route("/<string:code>")
class DivisionDetail(MethodView):
    @blp.arguments(DivisionDetailArgs, location="query")
    @blp.response(200, DivisionDetailSchema)
    @auth_required()
    def get(self, args, code):
        """One division with its parent chain, counts below it and, on request, its GeoJSON geometry."""
        return division_detail(code, g.user, geometry=args["geometry"])

    @blp.arguments(DivisionUpdateArgs)
    @blp.response(200, DivisionActiveSchema)
    @auth_required(roles=("admin",))
    def patch(self, args, code):
        """Mark a division in your scope inactive (`{"active": false}`) or active again, together with
        every division below it: inactive villages leave the rates' population, "which village am I
        in?", the villages due and the ODK village list; their inspections stay. Audited as
        division.deactivated / division.activated (404 outside your scope)."""
        answer = set_division_active(code, args["active"], g.user)
        db.session.commit()
        return answer
