"""Exports of rates and inspections: CSV, XLSX and GeoJSON, streamed with bounded memory.

Rates exports carry a header block (division, period, definition) above the table; the table has
the same numbers as the JSON answer, as numbers. `lang="zh"` gives Chinese column headers.
Inspection exports read the database in chunks (a server-side cursor on PostgreSQL) and write as
they read: CSV and GeoJSON are yielded piece by piece; XLSX is written by openpyxl's write-only
workbook to a temporary file, then streamed from it.
"""
import csv
import io
import json
import tempfile

from openpyxl import Workbook
from sqlalchemy import func, select

from app import geo
from app.access import inspection_filters
from app.extensions import db
from app.models import METRICS, Division, Inspection, subtree
from app.models.types import CHINA

CHUNK_ROWS = 2000
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


def _xlsx_stream(write_rows):
    """Write with openpyxl's write-only workbook into a temporary file; yield its bytes."""
    workbook = Workbook(write_only=True)
    write_rows(workbook)
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(1 << 16):
            yield chunk


def rates_xlsx(result, lang="en"):
    header, titles, rows = rates_table(result, lang)

    def write(workbook):
        sheet = workbook.create_sheet("rates" if lang != "zh" else "达标率")
        for line in header:
            sheet.append(line)
        sheet.append([])
        sheet.append(titles)
        for row in rows:
            sheet.append(row)

    return _xlsx_stream(write)


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


def _inspection_values(row, lang):
    values = []
    for name in INSPECTION_COLUMNS:
        value = getattr(row, name)
        if name in ("observed_at", "submitted_at", "decided_at") and value is not None:
            value = value.astimezone(CHINA).isoformat()
        elif name == "client_uuid":
            value = str(value)
        values.append(value)
    return values


def _stream_rows(stmt):
    """Rows in chunks: a server-side cursor on PostgreSQL, chunked fetches on SQLite."""
    result = db.session.execute(stmt.execution_options(yield_per=CHUNK_ROWS))
    for partition in result.partitions():
        yield from partition


def inspection_titles(lang):
    return [INSPECTION_ZH[c] if lang == "zh" else c for c in INSPECTION_COLUMNS]


def inspections_csv(stmt, lang="en"):
    yield "\ufeff" + _csv_line(inspection_titles(lang))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for n, row in enumerate(_stream_rows(stmt), start=1):
        writer.writerow(["" if v is None else v for v in _inspection_values(row, lang)])
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def inspections_xlsx(stmt, lang="en"):
    def write(workbook):
        sheet = workbook.create_sheet("inspections" if lang != "zh" else "巡查记录")
        sheet.append(inspection_titles(lang))
        for row in _stream_rows(stmt):
            sheet.append(_inspection_values(row, lang))

    return _xlsx_stream(write)


def inspections_geojson(stmt, lang="en"):
    yield '{"type": "FeatureCollection", "features": ['
    for n, row in enumerate(_stream_rows(stmt)):
        values = dict(zip(INSPECTION_COLUMNS, _inspection_values(row, "en")))
        point = geo.point(values["lon"], values["lat"]) if values["lat"] is not None else None
        yield ("," if n else "") + _feature(point, values)
    yield "]}"


INSPECTION_EXPORTS = {"csv": inspections_csv, "xlsx": inspections_xlsx, "geojson": inspections_geojson}


def export_filename(stem, fmt):
    return f"{stem}.{fmt}"
