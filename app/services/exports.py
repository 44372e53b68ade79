"""Exports of rates and inspections: CSV, XLSX and GeoJSON, streamed with bounded memory.

Rates exports carry a header block (division, period, definition) above the table; the table has
the same numbers as the JSON answer, as numbers. `lang="zh"` gives Chinese column headers and the
definition (口径) in Chinese. Inspection exports read the database in chunks (a server-side cursor
on PostgreSQL) and write as they read, and every file export sends its headers at once (an empty
first chunk), before the body is ready:

- CSV: on PostgreSQL the server writes it (`COPY (SELECT …) TO STDOUT`, the values formatted in
  SQL exactly as the Python writer formats them), streamed block by block; on SQLite csv.writer.
- XLSX: a report a clerk can hand up, written by rustpy-xlsxwriter (rust_xlsxwriter) in
  constant-memory mode into a temporary file, which is then streamed: a title block (what, which
  division and period, the 口径, data as of, generated at and by whom), the column titles frozen
  and printed on every page, rates as percentages, 是/否 (Yes/No), China-time dates, column widths,
  A4 landscape one page wide with page numbers. The rates workbook has a second sheet with every
  village's status per metric and the inspection (id and date) it comes from.
- GeoJSON: features written as text per row.
"""
import csv
import io
import json
import os
import secrets
import tempfile
from datetime import datetime, timedelta, timezone

from rustpy_xlsxwriter import Format, write_worksheets
from sqlalchemy import func, select

from app import geo
from app.access import inspection_filters
from app.database import read_session
from app.errors import ValidationFailed
from app.extensions import db
from app.models import METRICS, Division, Inspection, subtree
from app.models.types import CHINA
from app.services.rates import compute_rates, make_query, village_rows

CHUNK_ROWS = 2000
FILE_CHUNK = 1 << 16
# Asia/Shanghai has kept +08:00 all year since 1991: a fixed offset converts far faster than the zone
CHINA_OFFSET = timezone(timedelta(hours=8), "CST")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "geojson": "application/geo+json", "pdf": "application/pdf"}

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

# the definition (口径) in Chinese, rule by rule as services.rates.RULES states it in English
RULES_ZH = {
    "population": "纳入统计的村：该区划下在用、且村类型属于纳入统计类型的村（统计口径的分母）。",
    "status": ("每个村每项指标的状态，取统计期末前有效期内该村最近一次审核通过、且回答了该指标的巡查："
               "“是”为达标，“否”为未达标；同一时刻的两次以编号大者为准。有效期内没有这样的巡查为“未知”。"
               "已提交未审核、退回和不通过的巡查一律不计。"),
    "rate": "达标率 = 达标村数 ÷ 纳入统计村数；未知按未达标计。",
    "coverage": "覆盖率 =（达标 + 未达标）÷ 纳入统计村数：有有效审核结果的村所占比例。",
    "target": "目标取统计期所在年份的目标：本区划或最近的上级区划单独设定的，否则为当年默认目标，否则为 2026 年规划目标。",
    "gap": "差距 = max(0, ⌈目标 × 纳入统计村数⌉ − 达标村数)：还需多少个村达标。",
    "sewage_treated.households": "生活污水治理按户计：户数已知的纳入统计村中，污水已治理村的户数 ÷ 这些村的户数。",
    "tap_water": ("自来水入户按户计：通自来水户数 ÷ 统计户数，取每个纳入统计村最近一次审核通过的自来水回答"
                  "（两项户数齐全者）加总；差距以户计。"),
}
KIND_ZH = {"rural": "行政村", "urban": "社区", "farm": "农林场"}
YES_NO = {"zh": ("是", "否"), "en": ("Yes", "No")}
INSPECTION_STATUS_ZH = {"submitted": "待审核", "approved": "通过", "returned": "退回", "rejected": "不通过"}
SOURCE_ZH = {"app": "手机/网页", "openrosa": "ODK Collect", "import": "历史导入"}


def rules_text(definition, lang):
    """The definition's rules, in Chinese with lang=zh (same keys, same order)."""
    rules = definition["rules"]
    return {name: RULES_ZH.get(name, rule) for name, rule in rules.items()} if lang == "zh" else dict(rules)


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


