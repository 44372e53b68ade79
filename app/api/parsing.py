"""Request bodies that need more than a schema: an inspection sent as JSON or as multipart.

Nothing is stored for a refused request. In order, cheapest first: Werkzeug refuses more than
MAX_FORM_PARTS parts (413); the JSON part is read under the input rules (app/inputs.py), then the
schema; the photos may be at most MAX_PHOTOS_PER_INSPECTION (ids and parts together, 422); every
photo part's header is read (size, type, pixel limits, and the request's decoding budget
MAX_DECODE_PIXELS_PER_REQUEST: 413/415/422 before anything is decoded); every photo is decoded and
its variants made (422 for a damaged one); only then is the first photo written.
"""
from flask import current_app, g, request
from marshmallow import ValidationError

from app.errors import BadRequest, ValidationFailed
from app.inputs import parse_json
from app.models import ASPECTS
from app.services.photos import check_request_pixels, full_size_pixels, prepare_photo, read_upload, store_photo


def load_submission(schema):
    """The validated body of a create/resubmit: JSON, or multipart with a JSON part `inspection`
    plus photo parts `photos.<aspect>` (stored like POST /photos and added to `photos`)."""
    files = []
    if request.mimetype == "multipart/form-data":
        part = request.form.get("inspection")
        if part is None and "inspection" in request.files:
            part = read_part(request.files["inspection"])
        if part is None:
            raise ValidationFailed(fields={"inspection": ["Missing the JSON part 'inspection'."]})
        body = parse_json(part, prefix=("inspection",))
        for name, file in request.files.items(multi=True):
            if name == "inspection":
                continue
            aspect = name.removeprefix("photos.")
            if not name.startswith("photos.") or aspect not in ASPECTS:
                raise ValidationFailed(fields={name: [f"unknown part; photo parts are photos.<{'|'.join(ASPECTS)}>"]})
            files.append((aspect, file))
    else:
        body = request.get_json(silent=True)  # parsed under the input rules (app/inputs.py)
    if not isinstance(body, dict):
        raise BadRequest("Send the inspection as a JSON object (or multipart with a JSON part 'inspection').")
    try:
        data = schema.load(body)
    except ValidationError as err:
        raise ValidationFailed.for_fields(err.messages) from None
    check_photo_count(data["photos"], len(files))
    check_request_pixels(sum(full_size_pixels(upload_bytes(file)) for _, file in files))
    # every photo is decoded and checked before any is stored; only the small variants are kept
    prepared = [(aspect, file, prepare_photo(upload_bytes(file))) for aspect, file in files]
    for aspect, file, processed in prepared:
        photo, _ = store_photo(upload_bytes(file), g.user, processed=processed)
        ids = data["photos"].setdefault(aspect, [])
        if photo.id not in ids:
            ids.append(photo.id)
    return data


def upload_bytes(file):
    """A photo part's bytes (read again from the start: each check and the store read them)."""
    file.stream.seek(0)
    return read_upload(file)


def read_part(file):
    """A text part sent as a file: at most MAX_FORM_MEMORY_SIZE bytes, like a text field."""
    limit = current_app.config["MAX_FORM_MEMORY_SIZE"]
    raw = file.stream.read(limit + 1)
    if len(raw) > limit:
        raise ValidationFailed(fields={"inspection": [f"The JSON part has more than {limit} bytes."]})
    return raw


def check_photo_count(photos, parts):
    """422 when the JSON's photo ids and the photo parts are more than MAX_PHOTOS_PER_INSPECTION."""
    limit = current_app.config["MAX_PHOTOS_PER_INSPECTION"]
    sent = sum(len(ids) for ids in photos.values()) + parts
    if sent > limit:
        raise ValidationFailed.for_fields({"photos": [f"At most {limit} photos per inspection ({sent} sent)."]},
                                          message_zh=f"每次巡查最多 {limit} 张照片。")
