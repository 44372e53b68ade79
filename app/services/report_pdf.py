"""The rates report as a PDF: a server-side HTML page rendered by WeasyPrint (no browser on the
server), with the title block and 口径 of the XLSX report, a map of the division's children (or
villages) coloured by each metric's rate or status with a legend, the 12-month trend of each metric
(from the trend service) and the table, all as inline SVG and HTML in the page.

The page refers to nothing outside itself: WeasyPrint's URL fetcher is replaced by one that refuses
every URL, so a division name can never make the server fetch anything. Chinese text needs a CJK
font installed on the server (Debian `fonts-wqy-microhei`, which scripts/bootstrap installs).
"""
import logging
import math
from datetime import datetime, timedelta, timezone

from flask import render_template
from shapely.ops import unary_union
from sqlalchemy import select

from app import geo
from app.domain import YEAR_MIN
from app.extensions import db
from app.models import METRICS, Division, subtree
from app.services import exports
from app.services.rates import compute_trend

# WeasyPrint reports each rendering step at INFO (from its import on): noise in the app's log
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

METRIC_EN = {"garbage_stable": "Garbage collection and transfer operating stably",
             "sewage_treated": "Domestic sewage treated", "village_clean": "Villages clean, tidy and orderly",
             "tap_water": "Households with tap water"}
COLOURS = {"met": "#2e7d32", "near": "#f9a825", "below": "#c62828", "unknown": "#bdbdbd", "not_counted": "#ffffff"}
LINE_COLOURS = {"garbage_stable": "#1565c0", "sewage_treated": "#6a1b9a", "village_clean": "#2e7d32",
                "tap_water": "#ef6c00"}
MAP_W, MAP_H = 330.0, 230.0
TREND_W, TREND_H = 700.0, 230.0
NEAR = 0.10  # a rate within 10 percentage points below its target is "near"
# past these sizes a page would take minutes to lay out: the villages are in the XLSX report instead
TABLE_MAX_ROWS = 300
MAP_MAX_SHAPES = 3000

WORDS = {
    "zh": {"map": "各地达标情况", "trend": "近 12 个月达标率走势", "table": "达标率明细", "met": "达到目标",
           "near": "距目标 10 个百分点以内", "below": "低于目标 10 个百分点以上", "unknown": "无数据 / 未知",
           "v_met": "达标", "v_not_met": "未达标", "v_unknown": "未知", "v_not_counted": "不纳入统计",
           "name": "名称", "population": "纳入统计村数", "rate": "达标率", "met_of": "达标 / 统计",
           "gap": "差距", "target": "目标", "total": "合计", "villages": "村", "households": "户",
           "no_map": "本级区划没有边界数据", "no_trend": "没有可画的数据", "dashed": "虚线为目标",
           "title_suffix": "（PDF 报表）", "status": "状态",
           "too_many": "共 {n} 行，PDF 只列合计；各行见 XLSX 报表（format=xlsx）。",
           "too_many_shapes": "共 {n} 个区划，PDF 不画地图；请缩小范围或改用 GeoJSON。"},
    "en": {"map": "Where the targets are met", "trend": "Rates over the last 12 months", "table": "The table",
           "met": "target met", "near": "within 10 points of the target", "below": "more than 10 points below",
           "unknown": "no data / unknown", "v_met": "met", "v_not_met": "not met", "v_unknown": "unknown",
           "v_not_counted": "not counted", "name": "name", "population": "villages counted", "rate": "rate",
           "met_of": "met / counted", "gap": "gap", "target": "target", "total": "total", "villages": "villages",
           "households": "households", "no_map": "no boundaries at this level", "no_trend": "nothing to draw",
           "dashed": "dashed: the target", "title_suffix": "", "status": "status",
           "too_many": "{n} rows: the PDF lists the total only; every row is in the XLSX report (format=xlsx).",
           "too_many_shapes": "{n} divisions: too many to draw; narrow the division or use GeoJSON."},
}


def metric_name(metric, lang):
    return exports.METRIC_ZH[metric] if lang == "zh" else METRIC_EN[metric]


def percent(value):
    return "–" if value is None else f"{value * 100:.1f}%"


# --- the map ---------------------------------------------------------------------------------

def rate_colour(block):
    """A division's colour for one metric: its rate against its target."""
    rate, target = block.get("rate"), block.get("target")
    if rate is None:
        return COLOURS["unknown"]
    if block.get("on_target"):
        return COLOURS["met"]
    return COLOURS["near"] if target is not None and rate >= target - NEAR else COLOURS["below"]


def status_colour(row, metric):
    if not row.get("counted", True):
        return COLOURS["not_counted"]
    status = row["metrics"][metric]["status"]
    return {"met": COLOURS["met"], "not_met": COLOURS["below"]}.get(status, COLOURS["unknown"])