def column_unit(column, lang):
    """What a rates column counts in (the report's titles say it): villages, households, or by
    village / by household for a rate."""
    if len(column) == 1:
        return None
    metric, name = column
    households = metric == "tap_water" and name in ("rate", "gap", "households", "households_met")
    households = households or name in ("households_known", "households_met")
    if name in ("rate", "coverage"):
        by = "households" if households else "villages"
        return {"households": "按户", "villages": "按村"}[by] if lang == "zh" else f"by {by[:-1]}"
    if name in ("met", "not_met", "unknown", "gap", "households", "households_known", "households_met"):
        return ("户" if households else "村") if lang == "zh" else ("households" if households else "villages")
    return None


def column_title(column, lang, units=False):
    """A rates column's title: `metric.field` (en) or its Chinese name; with `units` the unit after it."""
    if lang != "zh":
        title = ".".join(column)
    elif len(column) == 1:
        title = FIELD_ZH[column[0]]
    else:
        metric, name = column
        field = "统计户数" if metric == "tap_water" and name == "households" else FIELD_ZH[name]
        if metric == "tap_water" and name == "households_met":
            field = "通自来水户数"
        title = f"{METRIC_ZH[metric]}·{field}"
    unit = column_unit(column, lang) if units else None
    if unit is None:
        return title
    return f"{title}（{unit}）" if lang == "zh" else f"{title} ({unit})"


def rate_cell(row, column, lang, report=False):
    """The value of one cell: numbers stay numbers; words are translated with lang=zh, and
    true/false are 是/否 with lang=zh (Yes/No in an English report)."""
    if len(column) == 1:
        value = row.get(column[0])
        if column[0] == "level" and lang == "zh":
            return LEVEL_ZH.get(value, value)
    else:
        metric, name = column
        block = row["metrics"][metric]
        if name in ("households_known", "households_met", "households_rate") and metric == "sewage_treated":
            return block["households"][{"households_known": "known", "households_met": "met",
                                        "households_rate": "rate"}[name]]
        value = block.get(name)
        if name == "status" and lang == "zh":
            return STATUS_ZH[value]
    if isinstance(value, bool) and (lang == "zh" or report):
        return YES_NO[lang][0 if value else 1]
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
    lines += [[label("rule"), name, rule] for name, rule in rules_text(definition, lang).items()]
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


def rates_csv(result, lang="en", user=None):
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


# --- the XLSX report ------------------------------------------------------------------------

HEADER_FORMAT = Format().set_bold().set_text_wrap().set_align("center").set_align("vcenter") \
    .set_background_color("#D9E1F2").set_border("thin")
