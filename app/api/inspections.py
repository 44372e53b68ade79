import json

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError

from app.auth import BEARER_DOC, auth_required
from app.errors import BadRequest, ValidationFailed, flatten_messages
from app.extensions import db
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
from app.services.checklist import checklist_document
from app.services.inspections import (
    create_inspection,
    describe_inspection,
    get_visible_inspection,
    latest_reviews,
    list_inspections_query,
    resubmit_inspection,
)
from app.services.photos import read_upload, store_photo

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


def load_submission(schema):
    """The validated body of a create/resubmit: JSON, or multipart with a JSON part `inspection`
    plus photo parts `photos.<aspect>` (stored like POST /photos and added to `photos`)."""
    files = []
    if request.mimetype == "multipart/form-data":
        part = request.form.get("inspection")
        if part is None and "inspection" in request.files:
            part = request.files["inspection"].read().decode("utf-8", errors="replace")
        if part is None:
            raise ValidationFailed(fields={"inspection": ["Missing the JSON part 'inspection'."]})
        try:
            body = json.loads(part)
        except ValueError:
            raise ValidationFailed(fields={"inspection": ["Not valid JSON."]}) from None
        for name, file in request.files.items(multi=True):
            if name == "inspection":
                continue
            aspect = name.removeprefix("photos.")
            if not name.startswith("photos.") or aspect not in ASPECTS:
                raise ValidationFailed(fields={name: [f"unknown part; photo parts are photos.<{'|'.join(ASPECTS)}>"]})
            files.append((aspect, file))
    else:
        body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("Send the inspection as a JSON object (or multipart with a JSON part 'inspection').")
    try:
        data = schema.load(body)
    except ValidationError as err:
        fields = flatten_messages(err.messages)
        raise ValidationFailed("Some fields are invalid: " + ", ".join(sorted(fields)), fields=fields) from None
    for aspect, file in files:
        photo, _ = store_photo(read_upload(file), g.user)
        ids = data["photos"].setdefault(aspect, [])
        if photo.id not in ids:
            ids.append(photo.id)
    return data


@blp.route("/inspections")
class Inspections(MethodView):
    @blp.doc(security=BEARER_DOC, requestBody=_body_doc(InspectionCreateSchema),
             responses={"200": {"description": "an identical retry: the stored inspection"}})
    @blp.response(201, InspectionSchema)
    @auth_required(roles=("inspector",))
    def post(self):
        """Submit an inspection (DESIGN §5.1). Idempotent by `client_uuid`: the same content again
        answers 200 with the stored inspection; different content is 409 `duplicate_conflict` with
        the stored id in `details.id`. The village must be in your scope (else 404)."""
        inspection, created = create_inspection(load_submission(InspectionCreateSchema()), g.user)
        db.session.commit()
        return describe_inspection(inspection), 201 if created else 200

    @blp.doc(security=BEARER_DOC)
    @blp.arguments(InspectionListArgs, location="query")
    @blp.response(200, page_of(InspectionSummarySchema))
    @auth_required()
    def get(self, args):
        """Inspections you may see (inspectors: their own; others: all in scope), newest observation
        first. Filters: status, village, division (subtree), from/to (China dates), flag."""
        page = paginated(db.paginate(list_inspections_query(args, g.user), page=args["page"],
                                     per_page=args["per_page"], error_out=False))
        reviews = latest_reviews([i.id for i in page["items"]])
        page["items"] = [describe_inspection(i, detail=False, review=reviews.get(i.id)) for i in page["items"]]
        return page


@blp.route("/inspections/<int(max=9223372036854775807):inspection_id>")
class InspectionDetail(MethodView):
    @blp.doc(security=BEARER_DOC)
    @blp.response(200, InspectionSchema)
    @auth_required()
    def get(self, inspection_id):
        """One inspection with its answers, metrics, photos (ids and URLs per aspect), flags with
        their facts and the latest review."""
        return describe_inspection(get_visible_inspection(inspection_id, g.user))

    @blp.doc(security=BEARER_DOC, requestBody=_body_doc(InspectionResubmitSchema))
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
    @blp.doc(security=BEARER_DOC)
    @blp.response(200, ChecklistSchema)
    @auth_required()
    def get(self):
        """The checklist: aspects, their items and what makes each metric met (one definition
        behind validation, the stored metrics and this document)."""
        return checklist_document()
