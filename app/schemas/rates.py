from marshmallow import Schema, fields, validate

from app.models import LEVELS, METRICS
from app.schemas.common import division_code, period, year
from app.schemas.inspections import InspectionFilterArgs

FORMATS = ("csv", "xlsx", "geojson")
RATES_FORMATS = (*FORMATS, "pdf")


class RatesArgs(Schema):
    division = division_code(required=True, metadata={"description": "division code (must be in your scope)"})
    period = period(load_default=None)
    level = fields.String(validate=validate.OneOf(LEVELS),
                          metadata={"description": "break the division down by this level (default: one below)"})
    metric = fields.String(validate=validate.OneOf(METRICS),
                           metadata={"description": "level=village only: keep the counted villages (with `status`, "
                                                    "those with that status for this metric)"})
    status = fields.String(validate=validate.OneOf(("met", "not_met", "unknown")),
                           metadata={"description": "level=village only, with `metric`: the villages behind one "
                                                    "cell; the division totals stay the whole division's"})


class RatesExportArgs(RatesArgs):
    format = fields.String(required=True, validate=validate.OneOf(RATES_FORMATS),
                           metadata={"description": "csv, xlsx (a formatted report with a village sheet), geojson, "
                                                    "or pdf (the report with a map and the 12-month trend)"})
    lang = fields.String(load_default="en", validate=validate.OneOf(("en", "zh")),
                         metadata={"description": "zh: Chinese column headers and definition (口径)"})


class TrendArgs(Schema):
    division = division_code(required=True)
    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    from_ = period(required=True, data_key="from")
    to = period(required=True)
    granularity = fields.String(load_default="month", validate=validate.OneOf(("month", "quarter")))


class HouseholdsSchema(Schema):
    known = fields.Integer()
    met = fields.Integer()
    rate = fields.Float(allow_none=True)


class MetricRateSchema(Schema):
    basis = fields.String(metadata={"description": "villages, or households (tap_water)"})
    met = fields.Integer()
    not_met = fields.Integer()
    unknown = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "fraction in [0, 1]; null when nothing counts"})
    coverage = fields.Float(allow_none=True)
    target = fields.Float()
    target_source = fields.String(metadata={"description": "division:<code> | year:<year> | plan:2026"})
    gap = fields.Integer(metadata={"description": "villages (households for tap_water) still needed"})
    on_target = fields.Boolean(allow_none=True)
    households = fields.Raw(metadata={"description": "sewage_treated: {known, met, rate}; tap_water: households counted"})
    households_met = fields.Integer(metadata={"description": "tap_water: households with tap water"})


class VillageMetricSchema(Schema):
    status = fields.String(validate=validate.OneOf(("met", "not_met", "unknown")))
    inspection_id = fields.Integer(allow_none=True, metadata={"description": "the inspection the status comes from"})
    observed_at = fields.String(allow_none=True, metadata={"description": "when that inspection was observed "
                                                                          "(ISO 8601, UTC)"})
    households = fields.Integer(allow_none=True)
    households_with_tap = fields.Integer(allow_none=True)


class RateRowSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    population = fields.Integer()
    metrics = fields.Dict(keys=fields.String(), values=fields.Nested(MetricRateSchema))


class VillageRowSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    kind = fields.String(allow_none=True)
    counted = fields.Boolean()
    households = fields.Integer(allow_none=True)
    metrics = fields.Dict(keys=fields.String(), values=fields.Nested(VillageMetricSchema))


class RowsField(fields.List):
    """Division rows (RateRowSchema), or village rows (VillageRowSchema) when level=village.

    The service builds the rows from plain numbers and strings already, so they are passed
    through as they are (dumping 10^3 rows field by field would cost more than the SQL)."""

    def __init__(self, **kwargs):
        super().__init__(fields.Raw(), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class RatesSchema(Schema):
    division = fields.Nested(RateRowSchema)
    period = fields.String()
    level = fields.String()
    as_of = fields.DateTime()
    definition = fields.Dict(metadata={"description": "validity_days, counted_kinds, period and window "
                                                      "(China time and UTC), and the rules in words"})
    rows = RowsField(metadata={"description": "one per division at `level` (the shape of `division`); with "
                                              "level=village, villages with status and inspection_id per metric"})


class TrendPointSchema(MetricRateSchema):
    period = fields.String()
    start = fields.String()
    end = fields.String()
    population = fields.Integer()


class TrendSchema(Schema):
    division = fields.Dict()
    metric = fields.String()
    granularity = fields.String()
    definition = fields.Dict()
    points = fields.List(fields.Nested(TrendPointSchema))


class TargetArgs(Schema):
    year = year(load_default=None)
    division = division_code(metadata={"description": "show the targets that apply here (default: your scope)"})


class TargetInSchema(Schema):
    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    year = year(required=True)
    value = fields.Float(required=True, validate=validate.Range(min=0, max=1),
                         metadata={"description": "fraction in [0, 1]"})
    division_code = division_code(load_default=None, allow_none=True,
                                  metadata={"description": "override for this division; empty: the year's default"})


class TargetSchema(Schema):
    id = fields.Integer()
    metric = fields.String()
    year = fields.Integer()
    division_code = fields.String(metadata={"description": "'' = the default for every division"})
    value = fields.Float()
    updated_at = fields.DateTime()


class EffectiveTargetSchema(Schema):
    metric = fields.String()
    year = fields.Integer()
    division_code = fields.String()
    value = fields.Float()
    source = fields.String()


class TargetsSchema(Schema):
    year = fields.Integer()
    division = fields.Dict()
    effective = fields.List(fields.Nested(EffectiveTargetSchema))
    stored = fields.List(fields.Nested(TargetSchema))
    plan_defaults = fields.Dict(keys=fields.String(), values=fields.Float())


class InspectionExportArgs(InspectionFilterArgs):
    """The inspection list's filters, plus the file format and the header language."""

    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    lang = fields.String(load_default="en", validate=validate.OneOf(("en", "zh")),
                         metadata={"description": "zh: Chinese column headers, 是/否, statuses in words"})
