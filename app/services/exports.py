"""Exports of rates and inspections: CSV, XLSX and GeoJSON, streamed with bounded memory.

Rates exports carry a header block (division, period, definition) above the table; the table has
the same numbers as the JSON answer, as numbers. `lang="zh"` gives Chinese column headers.
Inspection exports read the database in chunks (a server-side cursor on PostgreSQL) and write as
they read, and every file export sends its headers at once (an empty first chunk), before the
body is ready:

- CSV: on PostgreSQL the server writes it (`COPY (SELECT …) TO STDOUT`, the values formatted in
  SQL exactly as the Python writer formats them), streamed block by block; on SQLite csv.writer.
- XLSX: rustpy-xlsxwriter (rust_xlsxwriter) in constant-memory mode writes the rows as they are
  read into a temporary file, which is then streamed; the column titles are bold, frozen and
  printed on every page (A4 landscape, one page wide). The rates sheet keeps its header block above
  the table (`grid_records`).
- GeoJSON: features written as text per row.
"""
import csv
import io
import json
import os
import secrets
import tempfile
from datetime import timedelta, timezone

from rustpy_xlsxwriter import Format, write_worksheet
from sqlalchemy import func, select

from app import geo
from app.access import inspection_filters
from app.extensions import db
from app.models import METRICS, Division, Inspection, subtree
from app.models.types import CHINA

CHUNK_ROWS = 2000
FILE_CHUNK = 1 << 16
# Asia/Shanghai has kept +08:00 all year since 1991: a fixed offset converts far faster than the zone
CHINA_OFFSET = timezone(timedelta(hours=8), "CST")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "geojson": "application/geo+json"}

METRIC_ZH = {"garbage_stable": "垃圾收转运体系稳定运行", "sewage_treated": "生活污水治理",
             "village_clean": "村庄干净整洁有序", "tap_water": "自来水入户"}
FIELD_ZH = {
    "code": "区划代码", "name": "名称", "level": "层级", "population": "纳入统计村数", "kind": "村类型",
    "counted": "是否纳入统计", "households": "户数", "met": "达标", "not_met": "未达标", "unknown": "未知",
    "rate": "达标率", "coverage": "覆盖率", "target": "目标", "gap": "差距", "on_target": "是否达到目标",
    "status": "状态", "inspection_id": "巡查记录编号", "households_known": "已知户数",
    "households_met": "达标户数", "households_rate": "按户达标率", "households_with_tap": "通自来水户数",
}
HEADER_ZH = {"division": "行政区划", "period": "统计期", "level": "细分层级", "as_of": "计算时间",
             "validity_days": "有效期（天）", "counted_kinds": "纳入统计的村类型", "window": "取数时间窗（北京时间）",
             "rule": "口径", "total": "合计"}
STATUS_ZH = {"met": "达标", "not_met": "未达标", "unknown": "未知"}
LEVEL_ZH = {"province": "省", "city": "市", "county": "县", "township": "乡镇", "village": "村"}
INSPECTION_ZH = {
    "id": "编号", "client_uuid": "客户端编号", "village_code": "村代码", "village_name": "村名称",
    "observed_at": "巡查时间（北京时间）", "status": "状态", "version": "版本", "source": "来源",
    "lat": "纬度", "lon": "经度", "accuracy_m": "定位精度（米）", "garbage_stable": METRIC_ZH["garbage_stable"],
    "sewage_treated": METRIC_ZH["sewage_treated"], "village_clean": METRIC_ZH["village_clean"],
    "tap_water": METRIC_ZH["tap_water"], "households": "户数", "sewage_households_covered": "污水治理覆盖户数",
    "tap_households": "自来水统计户数", "tap_households_with_tap": "通自来水户数", "flag_count": "预警数",
    "submitted_at": "提交时间（北京时间）", "decided_at": "审核时间（北京时间）",
}


# --- rates as a table -----------------------------------------------------------------------

def _division_columns():
    cols = [("code",), ("name",), ("level",), ("population",)]
    for m in METRICS:
        for f in ("met", "not_met", "unknown", "rate", "coverage", "target", "gap", "on_target"):
            cols.append((m, f))
        if m == "sewage_treated":
            cols += [(m, "households_known"), (m, "households_met"), (m, "households_rate")]
        if m == "tap_water":
            cols += [(m, "households"), (m, "households_met")]
    return cols


