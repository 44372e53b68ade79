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
"""
import csv
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select

from app import geo
from app.extensions import db
from app.models import STATUSES, Division, Inspection
from app.models.types import utcnow
from app.services.audit import record_audit
from app.services.csvtext import (
    BOOLEAN_WORDS,
    STATUS_WORDS,
    YES_NO_HELP,
    UnreadableCSV,
    csv_rows,
    ignored_columns,
    read_csv_text,
)
from app.domain import is_met
from app.services.divisions import ImportFailed
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

    def as_dict(self):
        return {"rows": self.rows, "created": self.created, "skipped": len(self.skipped)}


def _parse_row(row, villages):
    """One CSV row -> (values for the inspections table, None) or (None, [every message])."""
    found = []
    client_uuid = code = observed_at = status = point = None
    try:
        client_uuid = uuid.UUID(row["client_uuid"])
    except ValueError:
        found.append(f"client_uuid {row['client_uuid']!r} is not a UUID")
    code = row["village_code"]
    if code not in villages:
        found.append(f"village_code {code!r} is not a village in the division table")
    try:
        observed_at = datetime.fromisoformat(row["observed_at"].replace("Z", "+00:00"))
    except ValueError:
        found.append(f"observed_at {row['observed_at']!r} is not an ISO 8601 time")
    else:
        if observed_at.tzinfo is None:
            found.append(f"observed_at {row['observed_at']!r} has no UTC offset (write e.g. +08:00)")
        elif observed_at > utcnow():
            found.append(f"observed_at {row['observed_at']} is in the future")
    status = STATUS_WORDS.get(row["status"], row["status"].lower())
    if status not in STATUSES:
        found.append(f"status {row['status']!r} is not one of {', '.join(STATUSES)} "
                     f"(or 通过, 退回, 不通过, 驳回)")

    lon, lat = row.get("lon", ""), row.get("lat", "")
    if bool(lon) != bool(lat):
        found.append("give both lon and lat, or neither")
    elif lon:
        try:
            lon, lat = float(lon), float(lat)
        except ValueError:
            found.append(f"lon/lat {row['lon']!r}, {row['lat']!r} are not numbers")
        else:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                found.append(f"lon/lat {lon}, {lat} are out of range")
            else:
                point = geo.to_db(geo.point(lon, lat))

    answers = {}
    for name in ("garbage_stable", "sewage_treated", "village_clean"):
        value = row.get(name, "").lower()
        if value not in BOOLEANS:
            found.append(f"{name} {row[name]!r} must be {YES_NO_HELP}")
        answers[name] = BOOLEANS.get(value)

    counts = {}
    for name in ("households", "households_with_tap"):
        value = row.get(name, "")
        if value and not value.isdigit():
            found.append(f"{name} {value!r} is not a whole number")
            value = ""
        counts[name] = int(value) if value else None
    households, with_tap = counts["households"], counts["households_with_tap"]
    if with_tap is not None and households is None:
        found.append("households_with_tap needs households")
    elif with_tap is not None and households < 1:
        found.append("households must be at least 1 when households_with_tap is given")
    elif with_tap is not None and with_tap > households:
        found.append(f"households_with_tap {with_tap} is more than households {households}")
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


def import_inspections(source, *, actor=None, progress=None, file_name=None):
    """Import historical inspections from CSV (a path, CSV text, bytes or a stream; UTF-8 with or
    without BOM, or GB18030/GBK, detected).

    `progress(n)` is called as rows are checked and as they are written (2 × rows in all).
    Raises ImportFailed (422, every bad line listed) and writes nothing when a row is bad.
    """
    try:
        text, encoding = read_csv_text(source)
        reader = csv_rows(text)
    except UnreadableCSV as error:
        raise ImportFailed([(1, str(error))], what="line") from None
    header = reader.fieldnames
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFailed([(1, f"missing column(s): {', '.join(missing)}")], what="line")
    villages = set(db.session.scalars(select(Division.code).where(Division.level == "village")))

    rows, problems, seen = [], [], {}
    try:
        for line, raw in enumerate(reader, start=2):
            row = {c: (raw.get(c) or "").strip() for c in COLUMNS}
            values, messages = _parse_row(row, villages)
            if messages is None and values["client_uuid"] in seen:
                messages = [f"client_uuid {values['client_uuid']} already given on line {seen[values['client_uuid']]}"]
            if messages:
                problems.extend((line, message) for message in messages)
            else:
                seen[values["client_uuid"]] = line
                rows.append(values)
            if progress and line % 1000 == 0:
                progress(1000)
    except csv.Error as error:
        problems.append((reader.line_num, f"not readable as CSV: {error}"))
    if progress:
        progress((len(rows) + len({line for line, _ in problems})) % 1000)
    if problems:
        raise ImportFailed(problems, what="line")

    result = InspectionImportResult(rows=len(rows), encoding=encoding,
                                    ignored_columns=ignored_columns(header, COLUMNS))
    existing = _existing_uuids(seen)
    if existing:
        result.skipped = sorted((seen[u], str(u)) for u in existing)
        rows = [r for r in rows if r["client_uuid"] not in existing]
        if progress:
            progress(len(existing))

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
                 details={"file": file_name, **result.as_dict(),
                          "skipped_client_uuids": [u for _, u in result.skipped][:1000]})
    db.session.flush()
    return result
