"""Shapes of the review queue, decisions, history, comments, audit log and webhook deliveries."""
from marshmallow import Schema, fields, validate

from app.domain import MAX_BULK, QUEUE_ORDERS
from app.models import DECISIONS, METRICS
from app.schemas.common import PageArgs, UserRefSchema, china_day, comment_text, division_code
from app.schemas.inspections import ReviewRefSchema, flag_filter


class CodeNameSchema(Schema):
    code = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


def metrics_field():
    return fields.Dict(keys=fields.String(validate=validate.OneOf(METRICS)), values=fields.Boolean(allow_none=True),
                       metadata={"description": "garbage_stable, sewage_treated, village_clean, tap_water "
                                                "(null: aspect not answered)"})


# --- queue ----------------------------------------------------------------------------------

class QueueArgs(PageArgs):
    order = fields.String(load_default="oldest", validate=validate.OneOf(QUEUE_ORDERS), metadata={
        "description": "oldest (default: longest waiting first) | flagged (most flags first, then oldest) | "
                       "village (by village code) | inspector (by username)"})
    township = division_code(metadata={"description": "only this township (or any division code)"})
    village = division_code(metadata={"description": "only this village"})
    flag = flag_filter()
    date_from = china_day(data_key="from", metadata={"description": "observed on or after this day (China time)"})
    date_to = china_day(data_key="to", metadata={"description": "observed on or before this day (China time)"})
    q = fields.String(validate=validate.Length(min=1, max=50), metadata={
        "description": "search: part of the village's name or of the inspector's username or display name"})


class FlagSchema(Schema):
    code = fields.String()
    facts = fields.Dict(metadata={"description": "the measurements that raised the flag"})


class QueuePhotoSchema(Schema):
    id = fields.String()
    aspect = fields.String()
    thumb_url = fields.String(metadata={"description": "/api/v1/photos/{id}/thumb"})
    exif_lat = fields.Float(allow_none=True, metadata={"description": "the photo's own GPS (EXIF), WGS-84"})
    exif_lon = fields.Float(allow_none=True)
    taken_at = fields.DateTime(allow_none=True, metadata={"description": "EXIF time taken (phone clock)"})


class QueueLocationSchema(Schema):
    lat = fields.Float()
    lon = fields.Float()
    accuracy_m = fields.Float(allow_none=True)


class PreviousApprovedSchema(Schema):
    id = fields.Integer()
    observed_at = fields.DateTime()
    metrics = metrics_field()


class QueueItemSchema(Schema):
    id = fields.Integer()
    client_uuid = fields.String()
    version = fields.Integer(metadata={"description": "send it back with the decision"})
    status = fields.String()
    village = fields.Nested(CodeNameSchema)
    township = fields.Nested(CodeNameSchema)
    inspector = fields.Nested(UserRefSchema, allow_none=True)
    observed_at = fields.DateTime()
    submitted_at = fields.DateTime()
    waiting_seconds = fields.Integer()
    accuracy_m = fields.Float(allow_none=True)
    notes = fields.String(allow_none=True)
    answers = fields.Dict(metadata={"description": "every checklist item answered, per aspect (as sent)"})
    location = fields.Nested(QueueLocationSchema, allow_none=True, metadata={
        "description": "the submitted location, WGS-84 (null: none sent, flag no_location)"})
    device_observed_at = fields.DateTime(allow_none=True, metadata={
        "description": "the phone's own clock reading (see the clock_skew flag)"})
    metrics = metrics_field()
    households = fields.Integer(allow_none=True)
    flag_count = fields.Integer()
    flags = fields.List(fields.Nested(FlagSchema))
    checks_pending = fields.Boolean(metadata={
        "description": "true while a photo's perceptual hash is being made: photo_reused is not final yet"})
    photos = fields.List(fields.Nested(QueuePhotoSchema))
    previous_approved = fields.Nested(PreviousApprovedSchema, allow_none=True, metadata={
        "description": "the village's latest approved inspection observed before this one, for comparison"})


class QueueCountsSchema(Schema):
    waiting = fields.Integer()
    flagged = fields.Integer()
    oldest_waiting_seconds = fields.Integer(allow_none=True)


