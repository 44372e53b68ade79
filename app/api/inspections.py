from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.access import get_visible_inspection
from app.api.parsing import load_submission
from app.auth import auth_required
from app.extensions import commit_keeping_loaded, db
from app.models import ASPECTS
from app.schemas.common import page_of, paginated
from app.schemas.inspections import (
    ChecklistSchema,
    InspectionCreateSchema,
    InspectionListArgs,
    InspectionResubmitSchema,
    InspectionSchema,
    InspectionSummarySchema,
)
from app.domain import checklist_document
from app.services.inspections import (
    create_inspection,
    describe_inspection,
    describe_inspections,
    list_inspections_query,
    resubmit_inspection,
)

blp = Blueprint("inspections", __name__, url_prefix="/api/v1",
                description="Inspections: submit (idempotent by client_uuid), list, read, resubmit after a return.")

MULTIPART_DOC = {
    "type": "object", "required": ["inspection"],
    "properties": {
        "inspection": {"type": "string", "description": "the JSON body, as in application/json"},
        **{f"photos.{aspect}": {"type": "array", "items": {"type": "string", "format": "binary"},
                                "description": f"photo files for the {aspect} aspect"} for aspect in ASPECTS},
    },
}


def _body_doc(schema):
    return {"required": True, "content": {"application/json": {"schema": schema},
                                          "multipart/form-data": {"schema": MULTIPART_DOC}}}


@blp.route("/inspections")
class Inspections(MethodView):
    @blp.doc(requestBody=_body_doc(InspectionCreateSchema),
             responses={"200": {"description": "an identical retry: the stored inspection"}})
    @blp.response(201, InspectionSchema)
    @auth_required(roles=("inspector",))
    def post(self):
        """Submit an inspection (DESIGN §5.1). Idempotent by `client_uuid`: the same content again
        answers 200 with the stored inspection; different content is 409 `duplicate_conflict` with
        the stored id in `details.id`. A `client_uuid` first sent by another user is 409
        `duplicate_conflict` with `details.reason` = `other_user` (never credited to you). The
        village must be in your scope (else 404). Without `location` the inspection is accepted and
        flagged `no_location`; `device_observed_at` (the phone's own clock) may raise `clock_skew`."""
        inspection, created = create_inspection(load_submission(InspectionCreateSchema()), g.user)
        commit_keeping_loaded()
        if created:  # the answer is built from what this request wrote: no re-reads after the commit
            return describe_inspection(inspection, review=None), 201
        return describe_inspection(inspection), 200

    @blp.arguments(InspectionListArgs, location="query")
    @blp.response(200, page_of(InspectionSummarySchema))
    @auth_required()
    def get(self, args):
        """Inspections you may see (inspectors: their own; others: all in scope), newest observation
        first. Filters: status, village, division (subtree), from/to (China dates), flag."""
        page_number, per_page = args.pop("page"), args.pop("per_page")
        page = paginated(db.paginate(list_inspections_query(g.user, **args), page=page_number,
                                     per_page=per_page, error_out=False))
        page["items"] = describe_inspections(page["items"], g.user)
        return page


@blp.route("/inspections/<int(max=9223372036854775807):inspection_id>")
class InspectionDetail(MethodView):
    @blp.response(200, InspectionSchema)
    @auth_required()
    def get(self, inspection_id):
        """One inspection with its answers, metrics, photos (ids and URLs per aspect), flags with
        their facts and the latest review."""
        return describe_inspection(get_visible_inspection(inspection_id, g.user))

    @blp.doc(requestBody=_body_doc(InspectionResubmitSchema))
    @blp.response(200, InspectionSchema)
    @auth_required(roles=("inspector",))
    def put(self, inspection_id):
        """Edit and resubmit a returned inspection (its inspector only), sending the `version` you
        edited: status becomes submitted, version + 1, flags are recomputed. 409 `version_conflict`
        for a stale version, 409 `invalid_transition` unless the inspection is returned."""
        inspection = resubmit_inspection(inspection_id, load_submission(InspectionResubmitSchema()), g.user)
        db.session.commit()
        return describe_inspection(inspection)


@blp.route("/checklist")
class Checklist(MethodView):
    @blp.response(200, ChecklistSchema)
    @auth_required()
    def get(self):
        """The checklist: aspects, their items and what makes each metric met (one definition
        behind validation, the stored metrics and this document)."""
        return checklist_document()
