"""The division tree: import from CSV and GeoJSON, look-ups, and "which village am I in?"."""
import csv
import json
from dataclasses import dataclass, field

from shapely.validation import make_valid
from sqlalchemy import and_, func, insert, or_, select, update

from app import geo
from app.access import division_in_scope_or_404, in_scope
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.models import CODE_LENGTH, LEVELS, VILLAGE_KINDS, Division, subtree
from app.services.audit import record_audit
from app.services.csvtext import UnreadableCSV, csv_rows, ignored_columns, read_csv_text

DIVISION_FIELDS = ("code", "name", "level", "parent_code", "kind", "households", "active")
KIND_SUFFIXES = (
    ("村民委员会", "rural"), ("村委会", "rural"),
    ("居民委员会", "urban"), ("居委会", "urban"), ("社区", "urban"),
    ("生活区", "farm"), ("管理区", "farm"), ("林场", "farm"), ("农场", "farm"),
)


def derive_kind(name):
    """Village kind from its official name (DESIGN §3); None when the name says nothing."""
    for suffix, kind in KIND_SUFFIXES:
        if name.endswith(suffix):
            return kind
    return "rural" if name.endswith("村") else None


class ImportFailed(ValidationFailed):
    """Raised with every bad row; nothing is written. `problems` are (line, message) or
    (line, message, message_zh); each is answered in English and Chinese."""

    WHAT_ZH = {"line": "第 {n} 行", "row": "第 {n} 行", "feature": "第 {n} 个要素"}

    def __init__(self, problems, what="row"):
        problems = [(p[0], p[1], p[2] if len(p) > 2 and p[2] else p[1]) for p in problems]
        self.problems = problems
        where_zh = self.WHAT_ZH.get(what, "{n}")
        lines = "; ".join(f"{what} {n}: {msg}" for n, msg, _ in problems[:20])
        lines_zh = "；".join(f"{where_zh.format(n=n)}：{zh}" for n, _, zh in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        more_zh = f"（另有 {len(problems) - 20} 处）" if len(problems) > 20 else ""
        super().__init__(
            f"{len(problems)} bad {what}(s), nothing imported: {lines}{more}",
            message_zh=f"共 {len(problems)} 处问题，未导入任何数据：{lines_zh}{more_zh}",
            details={"problems": [{what: n, "message": m, "message_zh": zh} for n, m, zh in problems]},
        )


WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # .xlsx (zip), .xls (OLE)
UNREADABLE_ZH = (("neither UTF-8", "文件既不是 UTF-8 也不是 GB18030/GBK 文本（请在 Excel 中另存为“CSV UTF-8”或“CSV”）"),
                 ("NUL", "文件含有 NUL 字节，不是 CSV 文本文件"), ("empty", "文件是空的"),
                 ("", "不是可读的 CSV 文件"))


def _source_bytes(source):
    """An import's raw input: bytes as they are, a stream read, a path read; text stays text."""
    if hasattr(source, "read"):
        return source.read()
    if isinstance(source, str) and "\n" not in source:
        with open(source, "rb") as f:
            return f.read()
    return source


def read_import_csv(source):
    """(DictReader, encoding) of an import's CSV: a path, text, bytes or a stream. An Excel workbook
    (even renamed .csv), an empty file, bytes in no accepted encoding or a NUL byte are
    ImportFailed on line 1, in English and Chinese: the same answer for the commands and the API."""
    source = _source_bytes(source)
    if isinstance(source, bytes) and source.startswith(WORKBOOK_MAGIC):
        raise ImportFailed([(1, "this is an Excel workbook (.xlsx/.xls), not CSV: save it from Excel as "
                                "\"CSV UTF-8\" or \"CSV\"",
                             "这是 Excel 工作簿（.xlsx/.xls），不是 CSV：请在 Excel 中另存为“CSV UTF-8”或“CSV”")], what="line")
    try:
        text, encoding = read_csv_text(source)
        return csv_rows(text), encoding
    except UnreadableCSV as error:
        zh = next(zh for key, zh in UNREADABLE_ZH if key in str(error))
        raise ImportFailed([(1, str(error), zh)], what="line") from None


def outside_scope(code, scope_code):
    """Whether `code` lies outside an importing administrator's scope (None: the shell, no limit)."""
    return scope_code is not None and not code.startswith(scope_code)


def scope_problem(what, code, scope_code):
    return (f"{what} {code} is outside your scope {scope_code}", f"{what} {code} 不在您的管辖范围 {scope_code} 内")


@dataclass
class ImportResult:
    """What an import did, or (dry run) would do: counts, how the file was read, and for the
    preview its rows and the shapes to draw."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list = field(default_factory=list)
    encoding: str | None = None
    ignored_columns: list = field(default_factory=list)
    rows: list = field(default_factory=list)        # preview: one dict per row, with its `change`
    features: list = field(default_factory=list)    # preview: GeoJSON features to draw
    dry_run: bool = False

    def as_dict(self):
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _parse_division_rows(reader, scope_code=None):
    """Validate CSV rows on their own; returns (rows, problems), every problem of a line reported
    in English and Chinese. Line numbers count the header as 1."""
    rows, problems, seen = [], [], {}
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k and isinstance(v, str)}
        code, name, level, parent = row.get("code", ""), row.get("name", ""), row.get("level", ""), row.get("parent_code", "")
        found = []
        if level not in LEVELS:
            found.append((f"unknown level {level!r} (expected one of {', '.join(LEVELS)})",
                          f"级别 {level!r} 无效（应为 {', '.join(LEVELS)} 之一）"))
        elif not (code.isdigit() and len(code) == CODE_LENGTH[level]):
            found.append((f"bad code {code!r}: a {level} code has {CODE_LENGTH[level]} digits",
                          f"代码 {code!r} 有误：{level} 级代码应为 {CODE_LENGTH[level]} 位数字"))
        if not name:
            found.append(("name is empty", "名称为空"))
        if parent and not code.startswith(parent):
            found.append((f"code {code} does not start with its parent's code {parent}",
                          f"代码 {code} 不以上级代码 {parent} 开头"))
        if code and outside_scope(code, scope_code):
            found.append(scope_problem("division", code, scope_code))
        if code in seen:
            found.append((f"code {code} already given on line {seen[code]}", f"代码 {code} 已在第 {seen[code]} 行出现"))
        kind = row.get("kind") or (derive_kind(name) if level == "village" else None)
        if level == "village" and kind not in VILLAGE_KINDS:
            found.append((f"village kind {kind!r} unknown: give a kind column ({', '.join(VILLAGE_KINDS)})",
                          f"村类型 {kind!r} 无法确定：请填写 kind 列（{', '.join(VILLAGE_KINDS)}）"))
        households = row.get("households")
        if households and not households.isdigit():
            found.append((f"households {households!r} is not a whole number", f"户数 {households!r} 不是整数"))
        if found:
            problems.extend((line, en, zh) for en, zh in found)
            continue
        seen[code] = line
        rows.append({
            "line": line, "code": code, "name": name, "level": level, "parent_code": parent or None,
            "kind": kind if level == "village" else None,
            "households": int(households) if households else None,
        })
    return rows, problems


def import_divisions(source, *, scope_code=None, dry_run=False):
    """Import a division CSV (`code,name,level,parent_code[,kind,households]`) from a path, text,
    bytes or a stream: UTF-8 with or without BOM, or GB18030/GBK (detected).

    Idempotent: existing codes are updated, new ones created. Every problem of every bad row is
    reported with its line and nothing is written when there is one. Other columns are ignored
    and named in the result. `scope_code` (an administrator's scope, from the API) makes every row
    outside it a problem of its line; `dry_run` runs every check and counts, writes nothing, and
    returns the rows and the shapes stored for them (or their parent) for a preview.
    """
    reader, encoding = read_import_csv(source)
    try:
        missing = {"code", "name", "level", "parent_code"} - set(reader.fieldnames)
        if missing:
            raise ImportFailed([(1, f"missing column(s): {', '.join(sorted(missing))}",
                                 f"缺少列：{', '.join(sorted(missing))}")], what="line")
        rows, problems = _parse_division_rows(reader, scope_code)
    except csv.Error as error:
        raise ImportFailed([(1, f"not readable as CSV: {error}", "不是可读的 CSV 文件")], what="line") from None
    ignored = ignored_columns(reader.fieldnames, DIVISION_FIELDS)

    existing = {d.code: d for d in db.session.execute(select(Division.code, Division.name, Division.level,
                Division.parent_code, Division.kind, Division.households)).all()}
    by_code = {r["code"]: r for r in rows}
    top_rank = min((LEVELS.index(r["level"]) for r in rows), default=0)
    for r in rows:
        parent = r["parent_code"]
        parent_level = (by_code.get(parent) or {}).get("level") or getattr(existing.get(parent), "level", None)
        if parent is None:
            if LEVELS.index(r["level"]) != top_rank:
                problems.append((r["line"], f"{r['level']} {r['code']} has no parent_code",
                                 f"{r['level']} {r['code']} 没有上级代码（parent_code）"))
        elif parent_level is None:
            if LEVELS.index(r["level"]) == top_rank:
                r["parent_code"] = None  # the file's root may name a parent outside it
            else:
                problems.append((r["line"], f"parent {parent} of {r['code']} is neither in the file nor in the database",
                                 f"{r['code']} 的上级 {parent} 既不在文件中也不在数据库中"))
        elif LEVELS.index(parent_level) >= LEVELS.index(r["level"]):
            problems.append((r["line"], f"parent {parent} is a {parent_level}, not above a {r['level']}",
                             f"上级 {parent} 是 {parent_level} 级，不高于 {r['level']} 级"))
    if problems:
        raise ImportFailed(sorted(problems), what="line")

    result = ImportResult(encoding=encoding, ignored_columns=ignored, dry_run=dry_run)
    new, changed = [], []
    fields_ = ("name", "level", "parent_code", "kind", "households")
    for r in sorted(rows, key=lambda r: (LEVELS.index(r["level"]), r["code"])):
        values = {k: r[k] for k in ("code", *fields_)}
        old = existing.get(r["code"])
        if old is None:
            new.append({**values, "active": True})
            r["change"] = "created"
        elif any(getattr(old, k) != values[k] for k in fields_ if not (k == "households" and values[k] is None)):
            if values["households"] is None:
                values["households"] = old.households
            changed.append(values)
            r["change"] = "updated"
        else:
            result.unchanged += 1
            r["change"] = "unchanged"
    result.created, result.updated = len(new), len(changed)
    if dry_run:
        result.rows = rows
        result.features = _division_preview_features(rows)
        return result
    if new:
        for level in LEVELS:  # parents before children
            batch = [v for v in new if v["level"] == level]
            if batch:
                db.session.execute(insert(Division), batch)
    if changed:
        db.session.execute(update(Division), changed)
    db.session.flush()
    return result


PREVIEW_MAX_FEATURES = 2000


def _division_preview_features(rows):
    """GeoJSON features for a division preview: each row's stored boundary (or point), or for a
    new division its parent's, marked `of` = the code whose shape it is."""
    wanted = {r["code"] for r in rows} | {r["parent_code"] for r in rows if r["parent_code"]}
    shapes = {}
    codes = sorted(wanted)
    for start in range(0, len(codes), 1000):
        for code, boundary, point_ in db.session.execute(
                select(Division.code, Division.boundary_geom, Division.point_geom)
                .where(Division.code.in_(codes[start:start + 1000]))):
            shape = geo.from_db(boundary) or geo.from_db(point_)
            if shape is not None:
                shapes[code] = shape
    features = []
    for r in rows[:PREVIEW_MAX_FEATURES]:
        of = r["code"] if r["code"] in shapes else r["parent_code"] if r["parent_code"] in shapes else None
        if of is None:
            continue
        features.append({"type": "Feature", "geometry": geo.to_geojson(shapes[of]),
                         "properties": {"line": r["line"], "code": r["code"], "name": r["name"],
                                        "level": r["level"], "change": r["change"], "of": of}})
    return features


def _read_geojson(source):
    """A GeoJSON FeatureCollection from a dict, a path, bytes or a stream, else ImportFailed."""
    if isinstance(source, dict):
        return source
    data = _source_bytes(source)
    if isinstance(data, bytes):
        if not data.strip():
            raise ImportFailed([(0, "the file is empty", "文件是空的")], what="feature")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportFailed([(0, "the file is not UTF-8 text (GeoJSON is UTF-8)",
                                 "文件不是 UTF-8 文本（GeoJSON 须为 UTF-8）")], what="feature") from None
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise ImportFailed([(0, f"not a GeoJSON file: {error}", "不是有效的 GeoJSON 文件")], what="feature") from None


def import_boundaries(source, synthetic=None, *, scope_code=None, dry_run=False):
    """Attach boundaries and points from a GeoJSON FeatureCollection, matched by `properties.code`.

    Polygon/MultiPolygon features set the boundary (and, when none is given, a point inside it);
    Point features set the point. `properties.synthetic: true` marks generated shapes. Every bad
    feature is reported (numbered from 1) and nothing is written when there is one; a division
    outside `scope_code` is a bad feature. Counts: `created` = a division without a shape before,
    `updated` = a different shape, `unchanged` = the same. `dry_run` writes nothing and returns
    the shapes to draw.
    """
    data = _read_geojson(source)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportFailed([(0, "expected a GeoJSON FeatureCollection", "应为 GeoJSON FeatureCollection")],
                           what="feature")
    features = data.get("features")
    if not isinstance(features, list):
        raise ImportFailed([(0, "the FeatureCollection has no features list", "FeatureCollection 缺少 features 列表")],
                           what="feature")
    props_of = [(f.get("properties") or {}) if isinstance(f, dict) else {} for f in features]
    codes = {str(p.get("code", "")) if isinstance(p, dict) else "" for p in props_of}
    known = {code: (name, boundary, point_) for code, name, boundary, point_ in db.session.execute(
        select(Division.code, Division.name, Division.boundary_geom, Division.point_geom)
        .where(Division.code.in_(codes)))}
    problems, updates, shapes = [], {}, {}
    for n, (feature, props) in enumerate(zip(features, props_of), start=1):
        if not isinstance(feature, dict) or not isinstance(props, dict):
            problems.append((n, "not a GeoJSON Feature with properties", "不是带 properties 的 GeoJSON 要素"))
            continue
        code = str(props.get("code", ""))
        if code not in known:
            problems.append((n, f"unknown division code {code!r}", f"行政区划代码 {code!r} 不存在"))
            continue
        if outside_scope(code, scope_code):
            problems.append((n, *scope_problem("division", code, scope_code)))
            continue
        try:
            shape = geo.from_geojson(feature["geometry"])
        except Exception as exc:  # shapely raises several types for bad input
            problems.append((n, f"bad geometry: {exc}", "几何图形无效"))
            continue
        households = props.get("households")
        if households is not None and not (isinstance(households, int) and households >= 0
                                           or isinstance(households, str) and households.isdigit()):
            problems.append((n, f"households {households!r} is not a whole number", f"户数 {households!r} 不是整数"))
            continue
        source_tag = "synthetic" if (synthetic if synthetic is not None else props.get("synthetic")) else "import"
        entry = updates.setdefault(code, {"code": code, "geometry_source": source_tag})
        drawn = shapes.setdefault(code, {})
        if shape.geom_type in ("Polygon", "MultiPolygon"):
            if not shape.is_valid:
                shape = make_valid(shape)
                polys = [g for g in getattr(shape, "geoms", [shape]) if g.geom_type in ("Polygon", "MultiPolygon")]
                shape = polys[0] if len(polys) == 1 else geo.as_multipolygon(shape) if polys else None
            if shape is None or shape.is_empty:
                problems.append((n, "boundary is empty after repair", "边界修复后为空"))
                continue
            entry["boundary_geom"] = geo.to_db(geo.as_multipolygon(shape))
            drawn["boundary"] = geo.as_multipolygon(shape)
            entry.setdefault("point_geom", geo.to_db(shape.representative_point()))
        elif shape.geom_type == "Point":
            entry["point_geom"] = geo.to_db(shape)
            drawn["point"] = shape
        else:
            problems.append((n, f"geometry type {shape.geom_type} is not Polygon, MultiPolygon or Point",
                             f"几何类型 {shape.geom_type} 不是 Polygon、MultiPolygon 或 Point"))
            continue
        if households is not None:
            entry["households"] = int(households)
    if problems:
        raise ImportFailed(problems, what="feature")

    result = ImportResult(dry_run=dry_run)
    for code, drawn in shapes.items():
        _, old_boundary, old_point = known[code]
        old_boundary, old_point = geo.from_db(old_boundary), geo.from_db(old_point)
        if old_boundary is None and old_point is None:
            change = "created"
        elif (("boundary" not in drawn or old_boundary is not None and old_boundary.equals(drawn["boundary"]))
              and ("point" not in drawn or old_point is not None and old_point.equals(drawn["point"]))):
            change = "unchanged"
        else:
            change = "updated"
        setattr(result, change, getattr(result, change) + 1)
        result.rows.append({"code": code, "name": known[code][0], "change": change})
        if dry_run and len(result.features) < PREVIEW_MAX_FEATURES:
            result.features.append({"type": "Feature", "geometry": geo.to_geojson(drawn.get("boundary") or drawn["point"]),
                                    "properties": {"code": code, "name": known[code][0], "change": change}})
    if dry_run:
        return result
    if updates:
        db.session.execute(update(Division), list(updates.values()))
    db.session.flush()
    return result


# --- active / inactive ----------------------------------------------------------------------

def set_division_active(code, active, user):
    """Mark a division in the administrator's scope inactive (or active again), with every division
    below it, so that a village's own flag — which rates, locate, "due" and the ODK form read —
    always agrees with its township and county. Audited as division.deactivated / .activated
    with the codes changed; 404 outside the scope."""
    division = division_in_scope_or_404(code, user)
    changed = list(db.session.scalars(
        select(Division.code).where(subtree(Division.code, division.code), Division.active.is_not(active))
        .order_by(Division.code)))
    if changed:
        db.session.execute(update(Division).where(subtree(Division.code, division.code),
                                                  Division.active.is_not(active))
                           .values(active=active).execution_options(synchronize_session=False))
        record_audit("division.activated" if active else "division.deactivated", "division", division.code,
                     actor=user, division_code=division.code,
                     details={"active": active, "count": len(changed), "codes": changed[:1000]})
    db.session.flush()
    db.session.refresh(division)
    return {"division": division, "changed": len(changed)}


# --- look-ups -------------------------------------------------------------------------------

def ancestors(code):
    """The chain above `code`, top first (one query on the code prefixes)."""
    prefixes = [code[:n] for n in sorted(set(CODE_LENGTH.values())) if n < len(code)]
    rows = db.session.scalars(select(Division).where(Division.code.in_(prefixes))).all()
    return sorted(rows, key=lambda d: len(d.code))


def subtree_counts(code):
    """{level: count} of the divisions below `code`, plus direct children."""
    rows = db.session.execute(
        select(Division.level, func.count()).where(subtree(Division.code, code), Division.code != code)
        .group_by(Division.level)
    ).all()
    children = db.session.scalar(select(func.count()).where(Division.parent_code == code))
    return {"children": children, **{level: n for level, n in rows}}


@dataclass
class Located:
    village: Division
    inside: bool
    distance_m: float


def list_divisions_query(user, parent=None, level=None, kind=None, q=None, active=None):
    """select() of the divisions in the user's scope, by code, filtered by parent, level, kind,
    active, or part of the name (digits: also the start of the code)."""
    stmt = select(Division).where(in_scope(Division.code, user)).order_by(Division.code)
    if parent is not None:
        stmt = stmt.where(Division.parent_code == parent)
    if level is not None:
        stmt = stmt.where(Division.level == level)
    if kind is not None:
        stmt = stmt.where(Division.kind == kind)
    if active is not None:
        stmt = stmt.where(Division.active.is_(active))
    if q is not None:
        by_name = Division.name.contains(q, autoescape=True)
        stmt = stmt.where(or_(by_name, Division.code.startswith(q, autoescape=True)) if q.isdigit() else by_name)
    return stmt


def locate(lat, lon, crs, user):
    """"Which village am I in?" for a point in `crs`: the answer of GET /divisions/locate."""
    lat, lon = geo.to_wgs84(lat, lon, crs)
    found = locate_village(lat, lon, user.scope_code)
    village = found.village
    township = db.session.get(Division, village.parent_code) if village.parent_code else None
    return {"village": village, "township": township, "inside": found.inside,
            "distance_m": round(found.distance_m, 1), "location": {"lat": lat, "lon": lon},
            "boundary_synthetic": village.geometry_source == "synthetic"}


def division_detail(code, user, geometry=False):
    """One division in scope with its parent chain, the counts below it and, on request, its
    GeoJSON geometry (404 outside the scope)."""
    division = division_in_scope_or_404(code, user)
    shapes = None
    if geometry:
        shapes = {"boundary": geo.to_geojson(division.boundary), "point": geo.to_geojson(division.point),
                  "source": division.geometry_source, "synthetic": division.geometry_source == "synthetic"}
    return {**{name: getattr(division, name) for name in DIVISION_FIELDS},
            "ancestors": ancestors(division.code), "counts": subtree_counts(division.code), "geometry": shapes}


def locate_village(lat, lon, scope_code):
    """The village in scope whose boundary contains (lat, lon), else the nearest one by its point."""
    villages = and_(Division.level == "village", Division.active.is_(True), subtree(Division.code, scope_code))
    pt = geo.db_point(lat, lon)
    containing = db.session.scalars(
        select(Division).where(villages, geo.bbox_intersects(Division.boundary_geom, lon, lat, lon, lat),
                               func.ST_Contains(Division.boundary_geom, pt)).order_by(Division.code).limit(1)
    ).first()
    if containing is not None:
        return Located(containing, True, 0.0)

    # Nearest by true distance: search boxes of growing radius; a hit within the radius is exact.
    radius = 2000.0
    while radius <= 2_560_000:
        dlat, dlon = geo.metres_to_degrees(radius, lat)
        rows = db.session.execute(
            select(Division.code, func.ST_Y(Division.point_geom), func.ST_X(Division.point_geom))
            .where(villages, geo.bbox_intersects(Division.point_geom, lon - dlon, lat - dlat, lon + dlon, lat + dlat))
        ).all()
        best = min(((geo.distance_m(lat, lon, y, x), code) for code, y, x in rows), default=None)
        if best is not None and best[0] <= radius:
            return Located(db.session.get(Division, best[1]), False, best[0])
        radius *= 4
    rows = db.session.execute(
        select(Division.code, func.ST_Y(Division.point_geom), func.ST_X(Division.point_geom))
        .where(villages, Division.point_geom.is_not(None))
    ).all()
    best = min(((geo.distance_m(lat, lon, y, x), code) for code, y, x in rows), default=None)
    if best is None:
        raise NotFound("No village with a location in your scope.", message_zh="您的辖区内没有带坐标的村。")
    return Located(db.session.get(Division, best[1]), False, best[0])


def village_point_distance(village, lat, lon):
    """(inside boundary?, metres to the village point) — the geofence facts for one village."""
    if village.boundary_geom is not None:
        inside = db.session.scalar(
            select(func.ST_Contains(Division.boundary_geom, geo.db_point(lat, lon)))
            .where(Division.code == village.code)
        )
        if inside:
            return True, 0.0
    p = village.point
    return False, (geo.distance_m(lat, lon, p.y, p.x) if p is not None else None)
