from flask import Response, g, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from app.access import division_in_scope_or_404
from app.auth import auth_required
from app.extensions import db
from app.schemas.rates import (
    InspectionExportArgs,
    RatesArgs,
    RatesExportArgs,
    RatesSchema,
    TargetArgs,
    TargetInSchema,
    TrendArgs,
    TrendSchema,
)
from app.schemas.targets import TargetAnswerSchema, TargetsAnswerSchema
from app.services import exports, report_pdf
from app.services.rates import (
    compute_rates,
    compute_trend,
    current_year_key,
    make_query,
)
from app.services.targets import list_targets, set_target

blp = Blueprint("rates", __name__, url_prefix="/api/v1",
                description="The bureau's rates against the targets, their trend, targets and exports.")

FILE_RESPONSE = {"description": "the file (CSV, XLSX or GeoJSON), streamed",
                 "content": {t.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                             for f, t in exports.MEDIA_TYPES.items() if f != "pdf"}}
RATES_FILE_RESPONSE = {"description": "the file (CSV, XLSX, GeoJSON or PDF), streamed",
                       "content": {t.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                                   for t in exports.MEDIA_TYPES.values()}}
RATE_EXPORTS = {**exports.RATE_EXPORTS, "pdf": report_pdf.rates_pdf}


def file_response(chunks, fmt, stem):
    return Response(stream_with_context(chunks), mimetype=exports.MEDIA_TYPES[fmt].split(";")[0],
                    headers={"Content-Disposition": f'attachment; filename="{exports.export_filename(stem, fmt)}"'})


def _rates(args):
    division = division_in_scope_or_404(args["division"])
    return compute_rates(make_query(division, args["period"] or current_year_key(), args.get("level")),
                         status=args.get("status"), metric=args.get("metric"))


@blp.route("/rates")
class Rates(MethodView):
    @blp.arguments(RatesArgs, location="query")
    @blp.response(200, RatesSchema)
    @auth_required(min_role="reviewer")
    def get(self, args):
        """Rates of a division and of each of its descendants at `level`, for a period (DESIGN §4).

        Each metric gives met, not_met, unknown, rate, coverage, target, gap and on_target; the
        `definition` block states the validity window, the counted village kinds and the rules.
        `level=village` lists villages with their status per metric and the inspection it comes from.
        """
        return _rates(args)


@blp.route("/rates/export")
class RatesExport(MethodView):
    @blp.doc(responses={"200": RATES_FILE_RESPONSE})
    @blp.arguments(RatesExportArgs, location="query")
    @auth_required(min_role="reviewer")
    def get(self, args):
        """The same rates as CSV (header block with division, period and definition), XLSX (a formatted
        report: title block with the 口径, who and when; percentages; the division total; a second sheet
        with every village's status and the inspection it comes from), GeoJSON (each row's boundary or
        point with its numbers) or PDF (the report with a map and the 12-month trend); lang=zh for
        Chinese headers and definition."""
        division = division_in_scope_or_404(args["division"])
        query = make_query(division, args["period"] or current_year_key(), args.get("level"))
        if args["format"] == "xlsx" and query.level == "village":
            # the report's village sheet reads the villages itself (one statement): the summary sheet
            # needs only the division's totals, not the village-level answer
            result = exports.village_report_result(query, metric=args.get("metric"), status=args.get("status"))
        else:
            result = compute_rates(query, status=args.get("status"), metric=args.get("metric"))
        chunks = RATE_EXPORTS[args["format"]](result, args["lang"], user=g.user)
        return file_response(chunks, args["format"], f"rates-{result['division']['code']}-{result['period']}")


@blp.route("/rates/trend")
class RatesTrend(MethodView):
    @blp.arguments(TrendArgs, location="query")
    @blp.response(200, TrendSchema)
    @auth_required(min_role="reviewer")
    def get(self, args):
        """One metric of one division per month or quarter from `from` to `to` (each point is the
        rates answer for that period)."""
        division = division_in_scope_or_404(args["division"])
        return compute_trend(division, args["metric"], args["from_"], args["to"], args["granularity"])


@blp.route("/targets")
class Targets(MethodView):
    @blp.arguments(TargetArgs, location="query")
    @blp.response(200, TargetsAnswerSchema)
    @auth_required(min_role="bureau")
    def get(self, args):
        """The targets that apply to a division (default: your scope) in a year, and the stored rows."""
        return list_targets(args["year"] or int(current_year_key()), g.user, args.get("division"))

    @blp.arguments(TargetInSchema)
    @blp.response(200, TargetAnswerSchema)
    @auth_required(min_role="bureau")
    def put(self, data):
        """Set a target (fraction 0..1) for a metric and year: the year's default, or an override for a
        division in your scope (the most specific one applies)."""
        row = set_target(data["metric"], data["year"], data["value"], g.user, data.get("division_code"))
        db.session.commit()
        return row


@blp.route("/inspections/export")
class InspectionsExport(MethodView):
    @blp.doc(responses={"200": FILE_RESPONSE})
    @blp.arguments(InspectionExportArgs, location="query")
    @auth_required()
    def get(self, args):
        """Inspections in your scope (inspectors: your own) as CSV, XLSX (a report: title block with
        the scope, filters, who and when) or GeoJSON, streamed; the filters are those of the inspection
        list: status, village, division, from, to (China dates), flag (a code, any, none) and source."""
        fmt, lang = args.pop("format"), args.pop("lang")
        stmt = exports.inspection_export_query(g.user, **args)
        chunks = exports.INSPECTION_EXPORTS[fmt](stmt, lang, user=g.user, filters=args)
        return file_response(chunks, fmt, "inspections")
