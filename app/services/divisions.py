"""The division tree: import from CSV and GeoJSON, look-ups, and "which village am I in?"."""
import csv
import json
from dataclasses import dataclass, field

from shapely.validation import make_valid
from sqlalchemy import and_, func, insert, select, update

from app import geo
from app.access import division_in_scope_or_404, in_scope
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.models import CODE_LENGTH, LEVELS, VILLAGE_KINDS, Division, subtree
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
    """Raised with every bad row; nothing is written."""

    def __init__(self, problems, what="row"):
        self.problems = problems
        lines = "; ".join(f"{what} {n}: {msg}" for n, msg in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(
            f"{len(problems)} bad {what}(s), nothing imported: {lines}{more}",
            details={"problems": [{what: n, "message": m} for n, m in problems]},
        )


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list = field(default_factory=list)
    encoding: str | None = None
    ignored_columns: list = field(default_factory=list)

    def as_dict(self):
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _parse_division_rows(reader):
    """Validate CSV rows on their own; returns (rows, problems), every problem of a line reported.
    Line numbers count the header as 1."""
    rows, problems, seen = [], [], {}
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k and isinstance(v, str)}
        code, name, level, parent = row.get("code", ""), row.get("name", ""), row.get("level", ""), row.get("parent_code", "")
        found = []
        if level not in LEVELS:
            found.append(f"unknown level {level!r} (expected one of {', '.join(LEVELS)})")
        elif not (code.isdigit() and len(code) == CODE_LENGTH[level]):
            found.append(f"bad code {code!r}: a {level} code has {CODE_LENGTH[level]} digits")
        elif not code.isdigit():
            found.append(f"bad code {code!r}: digits only")
        if not name:
            found.append("name is empty")
        if parent and not code.startswith(parent):
            found.append(f"code {code} does not start with its parent's code {parent}")
        if code in seen:
            found.append(f"code {code} already given on line {seen[code]}")
        kind = row.get("kind") or (derive_kind(name) if level == "village" else None)
        if level == "village" and kind not in VILLAGE_KINDS:
            found.append(f"village kind {kind!r} unknown: give a kind column ({', '.join(VILLAGE_KINDS)})")
        households = row.get("households")
        if households and not households.isdigit():
            found.append(f"households {households!r} is not a whole number")
        if found:
            problems.extend((line, message) for message in found)
            continue
        seen[code] = line
        rows.append({
            "line": line, "code": code, "name": name, "level": level, "parent_code": parent or None,
            "kind": kind if level == "village" else None,
            "households": int(households) if households else None,
        })
    return rows, problems


def import_divisions(source):
    """Import a division CSV (`code,name,level,parent_code[,kind,households]`) from a path, text,
    bytes or a stream: UTF-8 with or without BOM, or GB18030/GBK (detected).

    Idempotent: existing codes are updated, new ones created. Every problem of every bad row is
    reported with its line and nothing is written when there is one. Other columns are ignored
    and named in the result.
    """
    try:
        text_in, encoding = read_csv_text(source)
        reader = csv_rows(text_in)
        missing = {"code", "name", "level", "parent_code"} - set(reader.fieldnames)
        if missing:
            raise ImportFailed([(1, f"missing column(s): {', '.join(sorted(missing))}")], what="line")
        rows, problems = _parse_division_rows(reader)
    except (UnreadableCSV, csv.Error) as error:
        raise ImportFailed([(1, str(error))], what="line") from None
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
                problems.append((r["line"], f"{r['level']} {r['code']} has no parent_code"))
        elif parent_level is None:
            if LEVELS.index(r["level"]) == top_rank:
                r["parent_code"] = None  # the file's root may name a parent outside it
            else:
                problems.append((r["line"], f"parent {parent} of {r['code']} is neither in the file nor in the database"))
        elif LEVELS.index(parent_level) >= LEVELS.index(r["level"]):
            problems.append((r["line"], f"parent {parent} is a {parent_level}, not above a {r['level']}"))
    if problems:
        raise ImportFailed(sorted(problems), what="line")

    result = ImportResult(encoding=encoding, ignored_columns=ignored)
    new, changed = [], []
    fields_ = ("name", "level", "parent_code", "kind", "households")
    for r in sorted(rows, key=lambda r: (LEVELS.index(r["level"]), r["code"])):
        values = {k: r[k] for k in ("code", *fields_)}
        old = existing.get(r["code"])
        if old is None:
            new.append({**values, "active": True})
        elif any(getattr(old, k) != values[k] for k in fields_ if not (k == "households" and values[k] is None)):
            if values["households"] is None:
                values["households"] = old.households
            changed.append(values)
        else:
            result.unchanged += 1
    if new:
        for level in LEVELS:  # parents before children
            batch = [v for v in new if v["level"] == level]
            if batch:
                db.session.execute(insert(Division), batch)
    if changed:
        db.session.execute(update(Division), changed)
    result.created, result.updated = len(new), len(changed)
    db.session.flush()
    return result


