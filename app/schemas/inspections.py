"""Inspection requests and answers (DESIGN §5.1 names). The answer schemas are built from the
checklist definition in app/domain.py, so the rules live in one place."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.geo import CRS_CHOICES
from app.models import ASPECTS, STATUSES
from app.models.types import CHINA
from app.schemas.common import PageArgs, UserRefSchema, china_day, division_code, village_code
from app.schemas.photos import PhotoUrlsSchema
from app.domain import CHECKLIST, FLAG_CODES, MAX_NOTES_CHARS
from app.errors import FIELD_WORDS_ZH

MAX_PHOTOS_PER_ASPECT = 20

# a per-field message that names an item ("must not exceed households") says it in Chinese too
FIELD_WORDS_ZH.update({item["key"]: item["label_zh"] for aspect in CHECKLIST for item in aspect["items"]})


# --- answers, from the checklist ----------------------------------------------------------------

def _item_field(item):
    meta = {"description": f"{item['label']} / {item['label_zh']}"}
    required = item.get("required", True)
    if item["type"] == "boolean":
        return fields.Boolean(required=required, truthy={True}, falsy={False}, metadata=meta)
    if item["type"] == "choice":
        values = [c["value"] for c in item["choices"]]
        return fields.String(required=required, validate=validate.OneOf(values), metadata=meta)
    if item["type"] == "integer":
        return fields.Integer(required=required, strict=True, allow_none=not required,
                              validate=validate.Range(min=item.get("min"), max=10_000_000), metadata=meta)
    raise ValueError(f"unknown item type {item['type']!r}")


class _AspectAnswer(Schema):
    """Base of the generated per-aspect schemas: checks `max_item` bounds between items."""

    bounded_by = ()

    @validates_schema
    def _bounds(self, data, **_):
        for key, bound in self.bounded_by:
            if data.get(key) is not None and data.get(bound) is not None and data[key] > data[bound]:
                raise ValidationError(f"must not exceed {bound}", key)


def _aspect_schema(aspect):
    attrs = {item["key"]: _item_field(item) for item in aspect["items"]}
    attrs["bounded_by"] = tuple((i["key"], i["max_item"]) for i in aspect["items"] if i.get("max_item"))
    name = "".join(part.title() for part in aspect["aspect"].split("_")) + "AnswerSchema"
    return type(name, (_AspectAnswer,), attrs)


AnswersSchema = type("AnswersSchema", (Schema,), {
    a["aspect"]: fields.Nested(_aspect_schema(a), metadata={"description": a["met_text"]}) for a in CHECKLIST
})


# --- requests -----------------------------------------------------------------------------------

class LocationSchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    accuracy_m = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1_000_000),
                              metadata={"description": "horizontal accuracy reported by the phone, metres"})
    crs = fields.String(load_default="wgs84", validate=validate.OneOf(CRS_CHOICES),
                        metadata={"description": "wgs84 (raw GPS), gcj02 (Amap, Tencent) or bd09 (Baidu)"})


PhotoIdList = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                          validate=validate.Length(max=MAX_PHOTOS_PER_ASPECT))


class InspectionContentSchema(Schema):
    village = village_code(required=True)
    observed_at = fields.AwareDateTime(required=True, default_timezone=CHINA, metadata={"description": (
        "ISO 8601; without an offset it is read as China time. Phones send it corrected by the offset "
        "between their clock and the server's (measured from the `Date` header of any answer). More than "
        "OBSERVED_AT_MAX_SKEW_MINUTES ahead of the server is refused, unless `device_observed_at` is given: "
        "then it is stored as the time the server received it and flagged `clock_skew` (clamped)")})
    device_observed_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=CHINA, metadata={
        "description": "optional: the phone's own, uncorrected clock reading of the visit; stored, and the flag "
                       "`clock_skew` (facts: skew_seconds) is raised when it differs from observed_at by more "
                       "than FLAG_CLOCK_SKEW_MINUTES"})
    location = fields.Nested(LocationSchema, load_default=None, allow_none=True, metadata={
        "description": "optional: without it (GPS denied or unavailable, the village chosen by hand) the "
                       "inspection is accepted and flagged `no_location`; with it, `outside_village` applies"})
    answers = fields.Nested(AnswersSchema, required=True, metadata={"description": "any aspect may be left out"})
    photos = fields.Dict(keys=fields.String(validate=validate.OneOf(ASPECTS)), values=PhotoIdList, load_default=dict,
                         metadata={"description": "photo ids (from POST /photos) per aspect"})
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_NOTES_CHARS))

    @validates_schema
    def _some_answer(self, data, **_):
        if "answers" in data and not data["answers"]:
            raise ValidationError("answer at least one aspect", "answers")


class InspectionCreateSchema(InspectionContentSchema):
    client_uuid = fields.UUID(required=True, metadata={"description": "made on the phone; the idempotency key"})


class InspectionResubmitSchema(InspectionContentSchema):
    version = fields.Integer(required=True, strict=True, metadata={"description": "the version being edited"})
    client_uuid = fields.UUID(load_only=True, metadata={
        "description": "optional: a phone may send its stored body again; it is not changed by a resubmit"})


def flag_filter(**kwargs):
    return fields.String(validate=validate.OneOf((*FLAG_CODES, "any", "none")),
                         metadata={"description": "a flag code, or any / none"}, **kwargs)


class InspectionFilterArgs(Schema):
    """The filters of the inspection list, shared by the inspection export (and, but for status
    and source, by the review queue): access.inspection_filters applies them."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    village = village_code()
    division = division_code(metadata={"description": "any division code: inspections in its subtree"})
    date_from = china_day(data_key="from", metadata={"description": "observed on or after (China date)"})
    date_to = china_day(data_key="to", metadata={"description": "observed on or before (China date)"})
    flag = flag_filter()
    source = fields.String(validate=validate.OneOf(("app", "openrosa", "import")),
                           metadata={"description": "app (phones, web client), openrosa (ODK Collect, KoboCollect, "
                                                    "Enketo) or import (historical records)"})