def shapes_of(result):
    """{code: Shapely geometry} of the answer's rows (their boundary, else their point)."""
    level, code = result["level"], result["division"]["code"]
    found = {}
    for row_code, boundary, point in db.session.execute(
            select(Division.code, Division.boundary_geom, Division.point_geom)
            .where(Division.level == level, subtree(Division.code, code))):
        shape = geo.from_db(boundary) if boundary is not None else geo.from_db(point)
        if shape is not None and not shape.is_empty:
            found[row_code] = shape
    return found


class Projection:
    """Longitude/latitude to the map's pixels: equirectangular at the middle latitude, fitted."""

    def __init__(self, bounds, width, height, pad=6.0):
        minx, miny, maxx, maxy = bounds
        self.kx = math.cos(math.radians((miny + maxy) / 2))
        span_x = max((maxx - minx) * self.kx, 1e-9)
        span_y = max(maxy - miny, 1e-9)
        self.scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
        self.x0 = minx
        self.y0 = maxy
        self.ox = pad + ((width - 2 * pad) - span_x * self.scale) / 2
        self.oy = pad + ((height - 2 * pad) - span_y * self.scale) / 2

    def __call__(self, x, y):
        return (self.ox + (x - self.x0) * self.kx * self.scale, self.oy + (self.y0 - y) * self.scale)


def svg_path(shape, project):
    """The SVG path of a (multi)polygon; None for other shapes."""
    polygons = [shape] if shape.geom_type == "Polygon" else list(getattr(shape, "geoms", []))
    parts = []
    for polygon in polygons:
        if polygon.geom_type != "Polygon":
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            points = [project(x, y) for x, y in ring.coords]
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z")
    return "".join(parts) or None


def map_svgs(result, lang):
    """One small map per metric: {metric: svg text}, or {} when nothing at the level has a shape."""
    if len(result["rows"]) > MAP_MAX_SHAPES:
        return {}
    shapes = shapes_of(result)
    rows = [r for r in result["rows"] if r["code"] in shapes]
    if not rows:
        return {}
    extent = unary_union([shapes[r["code"]].envelope for r in rows]).bounds
    tolerance = max(extent[2] - extent[0], extent[3] - extent[1]) / 600
    project = Projection(extent, MAP_W, MAP_H)
    drawn = []
    for row in rows:
        shape = shapes[row["code"]]
        if shape.geom_type in ("Polygon", "MultiPolygon"):
            drawn.append((row, "path", svg_path(shape.simplify(tolerance, preserve_topology=True), project)))
        else:
            drawn.append((row, "point", project(shape.x, shape.y)))
    village = result["level"] == "village"
    maps = {}
    for metric in METRICS:
        items = []
        for row, kind, data in drawn:
            colour = status_colour(row, metric) if village else rate_colour(row["metrics"][metric])
            if kind == "path" and data:
                items.append(f'<path d="{data}" fill="{colour}" fill-rule="evenodd" stroke="#555" stroke-width="0.4"/>')
            elif kind == "point":
                items.append(f'<circle cx="{data[0]:.1f}" cy="{data[1]:.1f}" r="3" fill="{colour}" '
                             f'stroke="#555" stroke-width="0.4"/>')
        maps[metric] = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{MAP_W:.0f}" height="{MAP_H:.0f}" '
                        f'viewBox="0 0 {MAP_W:.0f} {MAP_H:.0f}">' + "".join(items) + "</svg>")
    return maps


def legend(result, lang):
    words = WORDS[lang]
    if result["level"] == "village":
        keys = [("met", "v_met"), ("below", "v_not_met"), ("unknown", "v_unknown"), ("not_counted", "v_not_counted")]
    else:
        keys = [("met", "met"), ("near", "near"), ("below", "below"), ("unknown", "unknown")]
    return [(COLOURS[colour], words[word]) for colour, word in keys]


# --- the trend -------------------------------------------------------------------------------

def last_twelve_months(result):
    """('2025-10', '2026-09') for a period ending with September 2026."""
    end = datetime.fromisoformat(result["definition"]["period"]["end"]) - timedelta(days=1)
    months = max(end.year * 12 + end.month - 1 - 11, YEAR_MIN * 12)  # never before the first year the rates know
    return f"{months // 12}-{months % 12 + 1:02d}", f"{end.year}-{end.month:02d}"


def trends(result):
    """{metric: the trend service's answer} for the 12 months up to the period's last month."""
    division = db.session.get(Division, result["division"]["code"])
    first, last = last_twelve_months(result)
    return {m: compute_trend(division, m, first, last, "month") for m in METRICS}


