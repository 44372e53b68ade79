"""Flags computed at submission (DESIGN §3). They inform the reviewer and never reject.

Each flag is stored once per code in `inspection_flags` with the facts that raised it (distances
in metres, the photos concerned, the other inspections), and `Inspection.flag_count` is the
number of flag codes raised. Thresholds come from the FLAG_* settings.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import cast, func, literal, select
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.orm import aliased

from app import geo
from app.extensions import db
from app.models import (
    CODE_LENGTH,
    Inspection,
    InspectionFlag,
    InspectionPhoto,
    Photo,
    subtree,
)
from app.domain import FLAG_CODES
from app.services.divisions import village_point_distance

NEAR_DUPLICATE_WINDOW = timedelta(days=730)



def _hamming_hex(a, b):
    if a is None or b is None:
        return None
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def _phash_distance(column, value):
    """SQL: Hamming distance between a 16-hex-digit hash column and a hash value."""
    bind = db.session.connection()
    if bind.dialect.name == "postgresql":
        as_bits = lambda expr: cast(literal("x") + expr, BIT(64))  # noqa: E731
        return func.bit_count(as_bits(column).op("#")(as_bits(literal(value))))
    # SQLite has no popcount: register a deterministic function on this connection
    bind.connection.dbapi_connection.create_function("phash_distance", 2, _hamming_hex, deterministic=True)
    return func.phash_distance(column, value)


def _outside_village(inspection, lat, lon, cfg):
    inside, distance = village_point_distance(inspection.village, lat, lon)
    if inside:
        return None
    has_boundary = inspection.village.boundary_geom is not None
    facts = {"distance_m": None if distance is None else round(distance), "has_boundary": has_boundary,
             "boundary_source": inspection.village.geometry_source if has_boundary else None}
    if has_boundary:
        return facts  # outside the boundary; distance to the village point given for context
    if distance is not None and distance > cfg["FLAG_OUTSIDE_VILLAGE_M"]:
        return {**facts, "threshold_m": cfg["FLAG_OUTSIDE_VILLAGE_M"]}
    return None


def _exif_location_far(photos, lat, lon, cfg):
    far = []
    for aspect, photo in photos:
        if photo.exif_lat is None or photo.exif_lon is None:
            continue
        distance = geo.distance_m(lat, lon, photo.exif_lat, photo.exif_lon)
        if distance > cfg["FLAG_EXIF_FAR_M"]:
            far.append({"photo_id": photo.id, "aspect": aspect, "distance_m": round(distance),
                        "exif_lat": photo.exif_lat, "exif_lon": photo.exif_lon})
    if not far:
        return None
    return {"distance_m": max(p["distance_m"] for p in far), "threshold_m": cfg["FLAG_EXIF_FAR_M"], "photos": far}


def _photo_stale(photos, observed_at, cfg):
    stale = []
    before_limit = timedelta(days=cfg["FLAG_STALE_DAYS"])
    after_limit = timedelta(minutes=cfg["FLAG_STALE_AFTER_MINUTES"])
    for aspect, photo in photos:
        if photo.taken_at is None:
            continue
        if observed_at - photo.taken_at > before_limit:
            stale.append({"photo_id": photo.id, "aspect": aspect, "taken_at": photo.taken_at.isoformat(),
                          "days_before": round((observed_at - photo.taken_at).total_seconds() / 86400, 1)})
        elif photo.taken_at - observed_at > after_limit:
            stale.append({"photo_id": photo.id, "aspect": aspect, "taken_at": photo.taken_at.isoformat(),
                          "minutes_after": round((photo.taken_at - observed_at).total_seconds() / 60)})
    if not stale:
        return None
    return {"max_days_before": cfg["FLAG_STALE_DAYS"], "max_minutes_after": cfg["FLAG_STALE_AFTER_MINUTES"],
            "photos": stale}


def _photo_reused(inspection, photos, cfg):
    """The same bytes (same photo id) or a near-identical perceptual hash on another inspection."""
    ids = sorted({photo.id for _, photo in photos})
    if not ids:
        return None
    matches = {}
    same = db.session.execute(
        select(InspectionPhoto.photo_id, InspectionPhoto.inspection_id)
        .where(InspectionPhoto.photo_id.in_(ids), InspectionPhoto.inspection_id != inspection.id)
        .order_by(InspectionPhoto.inspection_id).limit(100)
    ).all()
    for photo_id, other in same:
        matches.setdefault((photo_id, other), {"photo_id": photo_id, "other_inspection_id": other,
                                               "match": "sha256", "distance": 0})
    # Near duplicates are searched among the county's inspections of the last two years (an index
    # range); identical bytes (sha256, above) are found everywhere.
    county = inspection.village_code[:CODE_LENGTH["county"]]
    other_photo = aliased(Photo)
    for phash in sorted({photo.phash for _, photo in photos if photo.phash}):
        distance = _phash_distance(other_photo.phash, phash)
        rows = db.session.execute(
            select(other_photo.id, InspectionPhoto.inspection_id, distance.label("distance"))
            .join(InspectionPhoto, InspectionPhoto.photo_id == other_photo.id)
            .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
            .where(other_photo.phash.is_not(None), InspectionPhoto.inspection_id != inspection.id,
                   subtree(Inspection.village_code, county),
                   Inspection.observed_at >= inspection.observed_at - NEAR_DUPLICATE_WINDOW,
                   distance <= cfg["FLAG_PHASH_MAX_DISTANCE"])
            .order_by(distance, InspectionPhoto.inspection_id).limit(20)
        ).all()
        mine = [photo.id for _, photo in photos if photo.phash == phash]
        for other_photo_id, other, dist in rows:
            for photo_id in mine:
                if other_photo_id != photo_id:
                    matches.setdefault((photo_id, other), {
                        "photo_id": photo_id, "other_inspection_id": other, "other_photo_id": other_photo_id,
                        "match": "phash", "distance": int(dist)})
    if not matches:
        return None
    found = sorted(matches.values(), key=lambda m: (m["photo_id"], m["other_inspection_id"]))
    return {"other_inspection_ids": sorted({m["other_inspection_id"] for m in found}),
            "max_phash_distance": cfg["FLAG_PHASH_MAX_DISTANCE"], "photos": found}


def compute_flags(inspection, lat, lon, photos):
    """[(code, facts)] for an inspection (flushed, so it has an id) at WGS-84 (lat, lon) with
    `photos` as [(aspect, Photo)]."""
    cfg = current_app.config
    found = {
        "outside_village": _outside_village(inspection, lat, lon, cfg),
        "exif_location_far": _exif_location_far(photos, lat, lon, cfg),
        "photo_stale": _photo_stale(photos, inspection.observed_at, cfg),
        "photo_reused": _photo_reused(inspection, photos, cfg),
        "low_accuracy": (
            {"accuracy_m": inspection.accuracy_m, "threshold_m": cfg["FLAG_LOW_ACCURACY_M"]}
            if inspection.accuracy_m is not None and inspection.accuracy_m > cfg["FLAG_LOW_ACCURACY_M"] else None
        ),
        "no_exif": (
            {"photos": [{"photo_id": p.id, "aspect": a} for a, p in photos if not p.has_exif]}
            if any(not p.has_exif for _, p in photos) else None
        ),
    }
    return [(code, found[code]) for code in FLAG_CODES if found.get(code) is not None]  # OpenRosa codes: services/openrosa.py


def apply_flags(inspection, lat, lon, photos):
    """Replace the inspection's flags with freshly computed ones; sets flag_count; flushes."""
    inspection.flags.clear()
    db.session.flush()
    flags = compute_flags(inspection, lat, lon, photos)
    for code, facts in flags:
        inspection.flags.append(InspectionFlag(code=code, facts=facts))
    inspection.flag_count = len(flags)
    db.session.flush()
    return flags