def _village_columns():
    cols = [("code",), ("name",), ("level",), ("kind",), ("counted",), ("households",)]
    for m in METRICS:
        cols += [(m, "status"), (m, "inspection_id")]
    cols += [("tap_water", "households_with_tap")]
    return cols


def rate_columns(level):
    return _village_columns() if level == "village" else _division_columns()


def column_title(column, lang):
    if lang != "zh":
        return ".".join(column)
    if len(column) == 1:
        return FIELD_ZH[column[0]]
    metric, name = column
    if metric == "tap_water" and name == "households":
        return f"{METRIC_ZH[metric]}·统计户数"
    return f"{METRIC_ZH[metric]}·{FIELD_ZH[name]}"


def rate_cell(row, column, lang):
    """The value of one cell: numbers stay numbers; words are translated with lang=zh."""
    if len(column) == 1:
        value = row.get(column[0])
        if column[0] == "level" and lang == "zh":
            return LEVEL_ZH.get(value, value)
        return value
    metric, name = column
    block = row["metrics"][metric]
    if name in ("households_known", "households_met", "households_rate") and metric == "sewage_treated":
        return block["households"][{"households_known": "known", "households_met": "met",
                                    "households_rate": "rate"}[name]]
    value = block.get(name)
    if name == "status" and lang == "zh":
        return STATUS_ZH[value]
    return value


def rates_header_block(result, lang):
    d, definition = result["division"], result["definition"]
    zh = lang == "zh"
    label = (lambda k: HEADER_ZH[k]) if zh else (lambda k: k)
    window = definition["window"]
    lines = [
        [label("division"), d["code"], d["name"]],
        [label("period"), result["period"], definition["period"]["start"], definition["period"]["end"]],
        [label("level"), LEVEL_ZH[result["level"]] if zh else result["level"]],
        [label("as_of"), result["as_of"].astimezone(CHINA).isoformat()],
        [label("validity_days"), definition["validity_days"]],
        [label("counted_kinds"), ", ".join(definition["counted_kinds"])],
        [label("window"), window["from"], window["to"]],
    ]
    lines += [[label("rule"), name, rule] for name, rule in definition["rules"].items()]
    return lines


def rates_table(result, lang):
    """(header block lines, column titles, data rows) — the division's total is the last row."""
    columns = rate_columns(result["level"])
    rows = [[rate_cell(r, c, lang) for c in columns] for r in result["rows"]]
    if result["level"] != "village":
        total = [rate_cell(result["division"], c, lang) for c in columns]
        total[2] = HEADER_ZH["total"] if lang == "zh" else "total"
        rows.append(total)
    return rates_header_block(result, lang), [column_title(c, lang) for c in columns], rows


def _csv_line(values):
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


def rates_csv(result, lang="en"):
    header, titles, rows = rates_table(result, lang)
    yield "\ufeff"  # Excel opens UTF-8 CSV with Chinese text correctly only with a BOM
    for line in header:
        yield _csv_line(line)
    yield _csv_line([])
    yield _csv_line(titles)
    for row in rows:
        yield _csv_line(row)


def _file_chunks(path):
    with open(path, "rb") as f:
        while chunk := f.read(FILE_CHUNK):
            yield chunk


HEADER_FORMAT = Format().set_bold().set_text_wrap()
PRINT_SETUP = {"landscape": True, "repeat_rows": 0, "fit_to_pages": (1, 0), "paper_size": 9}  # A4


def grid_records(lines):
    """Lines of cells (lists) as the records rustpy-xlsxwriter writes, so that the sheet shows the
    lines as they are from A1 down.

    The writer takes its header row from the first record's keys and places every later value by
    key (a key first seen in a later record opens a new column with an empty header cell; an empty
    string is never written). So the first line's cells are the keys of columns A, B, ... (they must
    be distinct, non-empty strings), the first record (the second line) may open one more column
    under the key "", and every further column gets a key of its own."""
    first = lines[0]
    if len(set(first)) != len(first) or not all(isinstance(c, str) and c for c in first):
        raise ValueError("the first line must be distinct, non-empty strings")
    keys = list(first) + [""]
    for n, line in enumerate(lines[1:]):
        if n == 0 and len(line) > len(keys):
            raise ValueError("the second line may be at most one cell longer than the first")
        while len(keys) < len(line):
            keys.append(f"\x00{len(keys)}")
        yield dict(zip(keys, line))