class InspectionListArgs(InspectionFilterArgs, PageArgs):
    pass


# --- responses ----------------------------------------------------------------------------------

class VillageRefSchema(Schema):
    code = fields.String()
    name = fields.String()
    township_code = fields.String(allow_none=True)


class LocationOutSchema(Schema):
    lat = fields.Float(metadata={"description": "WGS-84"})
    lon = fields.Float(metadata={"description": "WGS-84"})
    accuracy_m = fields.Float(allow_none=True)
    input = fields.Dict(metadata={"description": "the coordinates as sent (lat, lon, crs)"})


class InspectionFlagSchema(Schema):
    code = fields.String(metadata={"description": ", ".join(FLAG_CODES)})
    facts = fields.Dict(metadata={"description": "what raised the flag (distances in m, other inspection ids, ...)"})


class PhotoRefSchema(PhotoUrlsSchema):
    id = fields.String()


class ReviewRefSchema(Schema):
    decision = fields.String()
    comment = fields.String(allow_none=True)
    version = fields.Integer()
    reviewer = fields.Nested(UserRefSchema, allow_none=True)
    created_at = fields.DateTime()


class InspectionSummarySchema(Schema):
    id = fields.Integer()
    client_uuid = fields.String()
    status = fields.String()
    version = fields.Integer()
    village = fields.Nested(VillageRefSchema)
    inspector = fields.Nested(UserRefSchema, allow_none=True)
    observed_at = fields.DateTime()
    device_observed_at = fields.DateTime(allow_none=True, metadata={
        "description": "the phone's own clock reading as sent (null: not sent); see the clock_skew flag"})
    submitted_at = fields.DateTime()
    location = fields.Nested(LocationOutSchema, allow_none=True,
                             metadata={"description": "null: sent without a location (flag no_location)"})
    metrics = fields.Dict(keys=fields.String(), values=fields.Boolean(allow_none=True),
                          metadata={"description": "garbage_stable, sewage_treated, village_clean, tap_water (null: not answered)"})
    flags = fields.List(fields.Nested(InspectionFlagSchema))
    flag_count = fields.Integer()
    checks_pending = fields.Boolean(metadata={
        "description": "true while a photo's perceptual hash is still being made (a background job): the "
                       "photo_reused check is not final until it is false"})
    latest_review = fields.Nested(ReviewRefSchema, allow_none=True,
                                  metadata={"description": "the last decision, e.g. why it was returned"})


class InspectionSchema(InspectionSummarySchema):
    answers = fields.Dict()
    photos = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "photo ids per aspect"})
    photo_urls = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(PhotoRefSchema)),
                             metadata={"description": "per aspect: id and the URLs of thumb, display, original"})
    notes = fields.String(allow_none=True)
    source = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ChecklistSchema(Schema):
    version = fields.Integer()
    aspects = fields.List(fields.Dict(), metadata={"description": "aspect, metric, items, met rule and its wording"})
