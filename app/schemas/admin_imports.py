"""Shapes of the administrators' file imports: the multipart upload and the preview / result."""
from marshmallow import Schema, fields, validate


class ImportFileArgs(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "the file, as the matching flask command takes it"})


class ImportFormArgs(Schema):
    dry_run = fields.Boolean(load_default=True, metadata={
        "description": "true (default): check everything and answer the preview, store nothing; "
                       "false: check again and store"})
    preview_sha256 = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9a-f]{64}$"), metadata={
        "description": "the preview's sha256: a commit of a different file is refused (409)"})


class ImportCountsSchema(Schema):
    created = fields.Integer(metadata={"description": "new divisions / divisions without a shape before / new inspections"})
    updated = fields.Integer(metadata={"description": "changed divisions or shapes (inspections: always 0)"})
    unchanged = fields.Integer(metadata={"description": "the same as stored (inspections: client_uuid already stored)"})


class ImportAnswerSchema(Schema):
    kind = fields.String(metadata={"description": "divisions | boundaries | inspections"})
    dry_run = fields.Boolean()
    committed = fields.Boolean(metadata={"description": "true when the rows were stored"})
    file_name = fields.String(allow_none=True)
    sha256 = fields.String(metadata={"description": "of the file's bytes: send it back as preview_sha256"})
    bytes = fields.Integer()
    encoding = fields.String(allow_none=True, metadata={"description": "how a CSV was read, e.g. GB18030/GBK"})
    ignored_columns = fields.List(fields.String())
    counts = fields.Nested(ImportCountsSchema)
    rows = fields.List(fields.Dict(), metadata={"description": "dry run: the rows (first 2000), each with its `change`"})
    features = fields.Dict(allow_none=True, metadata={
        "description": "dry run: a GeoJSON FeatureCollection to draw (divisions: the stored shape of each row or its "
                       "parent; boundaries: the new shapes; inspections: a point per row)"})