def rates_xlsx(result, lang="en"):
    """The header block, a blank line, the column titles (bold, frozen, printed on every page) and
    the table, written by rustpy-xlsxwriter into a temporary file, then streamed."""
    yield b""
    header, titles, rows = rates_table(result, lang)
    lines = header + [[], titles] + rows
    title_row = len(header) + 1
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        path = os.path.join(folder, "rates.xlsx")
        write_worksheet(grid_records(lines), path, sheet_name="rates" if lang != "zh" else "达标率",
                        freeze_row=title_row + 1, row_formats={title_row: HEADER_FORMAT},
                        page_setup={**PRINT_SETUP, "repeat_rows": title_row})
        yield from _file_chunks(path)


def _feature(geometry, properties):
    return json.dumps({"type": "Feature", "geometry": geo.to_geojson(geometry), "properties": properties},
                      ensure_ascii=False)


def rates_geojson(result, lang="en"):
    """Features for each row (boundary, else point) with the rates or statuses flattened."""
    level, division = result["level"], result["division"]
    geometry = {code: (geo.from_db(b) if b is not None else geo.from_db(p)) for code, b, p in db.session.execute(
        select(Division.code, Division.boundary_geom, Division.point_geom)
        .where(Division.level == level, subtree(Division.code, division["code"]))
    )}
    columns = rate_columns(level)
    head = {"type": "FeatureCollection", "division": {k: division[k] for k in ("code", "name", "level")},
            "period": result["period"], "level": level, "definition": result["definition"]}
    text = json.dumps(head, ensure_ascii=False, default=str)
    yield text[:-1] + ', "features": ['
    for n, row in enumerate(result["rows"]):
        props = {column_title(c, "en"): rate_cell(row, c, "en") for c in columns}
        yield ("," if n else "") + _feature(geometry.get(row["code"]), props)
    yield "]}"


RATE_EXPORTS = {"csv": rates_csv, "xlsx": rates_xlsx, "geojson": rates_geojson}


# --- inspections ----------------------------------------------------------------------------

INSPECTION_COLUMNS = ("id", "client_uuid", "village_code", "village_name", "observed_at", "status", "version",
                      "source", "lat", "lon", "accuracy_m", "garbage_stable", "sewage_treated", "village_clean",
                      "tap_water", "households", "sewage_households_covered", "tap_households",
                      "tap_households_with_tap", "flag_count", "submitted_at", "decided_at")


def inspection_export_query(user, **filters):
    """The filtered, scoped inspections (the list's filters) as one SELECT of plain columns."""
    i = Inspection
    return (
        select(i.id, i.client_uuid, i.village_code, Division.name.label("village_name"), i.observed_at, i.status,
               i.version, i.source, func.ST_Y(i.location_geom).label("lat"), func.ST_X(i.location_geom).label("lon"),
               i.accuracy_m, i.garbage_stable, i.sewage_treated, i.village_clean, i.tap_water, i.households,
               i.sewage_households_covered, i.tap_households, i.tap_households_with_tap, i.flag_count,
               i.submitted_at, i.decided_at)
        .join(Division, Division.code == i.village_code)
        .where(*inspection_filters(user, **filters))
        .order_by(i.id)
    )


TIME_INDEXES = tuple(INSPECTION_COLUMNS.index(c) for c in ("observed_at", "submitted_at", "decided_at"))
UUID_INDEX = INSPECTION_COLUMNS.index("client_uuid")


def _inspection_values(row, lang):
    """One row's cells in INSPECTION_COLUMNS order (the export query selects exactly them): times in
    China time (ISO 8601 with offset), the client uuid as text, the rest as they are."""
    values = list(row)
    for i in TIME_INDEXES:
        if values[i] is not None:
            values[i] = values[i].astimezone(CHINA_OFFSET).isoformat()
    values[UUID_INDEX] = str(values[UUID_INDEX])
    return values


def _stream_rows(stmt):
    """Rows (tuples in the statement's column order) in chunks: on PostgreSQL from a server-side
    cursor of the driver itself, whose C loaders convert the values (timestamps come aware, uuids
    as UUID), without SQLAlchemy's per-row processing; on SQLite chunked fetches of the session."""
    bind = db.session.get_bind()
    if bind.dialect.name != "postgresql":
        result = db.session.execute(stmt.execution_options(yield_per=CHUNK_ROWS))
        for partition in result.partitions():
            yield from partition
        return
    compiled = stmt.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
    driver = db.session.connection().connection.dbapi_connection
    with driver.cursor(name=f"export_{secrets.token_hex(6)}") as cursor:
        cursor.itersize = CHUNK_ROWS
        cursor.execute(str(compiled), compiled.params)
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield from rows


