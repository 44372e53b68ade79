"""Flags computed at submission (DESIGN §3). They inform the reviewer and never reject.

Each flag is stored once per code in `inspection_flags` with the facts that raised it (distances
in metres, the photos concerned, the other inspections), and `Inspection.flag_count` is the
number of flag codes raised. Thresholds come from the FLAG_* settings.
"""
import json
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, case, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.orm import aliased

from app import geo
from app.access import visible_inspections
from app.extensions import db
from app.models import (
    CODE_LENGTH,
    Division,
    Inspection,
    InspectionFlag,
    InspectionPhoto,
    Photo,
    PhotoHashBand,
    subtree,
)
from app.domain import FLAG_CODES
from app.models.photo import PHASH_BANDS, phash_bands
from app.models.types import CHINA
from app.services.audit import record_audit
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


def _near_duplicates(inspection, hashes, max_distance, limit=20):
    """{hash: [(other photo id, other inspection id, distance)]}: for each of `hashes`, the photos of
    the county's other inspections observed in the last two years within `max_distance`, nearest
    first (then by inspection), at most `limit` — in one statement for all the hashes.

    Two hashes within distance d differ in at most d of their 8 bytes, so they share at least
    8 - d bands (PhotoHashBand): the candidates are the photos sharing that many bands with one of
    `hashes`, read through the (band, value) index; the exact distance is computed on them here."""
    county = inspection.village_code[:CODE_LENGTH["county"]]
    bounds = (InspectionPhoto.inspection_id != inspection.id, subtree(Inspection.village_code, county),
              Inspection.observed_at >= inspection.observed_at - NEAR_DUPLICATE_WINDOW)
    shared = PHASH_BANDS - max_distance
    if shared < 1:  # so loose a distance that no band must match: the distance against every photo
        return _near_duplicates_scan(inspection, hashes, max_distance, bounds, limit)
    pairs = sorted({pair for phash in hashes for pair in phash_bands(phash)})
    candidates = (
        select(PhotoHashBand.photo_id)
        .where(or_(*[and_(PhotoHashBand.band == band, PhotoHashBand.value == value) for band, value in pairs]))
        .group_by(PhotoHashBand.photo_id)
        .having(func.count() >= shared)
        .subquery()
    )
    rows = db.session.execute(
        select(Photo.id, Photo.phash, InspectionPhoto.inspection_id)
        .join(candidates, candidates.c.photo_id == Photo.id)
        .join(InspectionPhoto, InspectionPhoto.photo_id == Photo.id)
        .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
        .where(Photo.phash.is_not(None), *bounds)
    ).all()
    out = {}
    for phash in hashes:
        near = [(photo_id, other, _hamming_hex(other_hash, phash)) for photo_id, other_hash, other in rows]
        near = sorted({row for row in near if row[2] <= max_distance}, key=lambda r: (r[2], r[1], r[0]))
        out[phash] = near[:limit]
    return out


def _near_duplicates_scan(inspection, hashes, max_distance, bounds, limit):
    """_near_duplicates without the band index: one distance scan per hash."""
    other_photo = aliased(Photo)
    out = {}
    for phash in hashes:
        distance = _phash_distance(other_photo.phash, phash)
        out[phash] = [tuple(row) for row in db.session.execute(
            select(other_photo.id, InspectionPhoto.inspection_id, distance.label("distance"))
            .join(InspectionPhoto, InspectionPhoto.photo_id == other_photo.id)
            .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
            .where(other_photo.phash.is_not(None), *bounds, distance <= max_distance)
            .order_by(distance, InspectionPhoto.inspection_id).limit(limit)
        ).all()]
    return out


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
    # Near duplicates are searched among the county's inspections of the last two years; identical
    # bytes (sha256, above) are found everywhere.
    hashes = sorted({photo.phash for _, photo in photos if photo.phash})
    if hashes:
        found_near = _near_duplicates(inspection, hashes, cfg["FLAG_PHASH_MAX_DISTANCE"])
        for phash in hashes:
            mine = [photo.id for _, photo in photos if photo.phash == phash]
            for other_photo_id, other, dist in found_near[phash]:
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


