"""Historical inspections from CSV (`flask inspections import FILE.csv`).

Columns (DESIGN §5.1): client_uuid, village_code, observed_at, lon, lat, garbage_stable,
sewage_treated, village_clean, households, households_with_tap, status. Booleans are `true` / `是`
or `false` / `否`; an empty cell means the aspect was not answered. `observed_at` is ISO 8601 with
an offset. `status` is a stored status or a Chinese review word (通过, 退回, 不通过 / 驳回). The file
is UTF-8 with or without BOM, or GB18030/GBK (detected); other columns are ignored and named.

The import is all or nothing: every row is checked first and every bad row is reported with its
line number (the header is line 1); nothing is written when there is one. Rows whose `client_uuid`
is already stored are skipped and reported, so running the same file twice changes nothing.
Rows are written with bulk inserts in batches, in the caller's transaction.

`import_upload` is the administrators' upload of any of the three files (division CSV, boundary
GeoJSON, this CSV): the same functions as the flask commands, limited to the administrator's
scope, as a dry-run preview or a commit.
"""
import csv
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select

from app import geo
from app.domain import is_met
from app.errors import Conflict
from app.extensions import db
from app.models import STATUSES, Division, Inspection
from app.models.types import utcnow
from app.services.audit import record_audit
from app.services.csvtext import BOOLEAN_WORDS, STATUS_WORDS, YES_NO_HELP, encoding_label, ignored_columns
from app.services.divisions import (
    PREVIEW_MAX_FEATURES,
    ImportFailed,
    import_boundaries,
    import_divisions,
    outside_scope,
    read_import_csv,
    scope_problem,
)
from app.services.village_status import refresh_village_latest

COLUMNS = ("client_uuid", "village_code", "observed_at", "lon", "lat", "garbage_stable", "sewage_treated",
           "village_clean", "households", "households_with_tap", "status")
REQUIRED_COLUMNS = ("client_uuid", "village_code", "observed_at", "status")
BOOLEANS = BOOLEAN_WORDS
INSERT_BATCH = 5000
LOOKUP_BATCH = 2000


@dataclass
class InspectionImportResult:
    rows: int = 0
    created: int = 0
    skipped: list = field(default_factory=list)  # [(line, client_uuid)] already stored
    encoding: str | None = None
    ignored_columns: list = field(default_factory=list)
    dry_run: bool = False
    preview: list = field(default_factory=list)   # dry run: the rows, each with its `change`
    features: list = field(default_factory=list)  # dry run: a point per row to draw

    def as_dict(self):
        return {"rows": self.rows, "created": self.created, "skipped": len(self.skipped)}


def _parse_row(row, villages, scope_code=None):
    """One CSV row -> (values for the inspections table, None) or (None, [every (message, message_zh)])."""
    found = []
    client_uuid = code = observed_at = status = point = None
    try:
        client_uuid = uuid.UUID(row["client_uuid"])
    except ValueError:
        found.append((f"client_uuid {row['client_uuid']!r} is not a UUID", f"client_uuid {row['client_uuid']!r} 不是 UUID"))
    code = row["village_code"]
    if code not in villages:
        found.append((f"village_code {code!r} is not a village in the division table",
                      f"村代码 {code!r} 不是行政区划表中的村"))
    elif outside_scope(code, scope_code):
        found.append(scope_problem("village", code, scope_code))
    try:
        observed_at = datetime.fromisoformat(row["observed_at"].replace("Z", "+00:00"))
    except ValueError:
        found.append((f"observed_at {row['observed_at']!r} is not an ISO 8601 time",
                      f"巡查时间 {row['observed_at']!r} 不是 ISO 8601 时间（如 2026-06-01T10:00:00+08:00）"))
    else:
        if observed_at.tzinfo is None:
            found.append((f"observed_at {row['observed_at']!r} has no UTC offset (write e.g. +08:00)",
                          f"巡查时间 {row['observed_at']!r} 缺少时区（如 +08:00）"))
        elif observed_at > utcnow():
            found.append((f"observed_at {row['observed_at']} is in the future", f"巡查时间 {row['observed_at']} 晚于现在"))
    status = STATUS_WORDS.get(row["status"], row["status"].lower())
    if status not in STATUSES:
        found.append((f"status {row['status']!r} is not one of {', '.join(STATUSES)} (or 通过, 退回, 不通过, 驳回)",
                      f"状态 {row['status']!r} 无效（应为 通过、退回、不通过、驳回 或 {', '.join(STATUSES)}）"))

    lon, lat = row.get("lon", ""), row.get("lat", "")
    if bool(lon) != bool(lat):
        found.append(("give both lon and lat, or neither", "经度和纬度须同时填写或同时留空"))
    elif lon:
        try:
            lon, lat = float(lon), float(lat)
        except ValueError:
            found.append((f"lon/lat {row['lon']!r}, {row['lat']!r} are not numbers",
                          f"经纬度 {row['lon']!r}, {row['lat']!r} 不是数字"))
        else:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                found.append((f"lon/lat {lon}, {lat} are out of range", f"经纬度 {lon}, {lat} 超出范围"))
            else:
                point = geo.to_db(geo.point(lon, lat))

    answers = {}
    for name in ("garbage_stable", "sewage_treated", "village_clean"):
        value = row.get(name, "").lower()
        if value not in BOOLEANS:
            found.append((f"{name} {row[name]!r} must be {YES_NO_HELP}", f"{name} {row[name]!r} 应为 是、否 或留空"))
        answers[name] = BOOLEANS.get(value)

    counts = {}
    for name in ("households", "households_with_tap"):
        value = row.get(name, "")
        if value and not value.isdigit():
            found.append((f"{name} {value!r} is not a whole number", f"{name} {value!r} 不是整数"))
            value = ""
        counts[name] = int(value) if value else None
    households, with_tap = counts["households"], counts["households_with_tap"]
    if with_tap is not None and households is None:
        found.append(("households_with_tap needs households", "填写了自来水入户数（households_with_tap）时须填写户数"))
    elif with_tap is not None and households < 1:
        found.append(("households must be at least 1 when households_with_tap is given",
                      "填写了自来水入户数时，户数至少为 1"))
    elif with_tap is not None and with_tap > households:
        found.append((f"households_with_tap {with_tap} is more than households {households}",
                      f"自来水入户数 {with_tap} 多于户数 {households}"))
    if found:
        return None, found

    values = {
        "client_uuid": client_uuid, "village_code": code, "observed_at": observed_at, "status": status,
        "location": point, "location_input": {"lat": lat, "lon": lon, "crs": "wgs84"} if point else None,
        **answers, "households": households,
        # tap water is answered when households_with_tap is given; met by the checklist's rule
        "tap_water": None if with_tap is None else is_met("tap_water", {"households": households,
                                                                        "households_with_tap": with_tap}),
        "tap_households": households if with_tap is not None else None,
        "tap_households_with_tap": with_tap,
    }
    return values, None


