"""Geometry in one place: SRID, Shapely <-> database <-> GeoJSON, distances, and the Chinese
map coordinate systems.

Phones with raw GPS report WGS-84; Amap and Tencent SDKs report GCJ-02 and Baidu reports BD-09.
Only WGS-84 (SRID 4326) is stored. GCJ-02 is defined inside mainland China only; outside it the
shift is zero. The formulas are the widely published ones (the GCJ-02 forward transform and the
BD-09 rotation); the inverse of GCJ-02 is solved by fixed-point iteration to < 1e-7 degrees.
"""
import math

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from sqlalchemy import func, literal_column, text

from app.extensions import db

SRID = 4326
CRS_CHOICES = ("wgs84", "gcj02", "bd09")
EARTH_RADIUS_M = 6371008.8


# --- database <-> Shapely -------------------------------------------------------------------

def to_db(geometry):
    """Shapely geometry -> value for a Geometry(srid=4326) column."""
    return None if geometry is None else from_shape(geometry, srid=SRID)


def from_db(value):
    """Value of a Geometry column -> Shapely geometry (or None)."""
    return None if value is None else to_shape(value)


def db_point(lat, lon):
    """SQL expression: the WGS-84 point (lat, lon), for spatial predicates in queries."""
    return func.ST_GeomFromText(Point(lon, lat).wkt, SRID)


def bbox_intersects(column, minx, miny, maxx, maxy):
    """SQL condition, backed by the spatial index on either engine: the geometry in `column` (a
    mapped Geometry column with spatial_index=True) intersects the box (degrees, WGS-84)."""
    if db.session.get_bind().dialect.name == "sqlite":
        table, name = column.class_.__tablename__, column.property.columns[0].name
        return literal_column(f"{table}.rowid").in_(
            text(f"SELECT pkid FROM idx_{table}_{name} "
                 "WHERE xmin <= :maxx AND xmax >= :minx AND ymin <= :maxy AND ymax >= :miny")
            .bindparams(minx=minx, miny=miny, maxx=maxx, maxy=maxy)
        )
    return column.op("&&")(func.ST_MakeEnvelope(minx, miny, maxx, maxy, SRID))


def as_multipolygon(geometry):
    if isinstance(geometry, Polygon):
        return MultiPolygon([geometry])
    if isinstance(geometry, MultiPolygon):
        return geometry
    raise ValueError(f"expected a Polygon or MultiPolygon, got {geometry.geom_type}")


def to_geojson(geometry):
    return None if geometry is None else mapping(geometry)


def from_geojson(obj):
    return shape(obj)


def point(lon, lat):
    return Point(lon, lat)


# --- distances ------------------------------------------------------------------------------

def distance_m(lat1, lon1, lat2, lon2):
    """Great-circle distance in metres (haversine on the mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def metres_to_degrees(metres, lat):
    """Half-widths (dlat, dlon) in degrees of a box that contains every point within `metres`."""
    dlat = math.degrees(metres / EARTH_RADIUS_M)
    coslat = max(math.cos(math.radians(min(abs(lat) + dlat, 89.9))), 1e-6)
    return dlat, min(180.0, dlat / coslat)


# --- GCJ-02 / BD-09 -------------------------------------------------------------------------

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0


def out_of_china(lat, lon):
    return not (73.66 < lon < 135.05 and 3.86 < lat < 53.55)


def _transform_lat(x, y):
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x, y):
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat, lon):
    if out_of_china(lat, lon):
        return lat, lon
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat, lon):
    """Inverse of `wgs84_to_gcj02` by fixed-point iteration (the forward shift is smooth)."""
    if out_of_china(lat, lon):
        return lat, lon
    wlat, wlon = lat, lon
    for _ in range(30):
        glat, glon = wgs84_to_gcj02(wlat, wlon)
        dlat, dlon = glat - lat, glon - lon
        wlat, wlon = wlat - dlat, wlon - dlon
        if abs(dlat) < 1e-9 and abs(dlon) < 1e-9:
            break
    return wlat, wlon


def gcj02_to_bd09(lat, lon):
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def bd09_to_gcj02(lat, lon):
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def to_wgs84(lat, lon, crs="wgs84"):
    """(lat, lon) in `crs` -> (lat, lon) in WGS-84."""
    if crs == "wgs84":
        return lat, lon
    if crs == "gcj02":
        return gcj02_to_wgs84(lat, lon)
    if crs == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))
    raise ValueError(f"unknown crs {crs!r}; expected one of {CRS_CHOICES}")