def _no_location(inspection, photos):
    """No location was sent (GPS denied or unavailable; the village chosen by hand): the photos'
    own GPS positions, when they have one, measured against the village instead."""
    placed = []
    for aspect, photo in photos:
        if photo.exif_lat is None or photo.exif_lon is None:
            continue
        inside, distance = village_point_distance(inspection.village, photo.exif_lat, photo.exif_lon)
        placed.append({"photo_id": photo.id, "aspect": aspect, "inside_village": bool(inside),
                       "distance_m": None if distance is None else round(distance)})
    return {"village_chosen_by_hand": True, "photos": placed}


def _clock_skew(inspection, cfg):
    """The phone's own time of the visit (device_observed_at) differs from observed_at, which the
    phone corrected by the offset it measured from the server's clock (or, for a time still in the
    future, the time the server received it). skew_seconds > 0: the phone's clock is fast."""
    device = inspection.device_observed_at
    if device is None:
        return None
    skew = (device - inspection.observed_at).total_seconds()
    if abs(skew) <= cfg["FLAG_CLOCK_SKEW_MINUTES"] * 60:
        return None
    clamped = getattr(inspection, "observed_at_clamped", False)
    return {"skew_seconds": round(skew), "device_observed_at": device.isoformat(),
            "threshold_minutes": cfg["FLAG_CLOCK_SKEW_MINUTES"],
            # what observed_at holds: the phone's corrected time, or when the server received it
            "observed_at": "received_at" if clamped else "corrected"}