def _existing_uuids(uuids):
    found = set()
    uuids = list(uuids)
    for start in range(0, len(uuids), LOOKUP_BATCH):
        chunk = uuids[start:start + LOOKUP_BATCH]
        found.update(db.session.scalars(select(Inspection.client_uuid).where(Inspection.client_uuid.in_(chunk))))
    return found


def import_inspections(source, *, actor=None, progress=None, file_name=None, scope_code=None, dry_run=False):
    """Import historical inspections from CSV (a path, CSV text, bytes or a stream; UTF-8 with or
    without BOM, or GB18030/GBK, detected).

    `progress(n)` is called as rows are checked and as they are written (2 × rows in all).
    Raises ImportFailed (422, every bad line listed in English and Chinese) and writes nothing when
    a row is bad. `scope_code` (an administrator's scope, from the API) makes a village outside it
    a problem of its line. `dry_run` runs every check and counts, writes nothing, and returns the
    rows with their village names and a point per row for a preview.
    """
    reader, encoding = read_import_csv(source)
    header = reader.fieldnames
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFailed([(1, f"missing column(s): {', '.join(missing)}", f"缺少列：{', '.join(missing)}")],
                           what="line")
    villages = set(db.session.scalars(select(Division.code).where(Division.level == "village")))

    rows, problems, seen = [], [], {}
    try:
        for line, raw in enumerate(reader, start=2):
            row = {c: (raw.get(c) or "").strip() for c in COLUMNS}
            values, messages = _parse_row(row, villages, scope_code)
            if messages is None and values["client_uuid"] in seen:
                first = seen[values["client_uuid"]]
                messages = [(f"client_uuid {values['client_uuid']} already given on line {first}",
                             f"client_uuid {values['client_uuid']} 已在第 {first} 行出现")]
            if messages:
                problems.extend((line, en, zh) for en, zh in messages)
            else:
                seen[values["client_uuid"]] = line
                rows.append(values)
            if progress and line % 1000 == 0:
                progress(1000)
    except csv.Error as error:
        problems.append((reader.line_num, f"not readable as CSV: {error}", "不是可读的 CSV 文件"))
    if progress:
        progress((len(rows) + len({p[0] for p in problems})) % 1000)
    if problems:
        raise ImportFailed(problems, what="line")

    result = InspectionImportResult(rows=len(rows), encoding=encoding, dry_run=dry_run,
                                    ignored_columns=ignored_columns(header, COLUMNS))
    existing = _existing_uuids(seen)
    if existing:
        result.skipped = sorted((seen[u], str(u)) for u in existing)
        if progress:
            progress(len(existing))
    if dry_run:
        result.created = len(rows) - len(existing)
        _preview(result, rows, existing, seen)
        return result
    rows = [r for r in rows if r["client_uuid"] not in existing]

    now = utcnow()
    common = {"source": "import", "version": 1, "answers": {}, "flag_count": 0,
              "created_at": now, "submitted_at": now, "updated_at": now}
    table = Inspection.__table__
    for start in range(0, len(rows), INSERT_BATCH):
        batch = [{**common, **r} for r in rows[start:start + INSERT_BATCH]]
        db.session.execute(insert(table), batch)
        if progress:
            progress(len(batch))
    result.created = len(rows)
    approved = [r for r in rows if r["status"] == "approved"]
    if approved:
        refresh_village_latest({r["village_code"] for r in approved}, since=min(r["observed_at"] for r in approved))
    record_audit("inspections.imported", "inspection_import", uuid.uuid4().hex, actor=actor,
                 division_code=scope_code,
                 details={"file": file_name, **result.as_dict(),
                          "skipped_client_uuids": [u for _, u in result.skipped][:1000]})
    db.session.flush()
    return result


