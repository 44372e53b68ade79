from marshmallow import Schema, fields

from app.domain import photo_urls


class PhotoUploadArgs(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "one JPEG, PNG, WebP or HEIC/HEIF photo"})


class ExifSchema(Schema):
    taken_at = fields.String(allow_none=True, metadata={"description": "capture time, ISO 8601 UTC"})
    taken_at_local = fields.String(metadata={"description": "capture time as written in the file"})
    taken_at_zone = fields.String(metadata={"description": "exif (OffsetTimeOriginal) | assumed_china"})
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    altitude = fields.Float(allow_none=True, metadata={"description": "metres above sea level"})
    gps_accuracy_m = fields.Float(metadata={"description": "GPSHPositioningError"})
    make = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    orientation = fields.Integer(allow_none=True, metadata={"description": "EXIF orientation 1-8"})
    software = fields.String(allow_none=True)
    dropped = fields.List(fields.String(), metadata={"description": "values ignored as bogus, and why"})


class PhotoUrlsSchema(Schema):
    thumb = fields.String()
    display = fields.String()
    original = fields.String()


class PhotoSchema(Schema):
    id = fields.String(metadata={"description": "derived from the content: same bytes, same id"})
    sha256 = fields.String()
    content_type = fields.String(metadata={"description": "sniffed from the bytes"})
    size_bytes = fields.Integer()
    width = fields.Integer(metadata={"description": "pixels as stored (before orientation)"})
    height = fields.Integer()
    has_exif = fields.Boolean()
    exif = fields.Nested(ExifSchema)
    created_at = fields.DateTime()
    variants_status = fields.String(metadata={
        "description": "pending: the display/thumb variants and the perceptual hash are being made by a "
                       "background job (the variant URLs answer from the original meanwhile); ready; "
                       "failed: the original could not be rendered"})
    urls = fields.Method("_urls", metadata={"description": "the variants: thumb, display, original"})

    def _urls(self, photo):
        return photo_urls(photo.id)
