from flask import current_app, g, redirect, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from app.access import get_visible_photo
from app.auth import auth_required
from app.extensions import db
from app.schemas.photos import PhotoSchema, PhotoUploadArgs
from app.services.photos import open_photo_variant, read_upload, store_photo, variant_etag, variant_is_final
from app.storage import presigned_redirect

blp = Blueprint("photos", __name__, url_prefix="/api/v1/photos",
                description="Photo upload (content-addressed) and the scope-checked variants.")

VARIANT_MAX_AGE = 7 * 24 * 3600  # content-addressed: a variant never changes under its ETag


@blp.route("")
class PhotoUpload(MethodView):
    @blp.doc(responses={"200": {"description": "these bytes were stored before: the same photo"}})
    @blp.arguments(PhotoUploadArgs, location="files")
    @blp.response(201, PhotoSchema)
    @auth_required()
    def post(self, files):
        """Upload one photo (multipart part `file`): JPEG, PNG, WebP or HEIC/HEIF, sniffed from the bytes.

        201 with the photo's id, size, dimensions and EXIF facts; 200 with the same answer when
        identical bytes were uploaded before. The display and thumb variants and the perceptual
        hash are made by a background job after the answer (`variants_status` `pending`, then
        `ready`); the variant URLs work meanwhile. 413 `photo_too_large` over MAX_PHOTO_BYTES or
        MAX_PHOTO_PIXELS, 415 for other types, 422 `unprocessable_photo` for corrupt or truncated files.
        """
        photo, created = store_photo(read_upload(files["file"]), g.user)
        db.session.commit()
        return photo, 201 if created else 200


@blp.route("/<string:photo_id>")
class PhotoDetail(MethodView):
    @blp.response(200, PhotoSchema)
    @auth_required()
    def get(self, photo_id):
        """A photo's facts; visible to its uploaders and on inspections in your scope."""
        return get_visible_photo(photo_id, g.user)


@blp.route("/<string:photo_id>/<any(thumb, display, original):variant>")
class PhotoVariant(MethodView):
    @blp.doc(responses={
        "200": {"description": "the image bytes", "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
        "304": {"description": "not modified (If-None-Match matched the ETag)"},
        "302": {"description": "PHOTO_REDIRECT on an S3 store: a short-lived presigned GET URL of the stored "
                               "object (Location), after the same scope check"},
    })
    @auth_required()
    def get(self, photo_id, variant):
        """The image: `thumb` (~320 px) or `display` (~1600 px) JPEG with orientation applied and
        metadata stripped, or the `original` bytes (reviewers and above). ETag + Cache-Control;
        If-None-Match answers 304. While the photo's variants are being made (`variants_status`
        `pending`), thumb and display are made from the original on the fly, with a provisional
        ETag and `no-cache`, so the client fetches the stored variant once it is there."""
        photo, stream, content_type = open_photo_variant(photo_id, variant, g.user)
        presigned = presigned_redirect(stream, current_app.config)
        if presigned:  # S3 and PHOTO_REDIRECT: the store serves the stored object's bytes
            stream.close()
            return _redirect(*presigned)
        final = variant_is_final(photo, variant)
        response = send_file(stream, mimetype=content_type, etag=variant_etag(photo, variant), conditional=True,
                             max_age=VARIANT_MAX_AGE if final else 0, download_name=f"{photo.id}-{variant}")
        response.cache_control.private = True
        response.cache_control.public = False
        if final:
            response.cache_control.immutable = True
        else:
            response.cache_control.no_cache = True
        return response


def _redirect(url, max_age):
    """302 to a presigned URL, cacheable by the browser while the URL has at least a window left."""
    response = redirect(url, 302)
    response.cache_control.private = True
    response.cache_control.max_age = max_age
    return response