TITLE_FORMAT = Format().set_bold().set_font_size(15)
LABEL_FORMAT = Format().set_bold().set_align("top")
VALUE_FORMAT = Format().set_text_wrap().set_align("top")
TOTAL_FORMAT = Format().set_bold().set_background_color("#FFF2CC").set_border("thin")
PERCENT_FORMAT = Format().set_num_format("0.0%")
DATETIME_FORMAT = Format().set_num_format("yyyy-mm-dd hh:mm")
A4 = 9
MARGINS = {"left": 0.4, "right": 0.4, "top": 0.7, "bottom": 0.7, "header": 0.3, "footer": 0.3}
REPORT_ZH = {
    "rates_title": "{name}（{code}）农村人居环境整治达标率　{period}",
    "villages_title": "{name}（{code}）各村状态　{period}",
    "inspections_title": "巡查记录",
    "division": "行政区划", "period": "统计期", "level": "细分层级", "counted_kinds": "口径·纳入统计",
    "window": "口径·有效期", "unknown": "口径·未知", "as_of": "数据截至", "generated_at": "生成时间",
    "generated_by": "生成人", "rule": "口径", "scope": "可见范围", "filters": "筛选条件",
    "period_value": "{key}：{start} 至 {end}（北京时间）",
    "counted_value": "纳入统计的村类型：{kinds}；其他类型的村列出但不计入",
    "window_value": "每村每项取统计期末前 {days} 天内（{start} 至 {end}，北京时间）最近一次审核通过的巡查",
    "unknown_value": "有效期内无审核通过巡查的村为“未知”，计算达标率时按未达标计",
    "village_rule": ("状态取自每村有效期（{days} 天）内最近一次审核通过的巡查，列出其编号与巡查时间；"
                     "无则为“未知”（按未达标计）；不纳入统计的村标“不纳入统计”，不计入达标率"),
    "none": "无（可见范围内全部）", "sheet_rates": "达标率", "sheet_villages": "村级状态",
    "sheet_inspections": "巡查记录", "footer": "&C第 &P 页，共 &N 页", "time_note": "（北京时间）",
    "not_counted": "不纳入统计",
    "filter_names": {"status": "状态", "village": "村", "division": "区划", "date_from": "起始日期",
                     "date_to": "截止日期", "flag": "预警", "source": "来源"},
}
REPORT_EN = {
    "rates_title": "Rates report: {name} ({code}), {period}",
    "villages_title": "Village statuses: {name} ({code}), {period}",
    "inspections_title": "Inspections",
    "division": "Division", "period": "Period", "level": "Broken down by", "counted_kinds": "Counted",
    "window": "Validity window", "unknown": "Unknown", "as_of": "Data as of", "generated_at": "Generated at",
    "generated_by": "Generated by", "rule": "Rule", "scope": "Scope", "filters": "Filters",
    "period_value": "{key}: {start} to {end} (China time)",
    "counted_value": "village kinds counted: {kinds}; villages of other kinds are listed but not counted",
    "window_value": ("each village's latest approved inspection answering the metric, observed within {days} "
                     "days before the period's end ({start} to {end}, China time)"),
    "unknown_value": "a village without an approved answer in the window is unknown and counts as not met",
    "village_rule": ("each status comes from the village's latest approved inspection within {days} days (its id "
                     "and date are listed); none: unknown (counts as not met); villages of kinds not counted "
                     "are marked not counted"),
    "none": "none (everything in scope)", "sheet_rates": "rates", "sheet_villages": "villages",
    "sheet_inspections": "inspections", "footer": "&CPage &P of &N", "time_note": " (China time)",
    "not_counted": "not counted",
    "filter_names": {"status": "status", "village": "village", "division": "division", "date_from": "from",
                     "date_to": "to", "flag": "flag", "source": "source"},
}


def report_words(lang):
    return REPORT_ZH if lang == "zh" else REPORT_EN


def china_text(moment, seconds=False):
    """An aware (or naive UTC) datetime, or its ISO text, as 'YYYY-MM-DD HH:MM' in China time."""
    local = china_naive(moment)
    return "" if local is None else local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def china_naive(moment):
    """China wall-clock time without a zone (what a spreadsheet cell holds), from an aware datetime,
    a naive one in UTC, or ISO text; None stays None."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(CHINA_OFFSET).replace(tzinfo=None)


def user_label(user):
    """Who generated a report: 'Display Name (username)', or the username alone."""
    if user is None:
        return "flask rates report"
    name = getattr(user, "display_name", None)
    return f"{name} ({user.username})" if name and name != user.username else user.username


def period_dates(definition):
    """'2026-07-01', '2026-09-30' for 2026-Q3: the period's first and last day in China time."""
    start = datetime.fromisoformat(definition["period"]["start"])
    end = datetime.fromisoformat(definition["period"]["end"]) - timedelta(days=1)
    return start.date().isoformat(), end.date().isoformat()


def window_dates(definition):
    """The validity window's first and last day in China time."""
    start = datetime.fromisoformat(definition["window"]["from"])
    end = datetime.fromisoformat(definition["window"]["to"]) - timedelta(days=1)
    return start.date().isoformat(), end.date().isoformat()


def rates_title_lines(result, lang, user, generated_at):
    """(label, value) lines of the rates report's title block."""
    w, d, definition = report_words(lang), result["division"], result["definition"]
    zh = lang == "zh"
    start, end = period_dates(definition)
    w_start, w_end = window_dates(definition)
    kinds = "、".join(f"{KIND_ZH.get(k, k)}（{k}）" for k in definition["counted_kinds"]) if zh else \
        ", ".join(definition["counted_kinds"])
    lines = [
        (w["division"], f"{d['name']}（{d['code']}）" if zh else f"{d['name']} ({d['code']})"),
        (w["period"], w["period_value"].format(key=result["period"], start=start, end=end)),
        (w["level"], LEVEL_ZH[result["level"]] if zh else result["level"]),
        (w["counted_kinds"], w["counted_value"].format(kinds=kinds)),
        (w["window"], w["window_value"].format(days=definition["validity_days"], start=w_start, end=w_end)),
        (w["unknown"], w["unknown_value"]),
        (w["as_of"], china_text(result["as_of"], seconds=True) + w["time_note"]),
        (w["generated_at"], china_text(generated_at, seconds=True) + w["time_note"]),
        (w["generated_by"], user_label(user)),
    ]
    for name, rule in rules_text(definition, lang).items():
        lines.append((f"{w['rule']}·{name}" if zh else f"{w['rule']}: {name}", rule))
    return lines