def _preview(result, rows, existing, seen):
    """A dry run's rows (with village names; `change` created, or unchanged when the client_uuid is
    stored), a point per row (its own location, else its village's) and, to show where they are,
    the outline of each village named (`change` = context)."""
    codes = sorted({r["village_code"] for r in rows})
    villages = {}
    for start in range(0, len(codes), LOOKUP_BATCH):
        for code, name, point, boundary in db.session.execute(
                select(Division.code, Division.name, Division.point_geom, Division.boundary_geom)
                .where(Division.code.in_(codes[start:start + LOOKUP_BATCH]))):
            villages[code] = (name, geo.from_db(point))
            if boundary is not None and len(result.features) < PREVIEW_MAX_FEATURES:
                result.features.append({"type": "Feature", "geometry": geo.to_geojson(geo.from_db(boundary)),
                                        "properties": {"code": code, "name": name, "change": "context"}})
    for r in rows[:PREVIEW_MAX_FEATURES]:
        name, village_point = villages.get(r["village_code"], (None, None))
        change = "unchanged" if r["client_uuid"] in existing else "created"
        row = {"line": seen[r["client_uuid"]], "client_uuid": str(r["client_uuid"]), "village_code": r["village_code"],
               "village_name": name, "observed_at": r["observed_at"].isoformat(), "status": r["status"],
               "garbage_stable": r["garbage_stable"], "sewage_treated": r["sewage_treated"],
               "village_clean": r["village_clean"], "households": r["households"],
               "households_with_tap": r["tap_households_with_tap"], "change": change}
        result.preview.append(row)
        shape = geo.from_db(r["location"]) if r["location"] is not None else village_point
        if shape is not None:
            result.features.append({"type": "Feature", "geometry": geo.to_geojson(shape),
                                    "properties": {"line": row["line"], "code": r["village_code"], "name": name,
                                                   "status": r["status"], "change": change}})


# --- the administrators' uploads (POST /api/v1/admin/imports/<kind>) --------------------------

IMPORT_KINDS = ("divisions", "boundaries", "inspections")


def import_upload(kind, data, user, *, dry_run=True, file_name=None, preview_sha256=None):
    """One uploaded file through the same function as its flask command, limited to `user`'s scope:
    a dry run answers the preview (counts, rows, shapes), a commit stores and is audited. A commit
    naming the preview's sha256 must carry the same bytes (409 otherwise)."""
    digest = hashlib.sha256(data).hexdigest()
    if preview_sha256 is not None and preview_sha256 != digest:
        raise Conflict("This is not the file that was previewed; preview it again.",
                       message_zh="这不是预览过的文件，请重新预览。",
                       details={"sha256": digest, "preview_sha256": preview_sha256})
    scope = user.scope_code
    answer = {"kind": kind, "dry_run": dry_run, "committed": not dry_run, "file_name": file_name, "sha256": digest,
              "bytes": len(data), "encoding": None, "ignored_columns": [], "rows": [], "features": None}
    if kind == "inspections":
        result = import_inspections(data, actor=user, file_name=file_name, scope_code=scope, dry_run=dry_run)
        answer["counts"] = {"created": result.created, "updated": 0, "unchanged": len(result.skipped)}
        rows = result.preview
    else:
        if kind == "divisions":
            result = import_divisions(data, scope_code=scope, dry_run=dry_run)
        else:
            result = import_boundaries(data, scope_code=scope, dry_run=dry_run)
        answer["counts"] = result.as_dict()
        rows = result.rows
        if not dry_run:
            record_audit(f"{kind}.imported", f"{kind[:-1]}_import", uuid.uuid4().hex, actor=user, division_code=scope,
                         details={"file": file_name, "sha256": digest, **result.as_dict()})
    answer.update(encoding=encoding_label(result.encoding) if result.encoding else None,
                  ignored_columns=result.ignored_columns)
    if dry_run:
        answer["rows"] = rows[:PREVIEW_MAX_FEATURES]
        answer["features"] = {"type": "FeatureCollection", "features": result.features}
    db.session.flush()
    return answer
