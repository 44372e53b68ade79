"""Plausible, clearly synthetic boundaries for the demo and tests.

No public village boundaries exist. Counties get Voronoi cells around their approximate seats
(clipped to a disc), townships Voronoi cells of seeded random points inside their county, and
villages Voronoi cells of seeded random points inside their township; each village's point is its
seed. The same division rows always give the same shapes (the random generator is seeded by code).
Every feature carries `"synthetic": true`.
"""
import math
import random

import shapely
from shapely.geometry import MultiPoint, Point, mapping
from shapely.ops import unary_union

# Approximate seats (lat, lon) and radius in km of Jixi's counties; other trees get a ring layout.
JIXI_SEATS = {
    "230302": (45.300, 130.981, 12), "230303": (45.211, 130.905, 12), "230304": (45.349, 130.844, 12),
    "230305": (45.091, 130.697, 12), "230306": (45.337, 131.068, 12), "230307": (45.209, 130.478, 14),
    "230321": (45.260, 131.148, 35), "230381": (45.768, 132.937, 50), "230382": (45.546, 131.833, 45),
}
ORIGIN_LAT, ORIGIN_LON = 45.5, 131.0
KX = 111.320 * math.cos(math.radians(ORIGIN_LAT))
KY = 110.574


def _to_km(lon, lat):
    return (lon - ORIGIN_LON) * KX, (lat - ORIGIN_LAT) * KY


def _km_to_deg(coords):
    """shapely.transform callback: an (N, 2) array of km -> lon, lat degrees."""
    out = coords.copy()
    out[:, 0] = coords[:, 0] / KX + ORIGIN_LON
    out[:, 1] = coords[:, 1] / KY + ORIGIN_LAT
    return out


def _random_points(cell, n, rng):
    minx, miny, maxx, maxy = cell.bounds
    points, tries = [], 0
    while len(points) < n and tries < n * 500:
        tries += 1
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if cell.contains(p) and all(p.distance(q) > 0.05 for q in points):
            points.append(p)
    while len(points) < n:  # a tiny cell: fall back to points on a small spiral around its centre
        c = cell.representative_point()
        k = len(points)
        points.append(Point(c.x + 0.01 * k * math.cos(k), c.y + 0.01 * k * math.sin(k)))
    return points


def _split(cell, seeds):
    """Voronoi cells of `seeds`, clipped to `cell`, in the order of the seeds."""
    if len(seeds) == 1:
        return [cell]
    regions = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=cell, ordered=True)
    return [region.intersection(cell) for region in regions.geoms]


def synthetic_geometry(divisions):
    """`divisions`: iterable of (code, level, parent_code). Returns a GeoJSON FeatureCollection."""
    children = {}
    for code, level, parent in divisions:
        children.setdefault(parent, []).append((code, level))
    levels = {code: level for code, level, _ in divisions}
    counties = sorted(c for c, lvl in levels.items() if lvl == "county")
    cells, seeds = {}, {}

    seats = []
    for i, code in enumerate(counties):
        if code in JIXI_SEATS:
            lat, lon, radius = JIXI_SEATS[code]
        else:
            angle = 2 * math.pi * i / max(1, len(counties))
            lat, lon, radius = ORIGIN_LAT + 0.4 * math.sin(angle), ORIGIN_LON + 0.6 * math.cos(angle), 25
        seats.append((code, Point(*_to_km(lon, lat)), radius))
    county_cells = _split(unary_union([p.buffer(r) for _, p, r in seats]), [p for _, p, _ in seats]) if seats else []
    for (code, seat, radius), cell in zip(seats, county_cells):
        cells[code] = cell.intersection(seat.buffer(radius, quad_segs=8))
        seeds[code] = seat

    def subdivide(parent):
        kids = sorted(children.get(parent, []))
        if not kids or parent not in cells:
            return
        rng = random.Random(int(parent))
        points = _random_points(cells[parent], len(kids), rng)
        for (code, _level), cell, seed in zip(kids, _split(cells[parent], points), points):
            cells[code], seeds[code] = cell, seed
            subdivide(code)

    for code in counties:
        subdivide(code)
    for code, level in levels.items():  # levels above county: union of their counties
        if level in ("province", "city"):
            parts = [cells[c] for c in counties if c.startswith(code)]
            if parts:
                cells[code] = unary_union(parts)
                seeds[code] = cells[code].representative_point()

    features = []
    for code in sorted(cells):
        boundary = shapely.set_precision(shapely.transform(cells[code], _km_to_deg), 1e-6)
        if boundary.is_empty:
            continue
        features.append({"type": "Feature", "properties": {"code": code, "synthetic": True},
                         "geometry": mapping(boundary)})
        point = shapely.set_precision(shapely.transform(seeds[code], _km_to_deg), 1e-6)
        features.append({"type": "Feature", "properties": {"code": code, "synthetic": True},
                         "geometry": mapping(point)})
    return {"type": "FeatureCollection", "features": features}