class QueuePageSchema(Schema):
    items = fields.List(fields.Nested(QueueItemSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()
    counts = fields.Nested(QueueCountsSchema)


# --- decisions ------------------------------------------------------------------------------

class ReviewArgs(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    comment = comment_text(allow_none=True, metadata={"description": "required for reject and return"})
    version = fields.Integer(required=True, validate=validate.Range(min=1),
                             metadata={"description": "the version you reviewed (from the queue item)"})


class ReviewSchema(ReviewRefSchema):
    id = fields.Integer()


class InspectionStateSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    version = fields.Integer()
    village_code = fields.String()
    decided_at = fields.DateTime(allow_none=True)
    decided_by_id = fields.Integer(allow_none=True)


class ReviewResultSchema(Schema):
    inspection = fields.Nested(InspectionStateSchema)
    review = fields.Nested(ReviewSchema)


class BulkReviewArgs(Schema):
    ids = fields.List(fields.Integer(validate=validate.Range(min=1)), required=True,
                      validate=validate.Length(min=1, max=MAX_BULK))
    decision = fields.String(load_default="approve", validate=validate.OneOf(DECISIONS))
    comment = comment_text(allow_none=True, metadata={"description": "required for reject and return"})


class BulkItemSchema(Schema):
    id = fields.Integer()
    ok = fields.Boolean()
    status = fields.String(metadata={"description": "the new status, or the current one when not ok"})
    version = fields.Integer()
    error = fields.String(metadata={"description": "not_found | invalid_transition"})


class BulkResultSchema(Schema):
    decision = fields.String()
    succeeded = fields.Integer()
    failed = fields.Integer()
    results = fields.List(fields.Nested(BulkItemSchema))


class ReopenArgs(Schema):
    reason = comment_text(min_length=1, required=True)
    version = fields.Integer(validate=validate.Range(min=1), metadata={"description": "optional check"})


# --- history, comments, audit ---------------------------------------------------------------

class InspectionVersionSchema(Schema):
    version = fields.Integer()
    observed_at = fields.DateTime()
    location_input = fields.Dict(allow_none=True)
    answers = fields.Dict()
    photos = fields.Dict()
    notes = fields.String(allow_none=True)
    flags = fields.List(fields.Dict())
    created_at = fields.DateTime()


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.Nested(UserRefSchema, allow_none=True)
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    division_code = fields.String(allow_none=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)
    comment = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)


class HistorySchema(Schema):
    inspection = fields.Nested(InspectionStateSchema)
    versions = fields.List(fields.Nested(InspectionVersionSchema))
    reviews = fields.List(fields.Nested(ReviewSchema))
    audit = fields.List(fields.Nested(AuditEntrySchema))


class CommentArgs(Schema):
    body = comment_text(min_length=1, required=True)


class CommentSchema(Schema):
    id = fields.Integer()
    body = fields.String()
    author = fields.Nested(UserRefSchema, allow_none=True)
    created_at = fields.DateTime()


class CommentListSchema(Schema):
    items = fields.List(fields.Nested(CommentSchema))


class AuditArgs(PageArgs):
    action = fields.String(validate=validate.Length(max=40), metadata={"description": "e.g. inspection.approved"})
    object_type = fields.String(validate=validate.Length(max=20), metadata={"description": "e.g. inspection"})
    object_id = fields.String(validate=validate.Length(max=40))
    actor = fields.Integer(metadata={"description": "user id"})
    division = division_code(metadata={"description": "only entries of divisions in this subtree"})
    since = fields.AwareDateTime(data_key="from", metadata={"description": "at or after (ISO 8601 with offset)"})
    until = fields.AwareDateTime(data_key="to", metadata={"description": "before (ISO 8601 with offset)"})


# --- webhooks -------------------------------------------------------------------------------

class DeliveryArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(("pending", "delivered", "failed")))
    endpoint = fields.Integer(validate=validate.Range(min=0, max=9223372036854775807), metadata={
        "description": "only deliveries to this webhook endpoint (id); 0: only those to WEBHOOK_URLS"})


class DeliverySchema(Schema):
    id = fields.Integer()
    event = fields.String()
    township_code = fields.String()
    inspection_id = fields.Integer(allow_none=True)
    url = fields.String()
    endpoint_id = fields.Integer(allow_none=True, metadata={
        "description": "the webhook endpoint it goes to; null: WEBHOOK_URLS (or the endpoint was deleted)"})
    status = fields.String(metadata={"description": "pending (will be retried) | delivered | failed"})
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime()
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    payload = fields.Dict()