def compute_flags(inspection, lat, lon, photos):
    """[(code, facts)] for an inspection (flushed, so it has an id) at WGS-84 (lat, lon) with
    `photos` as [(aspect, Photo)]; (lat, lon) are None when no location was sent."""
    cfg = current_app.config
    located = lat is not None and lon is not None
    found = {
        "outside_village": _outside_village(inspection, lat, lon, cfg) if located else None,
        "exif_location_far": _exif_location_far(photos, lat, lon, cfg) if located else None,
        "no_location": None if located else _no_location(inspection, photos),
        "clock_skew": _clock_skew(inspection, cfg),
        # EXIF times come from the phone's clock: compare them with the phone's own time of the visit
        "photo_stale": _photo_stale(photos, inspection.device_observed_at or inspection.observed_at, cfg),
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


# --- reading: what a viewer may learn of other inspections -------------------------------------
#
# `photo_reused` facts are stored in full (the other inspections' ids and, for near duplicates,
# their photo ids) and redacted on every read. A viewer sees another inspection's id, and the
# photo id matched on it, only when that inspection is one they may open (access.visible_inspections);
# otherwise the match is described: the other inspection's township name and observation day
# (China time), no id, village or inspector.

ELSEWHERE_TEXT = {
    "other_township": ("an inspection in another township", "另一乡镇的巡查"),
    "same_township": ("another inspection in this township", "本乡镇的另一次巡查"),
    "unknown": ("another inspection", "另一次巡查"),
}


def _other_ids(facts):
    ids = set(facts.get("other_inspection_ids") or ())
    ids.update(p["other_inspection_id"] for p in facts.get("photos") or () if p.get("other_inspection_id") is not None)
    return ids


def _other_inspections(ids, viewer):
    """{id: (visible to viewer, township code, township name, observation day)} in one statement."""
    village, township = aliased(Division), aliased(Division)
    visible = case((visible_inspections(viewer), 1), else_=0) if viewer is not None else literal(0)
    rows = db.session.execute(
        select(Inspection.id, Inspection.observed_at, village.parent_code, township.name, visible.label("visible"))
        .join(village, village.code == Inspection.village_code)
        .outerjoin(township, township.code == village.parent_code)
        .where(Inspection.id.in_(sorted(ids)))
    ).all()
    return {r.id: (bool(r.visible), r.parent_code, r.name, r.observed_at.astimezone(CHINA).date().isoformat())
            for r in rows}


def _describe_elsewhere(other, own_township):
    if other is None:
        kind, township_name, observed_on = "unknown", None, None
    else:
        _, township_code, township_name, observed_on = other
        kind = "same_township" if township_code == own_township else "other_township"
    english, chinese = ELSEWHERE_TEXT[kind]
    return {"township_name": township_name, "observed_on": observed_on,
            "description": english, "description_zh": chinese}


def _redact_reused(facts, others, own_township):
    def visible(inspection_id):
        return others.get(inspection_id, (False,))[0]

    out = {k: v for k, v in facts.items() if k not in ("other_inspection_ids", "photos")}
    out["other_inspection_ids"] = [i for i in facts.get("other_inspection_ids") or () if visible(i)]
    hidden = [i for i in sorted(_other_ids(facts)) if not visible(i)]
    photos = []
    for photo in facts.get("photos") or ():
        other = photo.get("other_inspection_id")
        if other is None or visible(other):
            photos.append(photo)
        else:
            kept = {k: v for k, v in photo.items() if k not in ("other_inspection_id", "other_photo_id")}
            photos.append({**kept, "elsewhere": _describe_elsewhere(others.get(other), own_township)})
    out["photos"] = photos
    if hidden:
        described = {json.dumps(d, sort_keys=True): d
                     for d in (_describe_elsewhere(others.get(i), own_township) for i in hidden)}
        out["elsewhere"] = [described[k] for k in sorted(described)]
    return out


def redact_flag_lists(viewer, entries):
    """The flags of many inspections as `viewer` may read them, with one statement for all.

    `entries`: [(the flagged inspection's village code, [{"code", "facts"}, ...]), ...]; returns
    the flag lists in the same order, `photo_reused` facts redacted (see above), others as stored.
    `viewer` None (no user) sees no other inspection."""
    entries = [(village_code, list(flags)) for village_code, flags in entries]
    ids = set()
    for _, flags in entries:
        for flag in flags:
            if flag["code"] == "photo_reused":
                ids |= _other_ids(flag["facts"] or {})
    if not ids:
        return [flags for _, flags in entries]
    others = _other_inspections(ids, viewer)
    township_length = CODE_LENGTH["township"]
    return [[{"code": f["code"], "facts": _redact_reused(f["facts"] or {}, others, (village_code or "")[:township_length])}
             if f["code"] == "photo_reused" else f for f in flags]
            for village_code, flags in entries]


def redact_flags(viewer, village_code, flags):
    """One inspection's flags as `viewer` may read them (redact_flag_lists for one)."""
    return redact_flag_lists(viewer, [(village_code, flags)])[0]


def recheck_photo_reused(inspection_ids):
    """Run the photo_reused check again for these inspections, now that a photo's perceptual hash
    is ready (services.photos.complete_photo): an inspection submitted while a hash was pending was
    checked without it. The inspections it is then found to share a photo with are checked again
    too, as a submission after the hash would have found them. Each change is audited
    (`inspection.flags_updated`); flags keep their FLAG_CODES order. Flushes; returns the ids
    whose flags changed."""
    cfg = current_app.config
    changed, seen, todo = [], set(), sorted(set(inspection_ids))
    for _ in range(2):  # these inspections, then the ones they are found to share a photo with
        found_others = set()
        for inspection in db.session.scalars(select(Inspection).where(Inspection.id.in_(todo)).order_by(Inspection.id)):
            seen.add(inspection.id)
            photos = [(link.aspect, link.photo) for link in inspection.photo_links]
            fresh = _photo_reused(inspection, photos, cfg)
            if fresh is not None:
                found_others.update(fresh["other_inspection_ids"])
            current = {flag.code: flag.facts for flag in inspection.flags}
            if current.get("photo_reused") == fresh:
                continue
            before = current.get("photo_reused")
            if fresh is None:
                current.pop("photo_reused", None)
            else:
                current["photo_reused"] = fresh
            codes = [c for c in FLAG_CODES if c in current] + sorted(c for c in current if c not in FLAG_CODES)
            inspection.flags.clear()
            db.session.flush()
            for code in codes:
                inspection.flags.append(InspectionFlag(code=code, facts=current[code]))
            inspection.flag_count = len(codes)
            record_audit("inspection.flags_updated", "inspection", inspection.id, division_code=inspection.village_code,
                         version=inspection.version, details={
                             "reason": "photo hashes ready", "flag": "photo_reused",
                             "before": None if before is None else before.get("other_inspection_ids"),
                             "after": None if fresh is None else fresh["other_inspection_ids"], "flags": codes})
            changed.append(inspection.id)
        todo = sorted(found_others - seen)
        if not todo:
            break
    db.session.flush()
    return changed


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
