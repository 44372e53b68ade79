"""Request bodies that need more than a schema: an inspection sent as JSON or as multipart."""
import json

from flask import g, request
from marshmallow import ValidationError

from app.errors import BadRequest, ValidationFailed
from app.models import ASPECTS
from app.services.photos import read_upload, store_photo


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
        raise ValidationFailed.for_fields(err.messages) from None
    for aspect, file in files:
        photo, _ = store_photo(read_upload(file), g.user)
        ids = data["photos"].setdefault(aspect, [])
        if photo.id not in ids:
            ids.append(photo.id)
    return data