def trend_svg(series, lang):
    """Four lines (one per metric) over twelve months, 0–100 %, with each target dashed."""
    left, right, top, bottom = 44.0, 26.0, 10.0, 28.0
    width, height = TREND_W - left - right, TREND_H - top - bottom
    periods = [p["period"] for p in next(iter(series.values()))["points"]]
    if not periods:
        return None
    step = width / max(len(periods) - 1, 1)

    def xy(i, value):
        return left + i * step, top + (1 - value) * height

    parts = []
    for tick in range(0, 101, 20):
        y = top + (1 - tick / 100) * height
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" stroke="#ddd" stroke-width="0.6"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="8" text-anchor="end">{tick}%</text>')
    for i, period in enumerate(periods):
        x = left + i * step
        parts.append(f'<text x="{x:.1f}" y="{top + height + 14:.1f}" font-size="8" text-anchor="middle">{period}</text>')
    for metric, answer in series.items():
        colour = LINE_COLOURS[metric]
        points = answer["points"]
        runs, run = [], []
        for i, p in enumerate(points):
            if p["rate"] is None:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(xy(i, p["rate"]))
        if run:
            runs.append(run)
        for run in runs:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="{colour}"/>' for x, y in run]
        targets = [p["target"] for p in points if p.get("target") is not None]
        if targets:
            y = xy(0, targets[-1])[1]
            parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" stroke="{colour}" '
                         f'stroke-width="0.8" stroke-dasharray="4,3"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{TREND_W:.0f}" height="{TREND_H:.0f}" '
            f'viewBox="0 0 {TREND_W:.0f} {TREND_H:.0f}">' + "".join(parts) + "</svg>")


# --- the page --------------------------------------------------------------------------------

def table_rows(result, lang):
    """The table's rows: (name, code, {metric: cells}, is_total)."""
    words = WORDS[lang]
    out = []
    if len(result["rows"]) > TABLE_MAX_ROWS:
        pass  # only the total: the rows are in the XLSX report (the page says so)
    elif result["level"] == "village":
        for row in result["rows"]:
            cells = {}
            for m in METRICS:
                status = row["metrics"][m]["status"] if row.get("counted", True) else "not_counted"
                cells[m] = {"status": words[f"v_{status}"], "colour": status_colour(row, m)}
            out.append({"name": row["name"], "code": row["code"], "population": None, "cells": cells, "total": False})
    else:
        for row in result["rows"]:
            out.append(summary_cells(row, lang, total=False))
    out.append(summary_cells(result["division"], lang, total=True))
    return out


def summary_cells(row, lang, total):
    words = WORDS[lang]
    cells = {}
    for m in METRICS:
        block = row["metrics"][m]
        if m == "tap_water":
            counted = f"{block.get('households_met', 0)} / {block.get('households', 0)} {words['households']}"
            gap = f"{block['gap']} {words['households']}"
        else:
            counted = f"{block['met']} / {row['population']} {words['villages']}"
            gap = f"{block['gap']} {words['villages']}"
        cell = {"rate": percent(block["rate"]), "counted": counted, "gap": gap, "target": percent(block["target"]),
                "colour": rate_colour(block)}
        if m == "sewage_treated" and block.get("households", {}).get("known"):
            cell["households_rate"] = percent(block["households"]["rate"])
        cells[m] = cell
    return {"name": words["total"] if total else row["name"], "code": row["code"], "population": row["population"],
            "cells": cells, "total": total}


def report_html(result, lang="en", user=None, generated_at=None):
    """The report page (HTML) for a rates answer."""
    lang = "zh" if lang == "zh" else "en"
    generated_at = generated_at or datetime.now(timezone.utc)
    w = exports.report_words(lang)
    d = result["division"]
    title = w["rates_title"].format(name=d["name"], code=d["code"], period=result["period"])
    series = trends(result)
    return render_template(
        "report/rates.html", lang=lang, title=title, words=WORDS[lang],
        lines=exports.rates_title_lines(result, lang, user, generated_at),
        maps=map_svgs(result, lang), legend=legend(result, lang), trend=trend_svg(series, lang),
        metrics=[(m, metric_name(m, lang), LINE_COLOURS[m]) for m in METRICS],
        rows=table_rows(result, lang), village=result["level"] == "village",
        rows_total=len(result["rows"]), too_many=len(result["rows"]) > TABLE_MAX_ROWS, too_many_shapes=len(result["rows"]) > MAP_MAX_SHAPES,
        footer_time=exports.china_text(generated_at) + w["time_note"],
    )


def refuse_urls(url, *args, **kwargs):
    raise ValueError(f"the report refers to nothing outside itself: {url[:80]}")


def render_pdf(html):
    """The PDF of the page. WeasyPrint is imported here, on the first report: a worker that never
    makes one neither pays its import time nor holds its memory. Its import turns Pillow's
    LOAD_TRUNCATED_IMAGES on for the whole process; the report draws no photo, so it is put back
    (a truncated upload must stay an error)."""
    from PIL import ImageFile

    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    from weasyprint import HTML

    ImageFile.LOAD_TRUNCATED_IMAGES = truncated
    return HTML(string=html, url_fetcher=refuse_urls).write_pdf()


def rates_pdf(result, lang="en", user=None):
    """The rates report as PDF bytes, after an empty first chunk (the headers go out at once)."""
    yield b""
    yield render_pdf(report_html(result, lang, user))