def import_boundaries(source, synthetic=None):
    """Attach boundaries and points from a GeoJSON FeatureCollection, matched by `properties.code`.

    Polygon/MultiPolygon features set the boundary (and, when none is given, a point inside it);
    Point features set the point. `properties.synthetic: true` marks generated shapes.
    """
    data = source if isinstance(source, dict) else json.load(open(source, encoding="utf-8"))
    if data.get("type") != "FeatureCollection":
        raise ImportFailed([(0, "expected a GeoJSON FeatureCollection")], what="feature")
    features = data.get("features") or []
    codes = {str((f.get("properties") or {}).get("code", "")) for f in features}
    known = set(db.session.scalars(select(Division.code).where(Division.code.in_(codes))))
    problems, updates = [], {}
    for n, feature in enumerate(features, start=1):
        props = feature.get("properties") or {}
        code = str(props.get("code", ""))
        if code not in known:
            problems.append((n, f"unknown division code {code!r}"))
            continue
        try:
            shape = geo.from_geojson(feature["geometry"])
        except Exception as exc:  # shapely raises several types for bad input
            problems.append((n, f"bad geometry: {exc}"))
            continue
        source_tag = "synthetic" if (synthetic if synthetic is not None else props.get("synthetic")) else "import"
        entry = updates.setdefault(code, {"code": code, "geometry_source": source_tag})
        if shape.geom_type in ("Polygon", "MultiPolygon"):
            if not shape.is_valid:
                shape = make_valid(shape)
                polys = [g for g in getattr(shape, "geoms", [shape]) if g.geom_type in ("Polygon", "MultiPolygon")]
                shape = polys[0] if len(polys) == 1 else geo.as_multipolygon(shape) if polys else None
            if shape is None or shape.is_empty:
                problems.append((n, "boundary is empty after repair"))
                continue
            entry["boundary_geom"] = geo.to_db(geo.as_multipolygon(shape))
            entry.setdefault("point_geom", geo.to_db(shape.representative_point()))
        elif shape.geom_type == "Point":
            entry["point_geom"] = geo.to_db(shape)
        else:
            problems.append((n, f"geometry type {shape.geom_type} is not Polygon, MultiPolygon or Point"))
            continue
        if "households" in props and props["households"] is not None:
            entry["households"] = int(props["households"])
    if problems:
        raise ImportFailed(problems, what="feature")
    if updates:
        db.session.execute(update(Division), list(updates.values()))
    db.session.flush()
    return len(updates)


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


def list_divisions_query(user, parent=None, level=None, kind=None, q=None):
    """select() of the divisions in the user's scope, by code, filtered by parent, level, kind or
    part of the name."""
    stmt = select(Division).where(in_scope(Division.code, user)).order_by(Division.code)
    if parent is not None:
        stmt = stmt.where(Division.parent_code == parent)
    if level is not None:
        stmt = stmt.where(Division.level == level)
    if kind is not None:
        stmt = stmt.where(Division.kind == kind)
    if q is not None:
        stmt = stmt.where(Division.name.contains(q, autoescape=True))
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