def inspection_titles(lang):
    return [INSPECTION_ZH[c] if lang == "zh" else c for c in INSPECTION_COLUMNS]


def inspections_csv(stmt, lang="en"):
    yield "\ufeff" + _csv_line(inspection_titles(lang))
    if db.session.get_bind().dialect.name == "postgresql":
        yield from _copy_csv(stmt)
    else:
        yield from _written_csv(stmt)


def _written_csv(stmt):
    """The rows as CSV written by csv.writer, in chunks of CHUNK_ROWS rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for n, row in enumerate(_stream_rows(stmt), start=1):
        writer.writerow(_inspection_values(row, "en"))  # csv.writer writes None as an empty field
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# COPY: each column formatted by the server as the Python writer formats it (times as
# datetime.isoformat() in China time, booleans True/False, floats as repr(), NULL as an empty field)
def _china_iso_sql(column):
    local = f"({column} AT TIME ZONE 'Asia/Shanghai')"
    return (f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_part('microseconds', {column})::bigint "
            f"%% 1000000 <> 0 THEN to_char({local}, '.US') ELSE '' END || '+08:00'")


def _copy_column(name):
    column = f"e.{name}"
    if name in ("observed_at", "submitted_at", "decided_at"):
        return _china_iso_sql(column)
    if name in ("garbage_stable", "sewage_treated", "village_clean", "tap_water"):
        return f"CASE WHEN {column} THEN 'True' WHEN NOT {column} THEN 'False' END"
    if name in ("lat", "lon", "accuracy_m"):
        return f"CASE WHEN {column}::text ~ '^-?[0-9]+$' THEN {column}::text || '.0' ELSE {column}::text END"
    return column


def _copy_csv(stmt):
    """The rows as CSV written by PostgreSQL (COPY … TO STDOUT), in blocks; lines end in CRLF like
    csv.writer's (no exported column holds a line break)."""
    compiled = stmt.compile(dialect=db.session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    columns = ", ".join(_copy_column(name) for name in INSPECTION_COLUMNS)
    copy_sql = f"COPY (SELECT {columns} FROM ({compiled}) AS e ORDER BY e.id) TO STDOUT WITH (FORMAT csv)"
    driver = db.session.connection().connection.dbapi_connection
    with driver.cursor() as cursor, cursor.copy(copy_sql, compiled.params) as copy:
        for block in copy:
            yield bytes(block).replace(b"\n", b"\r\n")


def inspections_xlsx(stmt, lang="en"):
    """The inspections as XLSX: rustpy-xlsxwriter in constant memory, written row by row as the
    database is read into a temporary file, then streamed; headers are sent first."""
    yield b""
    titles = inspection_titles(lang)
    rows = (dict(zip(titles, _inspection_values(row, lang))) for row in _stream_rows(stmt))
    first = next(rows, None)
    # the writer takes its header row from the first record: with no rows, one empty record
    records = _chain([first], rows) if first is not None else iter([dict.fromkeys(titles)])
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        path = os.path.join(folder, "inspections.xlsx")
        write_worksheet(records, path, sheet_name="inspections" if lang != "zh" else "巡查记录",
                        freeze_row=1, header_format=HEADER_FORMAT, page_setup=PRINT_SETUP)
        yield from _file_chunks(path)


def _chain(head, tail):
    yield from head
    yield from tail


def inspections_geojson(stmt, lang="en"):
    yield '{"type": "FeatureCollection", "features": ['
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    pieces = []
    for n, row in enumerate(_stream_rows(stmt)):
        values = dict(zip(INSPECTION_COLUMNS, _inspection_values(row, "en")))
        lon, lat = values["lon"], values["lat"]
        geometry = "null" if lat is None else dumps({"type": "Point", "coordinates": [lon, lat]})
        pieces.append(f'{"," if n else ""}{{"type": "Feature", "geometry": {geometry}, "properties": {dumps(values)}}}')
        if len(pieces) == CHUNK_ROWS:
            yield "".join(pieces)
            pieces = []
    yield "".join(pieces) + "]}"


INSPECTION_EXPORTS = {"csv": inspections_csv, "xlsx": inspections_xlsx, "geojson": inspections_geojson}


def export_filename(stem, fmt):
    return f"{stem}.{fmt}"