def title_block(title, lines, ncols, widths):
    """Merged ranges for the rows above a table: the title across the sheet, then each line's label
    (columns A–B) and value (C to the last column, wrapped), a blank row; and the rows' heights.
    Returns (merge ranges, row heights, the header row's index)."""
    last = max(ncols - 1, 3)
    merges = [(0, 0, 0, last, title, TITLE_FORMAT)]
    heights = {0: 24}
    value_width = sum(widths[2:last + 1]) or 60
    for n, (label, value) in enumerate(lines, start=1):
        merges.append((n, 0, n, 1, label, LABEL_FORMAT))
        merges.append((n, 2, n, last, value, VALUE_FORMAT))
        text_width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(value))
        heights[n] = 15 * max(1, -(-text_width // int(value_width * 0.95)))
    return merges, heights, len(lines) + 2


def page_setup(header_row, title, lang):
    """A4 landscape, one page wide, the column titles on every page, page numbers in the footer."""
    return {"landscape": True, "paper_size": A4, "fit_to_pages": (1, 0), "repeat_rows": header_row,
            "margins": MARGINS, "header": "&L" + title.replace("&", "&&")[:200], "footer": report_words(lang)["footer"]}


def rate_column_width(column):
    if len(column) == 1:
        return {"code": 14, "name": 16, "level": 8, "population": 10, "kind": 8, "counted": 8,
                "households": 9}[column[0]]
    return 10


PERCENT_FIELDS = ("rate", "coverage", "target", "households_rate")


def rates_summary_sheet(result, lang, user, generated_at):
    """The first sheet: title block, then the rows at the level (none at level=village: the villages
    are on the second sheet) and the division's total, styled."""
    w = report_words(lang)
    d = result["division"]
    columns = _division_columns()
    titles = [column_title(c, lang, units=True) for c in columns]
    rows = [] if result["level"] == "village" else result["rows"]
    table = [[rate_cell(r, c, lang, report=True) for c in columns] for r in rows]
    total = [rate_cell(d, c, lang, report=True) for c in columns]
    total[2] = HEADER_ZH["total"] if lang == "zh" else "total"
    table.append(total)
    widths = [rate_column_width(c) for c in columns]
    title = w["rates_title"].format(name=d["name"], code=d["code"], period=result["period"])
    merges, heights, header_row = title_block(title, rates_title_lines(result, lang, user, generated_at),
                                              len(columns), widths)
    heights[header_row] = 58
    return {
        "name": w["sheet_rates"], "records": [dict(zip(titles, r)) for r in table], "header_row": header_row,
        "merge_ranges": merges, "row_heights": heights,
        "row_formats": {header_row + len(table): TOTAL_FORMAT},
        "column_widths": widths,
        "column_formats": {t: PERCENT_FORMAT for t, c in zip(titles, columns) if c[-1] in PERCENT_FIELDS},
        "page_setup": page_setup(header_row, title, lang), "freeze": (header_row + 1, 2),
    }


VILLAGE_STATUS_COLUMNS = [("code",), ("name",), ("kind",), ("counted",), ("households",)] + [
    (m, f) for m in METRICS for f in ("status", "inspection_id", "observed_at")
] + [("tap_water", "households"), ("tap_water", "households_with_tap")]
VILLAGE_FIELD_ZH = {"name": "村名称", "status": "状态", "inspection_id": "依据巡查记录编号",
                    "observed_at": "巡查时间（北京时间）", "households": "统计户数（户）",
                    "households_with_tap": "通自来水户数（户）"}


def village_status_title(column, lang):
    if len(column) == 1:
        name = column[0]
        if lang != "zh":
            return name
        return {"name": "村名称", "kind": "村类型", "households": "户数（户）"}.get(name, FIELD_ZH.get(name, name))
    metric, name = column
    if lang != "zh":
        return f"{metric}.{name}" + (" (China time)" if name == "observed_at" else "")
    return f"{METRIC_ZH[metric]}·{VILLAGE_FIELD_ZH[name]}"


def village_status_records(raw_rows, counted_kinds, lang, keep=None, metric=None, status=None):
    """One record per village from the rates service's village query (services.rates.village_rows):
    per metric its status (met / not met / unknown, or not counted for villages of other kinds), the
    deciding inspection's id and observation time in China time. `keep`: only these codes; `metric`
    and `status`: only the villages the rates answer keeps for them."""
    w = report_words(lang)
    yes, no = YES_NO[lang]
    titles = [village_status_title(c, lang) for c in VILLAGE_STATUS_COLUMNS]
    words = STATUS_ZH if lang == "zh" else {"met": "met", "not_met": "not met", "unknown": "unknown"}
    for raw in raw_rows:
        if keep is not None and raw["code"] not in keep:
            continue
        counted = raw["kind"] in counted_kinds
        if (metric or status) and not _kept(raw, counted, metric, status):
            continue
        values = [raw["code"], raw["name"], KIND_ZH.get(raw["kind"], raw["kind"]) if lang == "zh" else raw["kind"],
                  yes if counted else no, raw["households"]]
        for m in METRICS:
            value = raw[m]
            state = "unknown" if value is None else ("met" if value else "not_met")
            values += [words[state] if counted else w["not_counted"], raw[f"{m}_id"],
                       china_naive(raw[f"{m}_at"]) if raw[f"{m}_id"] is not None else None]
        values += [raw["tap_households"], raw["tap_households_with_tap"]]
        yield dict(zip(titles, values))


def village_report_result(query, metric=None, status=None):
    """The rates answer an XLSX report at level=village needs: the division's totals (the roll-up at
    the division's own level: one row summed in SQL, the same numbers as the village-level answer's
    totals) and the village filter, without the village rows; the village sheet reads them in one
    statement (`rates_village_sheet`), so the villages are read once, not twice."""
    if status and not metric:
        raise ValidationFailed(fields={"metric": ["Name the metric whose status filters the villages."]})
    own = make_query(query.division, query.period.key, query.division.level)
    result = compute_rates(own)
    return {**result, "level": "village", "rows": None, "village_filter": {"metric": metric, "status": status}}


def _kept(raw, counted, metric, status):
    """Whether a village passes a level=village filter as services.rates.compute_rates applies it."""
    if metric and not counted:
        return False
    if status:
        value = raw[metric]
        return status == ("unknown" if value is None else ("met" if value else "not_met"))
    return True


def rates_village_sheet(result, lang, generated_at):
    """The second sheet: every village of the division (at level=village: the villages of the
    answer) from one village-level query of the rates service."""
    w = report_words(lang)
    d, definition = result["division"], result["definition"]
    division = db.session.get(Division, d["code"])
    query = make_query(division, result["period"], "village")
    keep = {r["code"] for r in result["rows"]} if result["level"] == "village" and result["rows"] is not None else None
    raw_rows = village_rows(query)
    titles = [village_status_title(c, lang) for c in VILLAGE_STATUS_COLUMNS]
    records = village_status_records(raw_rows, definition["counted_kinds"], lang, keep,
                                     **result.get("village_filter", {}))
    first = next(records, None)
    records = _chain([first], records) if first is not None else iter([dict.fromkeys(titles)])
    widths = [{"code": 14, "name": 16, "kind": 8, "counted": 8, "households": 9}.get(c[0], 10) if len(c) == 1
              else {"status": 9, "inspection_id": 9, "observed_at": 16}.get(c[1], 10) for c in VILLAGE_STATUS_COLUMNS]
    title = w["villages_title"].format(name=d["name"], code=d["code"], period=result["period"])
    lines = [(w["rule"], w["village_rule"].format(days=definition["validity_days"])),
             (w["as_of"], china_text(result["as_of"], seconds=True) + w["time_note"])]
    merges, heights, header_row = title_block(title, lines, len(titles), widths)
    heights[header_row] = 45
    return {
        "name": w["sheet_villages"], "records": records, "header_row": header_row, "merge_ranges": merges,
        "row_heights": heights, "column_widths": widths,
        "column_formats": {t: DATETIME_FORMAT for t, c in zip(titles, VILLAGE_STATUS_COLUMNS) if c[-1] == "observed_at"},
        "page_setup": page_setup(header_row, title, lang), "freeze": (header_row + 1, 2),
    }


def write_report(sheets, path):
    """Write sheets (dicts as built above) with rustpy-xlsxwriter, each with its title block, its
    header row formatted, frozen and repeated on every printed page."""
    per_sheet = {}
    for option in ("header_row", "merge_ranges", "row_heights", "row_formats", "column_widths", "column_formats",
                   "page_setup"):
        values = {s["name"]: s[option] for s in sheets if s.get(option)}
        if values:
            per_sheet[option] = values
    write_worksheets([(s["name"], s["records"]) for s in sheets], path,
                     freeze_panes={s["name"]: {"row": s["freeze"][0], "col": s["freeze"][1]} for s in sheets},
                     header_format={s["name"]: HEADER_FORMAT for s in sheets}, **per_sheet)


def rates_xlsx(result, lang="en", user=None):
    """The rates report: the summary sheet (title block, the table, the division total) and the
    villages' statuses, written by rustpy-xlsxwriter into a temporary file, then streamed."""
    yield b""
    generated_at = datetime.now(timezone.utc)
    sheets = [rates_summary_sheet(result, lang, user, generated_at), rates_village_sheet(result, lang, generated_at)]
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        path = os.path.join(folder, "rates.xlsx")
        write_report(sheets, path)
        yield from _file_chunks(path)


def _feature(geometry, properties):
    return json.dumps({"type": "Feature", "geometry": geo.to_geojson(geometry), "properties": properties},
                      ensure_ascii=False)


def rates_geojson(result, lang="en", user=None):
    """Features for each row (boundary, else point) with the rates or statuses flattened."""
    level, division = result["level"], result["division"]
    geometry = {code: (geo.from_db(b) if b is not None else geo.from_db(p)) for code, b, p in read_session().execute(
        select(Division.code, Division.boundary_geom, Division.point_geom)
        .where(Division.level == level, subtree(Division.code, division["code"]))
    )}
    columns = rate_columns(level)
    head = {"type": "FeatureCollection", "division": {k: division[k] for k in ("code", "name", "level")},
            "period": result["period"], "level": level,
            "definition": {**result["definition"], "rules": rules_text(result["definition"], lang)}}
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
    session = read_session()
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        result = session.execute(stmt.execution_options(yield_per=CHUNK_ROWS))
        for partition in result.partitions():
            yield from partition
        return
    compiled = stmt.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
    driver = session.connection().connection.dbapi_connection
    with driver.cursor(name=f"export_{secrets.token_hex(6)}") as cursor:
        cursor.itersize = CHUNK_ROWS
        cursor.execute(str(compiled), compiled.params)
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield from rows


def inspection_titles(lang):
    return [INSPECTION_ZH[c] if lang == "zh" else c for c in INSPECTION_COLUMNS]


def inspections_csv(stmt, lang="en", user=None, filters=None):
    yield "\ufeff" + _csv_line(inspection_titles(lang))
    if read_session().get_bind().dialect.name == "postgresql":
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
    session = read_session()
    compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    columns = ", ".join(_copy_column(name) for name in INSPECTION_COLUMNS)
    copy_sql = f"COPY (SELECT {columns} FROM ({compiled}) AS e ORDER BY e.id) TO STDOUT WITH (FORMAT csv)"
    driver = session.connection().connection.dbapi_connection
    with driver.cursor() as cursor, cursor.copy(copy_sql, compiled.params) as copy:
        for block in copy:
            yield bytes(block).replace(b"\n", b"\r\n")


BOOL_INDEXES = tuple(INSPECTION_COLUMNS.index(m) for m in ("garbage_stable", "sewage_treated", "village_clean",
                                                             "tap_water"))
STATUS_INDEX, SOURCE_INDEX = INSPECTION_COLUMNS.index("status"), INSPECTION_COLUMNS.index("source")
INSPECTION_WIDTHS = {"id": 8, "client_uuid": 14, "village_code": 14, "village_name": 14, "observed_at": 16,
                     "status": 8, "version": 6, "source": 10, "lat": 10, "lon": 11, "accuracy_m": 8,
                     "submitted_at": 16, "decided_at": 16}


def inspection_report_rows(rows, lang):
    """The rows as report cells: times as China wall-clock datetimes, 是/否 (Yes/No), the status and
    source in words with lang=zh, the client uuid as text."""
    yes_no = {True: YES_NO[lang][0], False: YES_NO[lang][1], None: None}
    statuses = INSPECTION_STATUS_ZH if lang == "zh" else {}
    sources = SOURCE_ZH if lang == "zh" else {}
    offset = CHINA_OFFSET
    for row in rows:
        values = list(row)
        for i in TIME_INDEXES:
            if values[i] is not None:
                values[i] = values[i].astimezone(offset).replace(tzinfo=None)
        for i in BOOL_INDEXES:
            values[i] = yes_no[values[i]]
        values[UUID_INDEX] = str(values[UUID_INDEX])
        values[STATUS_INDEX] = statuses.get(values[STATUS_INDEX], values[STATUS_INDEX])
        values[SOURCE_INDEX] = sources.get(values[SOURCE_INDEX], values[SOURCE_INDEX])
        yield values


def _division_label(code, lang):
    name = db.session.scalar(select(Division.name).where(Division.code == code))
    if name is None:
        return code
    return f"{name}（{code}）" if lang == "zh" else f"{name} ({code})"


def inspection_title_lines(lang, user, filters, generated_at):
    w = report_words(lang)
    shown = []
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key in ("division", "village"):
            value = _division_label(value, lang)
        elif key == "status" and lang == "zh":
            value = INSPECTION_STATUS_ZH.get(value, value)
        elif key == "source" and lang == "zh":
            value = SOURCE_ZH.get(value, value)
        shown.append(f"{w['filter_names'].get(key, key)}={value}")
    lines = []
    if user is not None:
        scope = _division_label(user.scope_code, lang)
        if user.role == "inspector":
            scope += "，本人提交的巡查" if lang == "zh" else ", your own inspections"
        lines.append((w["scope"], scope))
    lines += [(w["filters"], ("；" if lang == "zh" else "; ").join(shown) or w["none"]),
              (w["generated_at"], china_text(generated_at, seconds=True) + w["time_note"]),
              (w["generated_by"], user_label(user)),
              ("时间" if lang == "zh" else "Times", "均为北京时间" if lang == "zh" else "all in China time (UTC+8)")]
    return lines


def inspections_xlsx(stmt, lang="en", user=None, filters=None):
    """The inspections as an XLSX report: a title block (scope, filters, when and by whom), then the
    rows, written by rustpy-xlsxwriter in constant memory as the database is read into a temporary
    file, then streamed; headers are sent first."""
    yield b""
    w = report_words(lang)
    titles = inspection_titles(lang)
    rows = (dict(zip(titles, values)) for values in inspection_report_rows(_stream_rows(stmt), lang))
    first = next(rows, None)
    # the writer takes its header row from the first record: with no rows, one empty record
    records = _chain([first], rows) if first is not None else iter([dict.fromkeys(titles)])
    widths = [INSPECTION_WIDTHS.get(c, 9) for c in INSPECTION_COLUMNS]
    title = w["inspections_title"]
    merges, heights, header_row = title_block(title, inspection_title_lines(lang, user, filters,
                                                                            datetime.now(timezone.utc)),
                                              len(titles), widths)
    heights[header_row] = 45
    sheet = {"name": w["sheet_inspections"], "records": records, "header_row": header_row, "merge_ranges": merges,
             "row_heights": heights, "column_widths": widths,
             "column_formats": {titles[i]: DATETIME_FORMAT for i in TIME_INDEXES},
             "page_setup": page_setup(header_row, title, lang), "freeze": (header_row + 1, 0)}
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        path = os.path.join(folder, "inspections.xlsx")
        write_report([sheet], path)
        yield from _file_chunks(path)


def _chain(head, tail):
    yield from head
    yield from tail


def inspections_geojson(stmt, lang="en", user=None, filters=None):
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
