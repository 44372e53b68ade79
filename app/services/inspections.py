"""Inspection submission: validation, idempotent create, resubmission after a return, listing.

Idempotency: `client_uuid` is unique. A retry with the same content answers with the stored
inspection; with different content it is a 409 naming the stored id. Two identical requests at
once: both try the insert inside a savepoint, the database's unique constraint lets one win, the
other catches the IntegrityError and re-reads the winner's row (after the winner's commit).
"""
import hashlib
import json
from datetime import datetime, timedelta, timezone

from flask import current_app, g
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import geo
from app.access import code_in_scope, get_visible_inspection, inspection_filters, visible_photo_ids
from app.errors import (
    DuplicateConflict,
    InvalidTransition,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from app.extensions import db
from app.models import (
    Division,
    Inspection,
    InspectionPhoto,
    InspectionVersion,
    Photo,
    Review,
)
from app.domain import PHOTO_REQUIRED, derive_metrics, metrics_of, photo_urls
from app.services.audit import record_audit
from app.services.flags import apply_flags, redact_flag_lists, redact_flags
from app.services.webhooks import queue_inspection_event

# --- content and its hash -------------------------------------------------------------------

def canonical_content(data):
    """The request's content in a canonical form (what an identical retry repeats)."""
    location = data.get("location")
    content = {
        "village": data["village"],
        "observed_at": data["observed_at"].astimezone(timezone.utc).isoformat(),
        "location": None if location is None else {
            "lat": location["lat"], "lon": location["lon"], "accuracy_m": location.get("accuracy_m"),
            "crs": location.get("crs", "wgs84")},
        "answers": data["answers"],
        "photos": {aspect: list(ids) for aspect, ids in sorted(data.get("photos", {}).items()) if ids},
        "notes": data.get("notes") or None,
    }
    if data.get("device_observed_at") is not None:  # only when sent: older hashes stay valid
        content["device_observed_at"] = data["device_observed_at"].astimezone(timezone.utc).isoformat()
    return content


def content_hash(data):
    text = json.dumps(canonical_content(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- validation -----------------------------------------------------------------------------

def _village_in_scope(code, user):
    village = db.session.get(Division, code)
    if village is None or village.level != "village" or not village.active or not code_in_scope(code, user):
        raise NotFound(f"Village {code} not found in your scope.", message_zh="您的辖区内没有该村。",
                       details={"village": code})
    return village


def _stored_observed_at(data):
    """(observed_at to store, clamped?): a time more than OBSERVED_AT_MAX_SKEW_MINUTES ahead of the
    server's clock that comes with the phone's own reading (`device_observed_at`) is a phone that
    could not correct its clock: the visit cannot be later than its arrival here, so the server's
    time of receipt is stored and the inspection is flagged `clock_skew`. Without
    `device_observed_at` such a time is refused (_check_observed_at)."""
    observed_at = data["observed_at"].astimezone(timezone.utc)
    now = datetime.now(timezone.utc)
    ahead = observed_at > now + timedelta(minutes=current_app.config["OBSERVED_AT_MAX_SKEW_MINUTES"])
    if ahead and data.get("device_observed_at") is not None:
        return now, True
    return observed_at, False


def _check_observed_at(observed_at, errors, device_observed_at=None):
    cfg = current_app.config
    now = datetime.now(timezone.utc)
    if observed_at > now + timedelta(minutes=cfg["OBSERVED_AT_MAX_SKEW_MINUTES"]):
        if device_observed_at is None:
            errors["observed_at"] = ["is in the future (check the phone's clock)"]
    elif observed_at < now - timedelta(days=cfg["OBSERVED_AT_MAX_AGE_DAYS"]):
        errors["observed_at"] = [f"is more than {cfg['OBSERVED_AT_MAX_AGE_DAYS']} days ago"]


def _check_photos(data, user, errors):
    """[(aspect, Photo)] in request order; problems go to `errors`."""
    photos = data.get("photos") or {}
    answered = set(data["answers"])
    for aspect, ids in photos.items():
        if ids and aspect not in answered:
            errors[f"photos.{aspect}"] = ["photos given for an aspect that is not answered"]
        if len(set(ids)) != len(ids):
            errors[f"photos.{aspect}"] = ["a photo is listed twice"]
    if current_app.config["REQUIRE_PHOTO_PER_ASPECT"]:
        for aspect in sorted(answered & PHOTO_REQUIRED):
            if not photos.get(aspect):
                errors[f"photos.{aspect}"] = ["at least one photo is required for an answered aspect"]
    wanted = {pid for ids in photos.values() for pid in ids}
    visible = visible_photo_ids(wanted, user)
    for aspect, ids in photos.items():
        for n, pid in enumerate(ids):
            if pid not in visible:
                errors[f"photos.{aspect}.{n}"] = [f"unknown photo {pid} (upload it first with POST /api/v1/photos)"]
    rows = {p.id: p for p in db.session.scalars(select(Photo).where(Photo.id.in_(visible)))} if visible else {}
    return [(aspect, rows[pid]) for aspect, ids in photos.items() for pid in ids if pid in rows]


def validate_submission(data, user):
    """Check a create/resubmit body against the database; returns (village, lat, lon, photos)."""
    village = _village_in_scope(data["village"], user)
    errors = {}
    location = data.get("location")
    lat = lon = None  # no location: the village was chosen by hand (flag no_location)
    if location is not None:
        lat, lon = geo.to_wgs84(location["lat"], location["lon"], location.get("crs", "wgs84"))
    _check_observed_at(data["observed_at"], errors, data.get("device_observed_at"))
    photos = _check_photos(data, user, errors)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return village, lat, lon, photos


# --- writing --------------------------------------------------------------------------------

def _apply_content(inspection, data, lat, lon):
    location = data.get("location")
    inspection.observed_at, inspection.observed_at_clamped = _stored_observed_at(data)
    device = data.get("device_observed_at")
    inspection.device_observed_at = None if device is None else device.astimezone(timezone.utc)
    if location is None:
        inspection.location_geom, inspection.accuracy_m, inspection.location_input = None, None, None
    else:
        inspection.location = Point(lon, lat)
        inspection.accuracy_m = location.get("accuracy_m")
        inspection.location_input = {"lat": location["lat"], "lon": location["lon"],
                                     "crs": location.get("crs", "wgs84")}
    inspection.answers = data["answers"]
    inspection.notes = data.get("notes") or None
    for column, value in derive_metrics(data["answers"]).items():
        setattr(inspection, column, value)


def _link_photos(inspection, photos):
    positions = {}
    for aspect, photo in photos:
        position = positions.get(aspect, 0)
        positions[aspect] = position + 1
        inspection.photo_links.append(InspectionPhoto(photo_id=photo.id, aspect=aspect, position=position, photo=photo))


def _record_version(inspection, photos):
    grouped = {}
    for aspect, photo in photos:
        grouped.setdefault(aspect, []).append(photo.id)
    db.session.add(InspectionVersion(
        inspection_id=inspection.id, version=inspection.version, observed_at=inspection.observed_at,
        device_observed_at=inspection.device_observed_at,
        location_input=(None if inspection.location_input is None
                        else {**inspection.location_input, "accuracy_m": inspection.accuracy_m}),
        answers=inspection.answers, photos=grouped, notes=inspection.notes,
        flags=[{"code": f.code, "facts": f.facts} for f in inspection.flags],
    ))


def _by_client_uuid(client_uuid):
    return db.session.scalar(
        select(Inspection).where(Inspection.client_uuid == client_uuid).execution_options(populate_existing=True)
    )


def _replay(existing, digest, user):
    """A second request with a known client_uuid: the stored inspection, or a 409."""
    if existing.inspector_id == user.id and existing.content_hash == digest:
        return existing, False
    details = {"client_uuid": str(existing.client_uuid)}
    if existing.inspector_id == user.id:
        details["id"] = existing.id
        raise DuplicateConflict(f"Inspection {existing.id} already has this client_uuid with different content.",
                                details=details)
    # first seen from another user (e.g. an item saved on a shared phone by the other account):
    # never re-attributed, and nothing about the other inspection is told
    raise DuplicateConflict(
        "This client_uuid was first sent by another user; it is never credited to you.",
        message_zh="该记录已由其他账号提交，不能记在您的名下。",
        details={**details, "reason": "other_user"},
    )


def insert_inspection(data, village, lat, lon, user, source):
    """Insert a new submitted inspection (version 1) from validated content, in a savepoint;
    returns it, or None when its client_uuid is stored already (a concurrent twin won)."""
    inspection = Inspection(client_uuid=data["client_uuid"], village_code=village.code, village=village,
                            inspector_id=user.id, status="submitted", version=1, content_hash=content_hash(data),
                            source=source, photo_links=[], flags=[])  # known empty: no lazy loads
    _apply_content(inspection, data, lat, lon)
    try:
        with db.session.begin_nested():
            db.session.add(inspection)
            db.session.flush()
    except IntegrityError:
        return None
    return inspection


def link_photos(inspection, photos):
    """Attach [(aspect, Photo)] in order; flushes."""
    _link_photos(inspection, photos)
    db.session.flush()


def record_submission(inspection, photos, user, **details):
    """What every new submission leaves behind once its flags are set: the version row, the audit
    entry and the webhook event. Flushes."""
    _record_version(inspection, photos)
    record_audit("inspection.submitted", "inspection", inspection.id, actor=user,
                 division_code=inspection.village_code, to_status="submitted", version=1,
                 details={"client_uuid": str(inspection.client_uuid), "flags": [f.code for f in inspection.flags],
                          **details})
    queue_inspection_event("inspection.submitted", inspection)
    db.session.flush()


def create_inspection(data, user):
    """Create an inspection from a validated body (InspectionCreateSchema); returns
    (inspection, created). Flushes; the caller commits."""
    digest = content_hash(data)
    existing = _by_client_uuid(data["client_uuid"])
    if existing is not None:
        return _replay(existing, digest, user)
    village, lat, lon, photos = validate_submission(data, user)
    inspection = insert_inspection(data, village, lat, lon, user, source="app")
    if inspection is None:
        existing = _by_client_uuid(data["client_uuid"])
        if existing is None:
            raise RuntimeError(f"client_uuid {data['client_uuid']} conflicted but is not stored")
        return _replay(existing, digest, user)
    link_photos(inspection, photos)
    apply_flags(inspection, lat, lon, photos)
    record_submission(inspection, photos, user)
    return inspection, True


def _is_latest_version_content(inspection, data):
    """Whether `data` is what was sent for the inspection's current version."""
    row = db.session.scalar(select(InspectionVersion).where(
        InspectionVersion.inspection_id == inspection.id, InspectionVersion.version == inspection.version))
    if row is None:
        return False
    location = row.location_input
    stored = canonical_content({
        "village": inspection.village_code, "observed_at": row.observed_at,
        "device_observed_at": row.device_observed_at,
        "location": None if location is None else {
            "lat": location.get("lat"), "lon": location.get("lon"),
            "accuracy_m": location.get("accuracy_m"), "crs": location.get("crs", "wgs84")},
        "answers": row.answers, "photos": row.photos, "notes": row.notes,
    })
    sent = canonical_content(data)
    if _stored_observed_at(data)[1]:  # stored as the time it was received: compare the rest
        stored.pop("observed_at")
        sent.pop("observed_at")
    return stored == sent


def resubmit_inspection(inspection_id, data, user):
    """Edit and resubmit a returned inspection (owner only): status -> submitted, version + 1,
    flags recomputed, a new version row. An identical retry of a resubmission that already went
    through (the phone lost the answer) gets the stored inspection back. Flushes; the caller commits."""
    inspection = get_visible_inspection(inspection_id, user, lock=True)
    if (inspection.status != "returned" and inspection.version == data["version"] + 1
            and _is_latest_version_content(inspection, data)):
        return inspection  # an identical retry of a resubmission that went through
    if inspection.version != data["version"]:
        raise VersionConflict(details={"current_version": inspection.version, "status": inspection.status})
    if inspection.status != "returned":
        raise InvalidTransition(f"Only a returned inspection can be resubmitted; this one is {inspection.status}.",
                                details={"status": inspection.status})
    village, lat, lon, photos = validate_submission(data, user)
    inspection.village_code, inspection.village = village.code, village
    _apply_content(inspection, data, lat, lon)
    inspection.photo_links.clear()
    db.session.flush()
    _link_photos(inspection, photos)
    inspection.status = "submitted"
    inspection.version += 1
    inspection.submitted_at = datetime.now(timezone.utc)
    inspection.decided_at = inspection.decided_by_id = None
    db.session.flush()
    apply_flags(inspection, lat, lon, photos)
    _record_version(inspection, photos)
    record_audit("inspection.resubmitted", "inspection", inspection.id, actor=user, division_code=village.code,
                 from_status="returned", to_status="submitted", version=inspection.version,
                 details={"flags": [f.code for f in inspection.flags]})
    queue_inspection_event("inspection.submitted", inspection)
    db.session.flush()
    return inspection


# --- reading --------------------------------------------------------------------------------

def list_inspections_query(user, **filters):
    """select() of the inspections `user` may see, filtered (access.inspection_filters); newest
    observation first, id breaks ties."""
    return (select(Inspection).where(*inspection_filters(user, **filters))
            .order_by(Inspection.observed_at.desc(), Inspection.id.desc()))


def latest_reviews(inspection_ids):
    """{inspection id: its latest Review} for many inspections in one query."""
    if not inspection_ids:
        return {}
    newest = (select(Review.inspection_id, func.max(Review.id).label("id"))
              .where(Review.inspection_id.in_(list(inspection_ids))).group_by(Review.inspection_id).subquery())
    rows = db.session.scalars(select(Review).join(newest, Review.id == newest.c.id)).all()
    return {r.inspection_id: r for r in rows}


def _review_ref(review):
    return None if review is None else {"decision": review.decision, "comment": review.comment,
                                        "version": review.version, "reviewer": review.reviewer,
                                        "created_at": review.created_at}


def describe_inspection(inspection, detail=True, review=..., viewer=None, flags=None):
    """The inspection as the API answers it (DESIGN §5.1 names) to `viewer` (default: the request's
    user). `review`: its latest review when the caller loaded it already (lists load a page's
    reviews in one query); `flags`: its flags already redacted for the viewer (describe_inspections
    redacts a page in one query), else they are redacted here (flags.redact_flags)."""
    if review is ...:
        review = latest_reviews([inspection.id]).get(inspection.id)
    if flags is None:
        flags = redact_flags(viewer or g.get("user"), inspection.village_code,
                             [{"code": f.code, "facts": f.facts} for f in inspection.flags])
    point = inspection.location
    village = inspection.village
    body = {
        "id": inspection.id, "client_uuid": str(inspection.client_uuid), "status": inspection.status,
        "version": inspection.version,
        "village": {"code": village.code, "name": village.name, "township_code": village.parent_code},
        "inspector": inspection.inspector, "observed_at": inspection.observed_at,
        "device_observed_at": inspection.device_observed_at, "submitted_at": inspection.submitted_at,
        "location": None if point is None else {
            "lat": point.y, "lon": point.x, "accuracy_m": inspection.accuracy_m,
            "input": inspection.location_input or {}},
        "metrics": metrics_of(inspection),
        "flags": flags,
        "flag_count": inspection.flag_count,
        # a photo's hash still pending (services.photos): photo_reused is checked again when it is ready
        "checks_pending": any(link.photo.variants_status == "pending" for link in inspection.photo_links),
        "latest_review": _review_ref(review),
    }
    if detail:
        photos, urls = {}, {}
        for link in inspection.photo_links:
            photos.setdefault(link.aspect, []).append(link.photo_id)
            urls.setdefault(link.aspect, []).append({"id": link.photo_id, **photo_urls(link.photo_id)})
        body.update(answers=inspection.answers, photos=photos, photo_urls=urls, notes=inspection.notes,
                    source=inspection.source, created_at=inspection.created_at, updated_at=inspection.updated_at)
    return body


def describe_inspections(inspections, viewer, detail=False):
    """describe_inspection for a page of inspections: their latest reviews and their flags as
    `viewer` may read them, one query each for the whole page."""
    reviews = latest_reviews([i.id for i in inspections])
    flags = redact_flag_lists(viewer, [(i.village_code, [{"code": f.code, "facts": f.facts} for f in i.flags])
                                       for i in inspections])
    return [describe_inspection(i, detail=detail, review=reviews.get(i.id), viewer=viewer, flags=f)
            for i, f in zip(inspections, flags)]
