from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from app import geo
from app.auth import BEARER_DOC, auth_required, division_in_scope_or_404, in_scope
from app.extensions import db
from app.models import Division
from app.schemas.common import page_of, paginated
from app.schemas.divisions import (
    DivisionDetailArgs,
    DivisionDetailSchema,
    DivisionListArgs,
    DivisionSchema,
    LocateArgs,
    LocatedSchema,
)
from app.services.divisions import ancestors, locate_village, subtree_counts

blp = Blueprint("divisions", __name__, url_prefix="/api/v1/divisions",
                description="The division tree (city → county → township → village) within your scope.")


@blp.route("")
class DivisionList(MethodView):
    @blp.doc(security=BEARER_DOC)
    @blp.arguments(DivisionListArgs, location="query")
    @blp.response(200, page_of(DivisionSchema))
    @auth_required()
    def get(self, args):
        """Divisions in your scope, by code; filter by parent, level, kind or part of the name."""
        stmt = select(Division).where(in_scope(Division.code)).order_by(Division.code)
        if "parent" in args:
            stmt = stmt.where(Division.parent_code == args["parent"])
        if "level" in args:
            stmt = stmt.where(Division.level == args["level"])
        if "kind" in args:
            stmt = stmt.where(Division.kind == args["kind"])
        if "q" in args:
            stmt = stmt.where(Division.name.contains(args["q"], autoescape=True))
        return paginated(db.paginate(stmt, page=args["page"], per_page=args["per_page"], error_out=False))


@blp.route("/locate")
class Locate(MethodView):
    @blp.doc(security=BEARER_DOC)
    @blp.arguments(LocateArgs, location="query")
    @blp.response(200, LocatedSchema)
    @auth_required()
    def get(self, args):
        """Which village am I in? The village in scope whose boundary contains the point, else the nearest.

        `crs` says how the phone's map SDK reports coordinates: `wgs84` (raw GPS, default),
        `gcj02` (Amap, Tencent) or `bd09` (Baidu); the answer's `location` is in WGS-84.
        """
        lat, lon = geo.to_wgs84(args["lat"], args["lon"], args["crs"])
        found = locate_village(lat, lon, g.user.scope_code)
        township = db.session.get(Division, found.village.parent_code) if found.village.parent_code else None
        return {"village": found.village, "township": township, "inside": found.inside,
                "distance_m": round(found.distance_m, 1), "location": {"lat": lat, "lon": lon},
                "boundary_synthetic": found.village.geometry_source == "synthetic"}


@blp.route("/<string:code>")
class DivisionDetail(MethodView):
    @blp.doc(security=BEARER_DOC)
    @blp.arguments(DivisionDetailArgs, location="query")
    @blp.response(200, DivisionDetailSchema)
    @auth_required()
    def get(self, args, code):
        """One division with its parent chain, counts below it and, on request, its GeoJSON geometry."""
        division = division_in_scope_or_404(code)
        geometry = None
        if args["geometry"]:
            geometry = {"boundary": geo.to_geojson(division.boundary), "point": geo.to_geojson(division.point),
                        "source": division.geometry_source,
                        "synthetic": division.geometry_source == "synthetic"}
        return {**DivisionSchema().dump(division), "ancestors": ancestors(code),
                "counts": subtree_counts(code), "geometry": geometry}
