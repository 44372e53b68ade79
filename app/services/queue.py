"""The review queue: submitted inspections in the reviewer's scope, with what a decision needs.

A page costs a fixed number of statements whatever its size: one for the counts, one for the
page rows (the page's ids picked from `inspections` alone with the order and LIMIT, then village,
township and inspector joined for those ids only), then one each for the page's photos, flags
and the villages' previous approved inspections (a window query), all keyed by the page's ids, and
one more when a flag names other inspections (what the reviewer may learn of them:
flags.redact_flag_lists).
"""
import math

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from app.access import inspection_filters
from app.database import read_session
from app.domain import photo_urls
from app.extensions import db
from app.models import (
    METRICS,
    Division,
    Inspection,
    InspectionFlag,
    InspectionPhoto,
    Photo,
    User,
)
from app.models.types import utcnow
from app.services.flags import redact_flag_lists


def _order_columns(order):
    """The page's sort keys as labelled columns (the ids subquery selects them, the outer query
    orders by them); the `inspector` order needs the username, so only it joins `users`."""
    tail = [Inspection.submitted_at.label("sort_submitted"), Inspection.id.label("sort_id")]
    if order == "flagged":
        return [(Inspection.flag_count.label("sort_key"), "desc"), *[(c, "asc") for c in tail]]
    if order == "village":
        return [(Inspection.village_code.label("sort_key"), "asc"), *[(c, "asc") for c in tail]]
    if order == "inspector":
        return [(User.username.label("sort_key"), "asc_nulls_last"), *[(c, "asc") for c in tail]]
    return [(c, "asc") for c in tail]


def _direction(column, how):
    if how == "desc":
        return column.desc()
    if how == "asc_nulls_last":
        return column.asc().nulls_last()
    return column.asc()


def queue_counts(conditions, now):
    waiting, flagged, oldest = read_session().execute(
        select(func.count(Inspection.id),
               func.coalesce(func.sum(case((Inspection.flag_count > 0, 1), else_=0)), 0),
               func.min(Inspection.submitted_at))
        .where(*conditions)
    ).one()
    return {"waiting": waiting, "flagged": int(flagged),
            "oldest_waiting_seconds": int((now - oldest).total_seconds()) if oldest else None}


def _page_ids(conditions, order, page, per_page):
    """The page's ids and sort keys, read from `inspections` alone (plus `users` for the inspector
    order) with the order and LIMIT/OFFSET: a deep page or the flagged order never joins the whole
    queue."""
    columns = _order_columns(order)
    stmt = select(*[c for c, _ in columns]).where(*conditions)
    if order == "inspector":
        stmt = stmt.outerjoin(User, User.id == Inspection.inspector_id)
    stmt = stmt.order_by(*[_direction(c, how) for c, how in columns])
    return stmt.limit(per_page).offset((page - 1) * per_page).subquery("page_ids"), columns


def _page_rows(conditions, order, page, per_page):
    """The page's rows in order: its ids first (_page_ids), then village, township and inspector
    joined for those ids only. One statement."""
    ids, columns = _page_ids(conditions, order, page, per_page)
    village = aliased(Division)
    township = aliased(Division)
    metric_columns = [getattr(Inspection, m) for m in METRICS]
    stmt = (
        select(Inspection.id, Inspection.client_uuid, Inspection.version, Inspection.status,
               Inspection.village_code, village.name.label("village_name"),
               village.parent_code.label("township_code"), township.name.label("township_name"),
               Inspection.inspector_id, User.username.label("inspector_username"),
               User.display_name.label("inspector_display_name"), Inspection.observed_at,
               Inspection.submitted_at, Inspection.accuracy_m, Inspection.notes, Inspection.flag_count,
               Inspection.households, Inspection.answers, Inspection.device_observed_at,
               func.ST_Y(Inspection.location_geom).label("lat"), func.ST_X(Inspection.location_geom).label("lon"),
               *metric_columns)
        .select_from(ids)
        .join(Inspection, Inspection.id == ids.c.sort_id)
        .join(village, village.code == Inspection.village_code)
        .outerjoin(township, township.code == village.parent_code)
        .outerjoin(User, User.id == Inspection.inspector_id)
        .order_by(*[_direction(ids.c[c.name], how) for c, how in columns])
    )
    return db.session.execute(stmt).all()


def _photos_by_inspection(ids):
    rows = db.session.execute(
        select(InspectionPhoto.inspection_id, InspectionPhoto.photo_id, InspectionPhoto.aspect,
               Photo.exif_lat, Photo.exif_lon, Photo.taken_at, Photo.variants_status)
        .join(Photo, Photo.id == InspectionPhoto.photo_id)
        .where(InspectionPhoto.inspection_id.in_(ids))
        .order_by(InspectionPhoto.inspection_id, InspectionPhoto.aspect, InspectionPhoto.position,
                  InspectionPhoto.id)
    ).all()
    out = {}
    for row in rows:
        out.setdefault(row.inspection_id, []).append(
            {"id": row.photo_id, "aspect": row.aspect, "thumb_url": photo_urls(row.photo_id)["thumb"],
             "exif_lat": row.exif_lat, "exif_lon": row.exif_lon, "taken_at": row.taken_at,
             "pending": row.variants_status == "pending"})
    return out


def _flags_by_inspection(ids):
    rows = db.session.execute(
        select(InspectionFlag.inspection_id, InspectionFlag.code, InspectionFlag.facts)
        .where(InspectionFlag.inspection_id.in_(ids))
        .order_by(InspectionFlag.inspection_id, InspectionFlag.id)
    ).all()
    out = {}
    for row in rows:
        out.setdefault(row.inspection_id, []).append({"code": row.code, "facts": row.facts or {}})
    return out


def previous_approved(ids):
    """{inspection id: the latest approved inspection of the same village observed no later than
    it} for `ids`, in one window query."""
    current = aliased(Inspection)
    earlier = aliased(Inspection)
    ranked = (
        select(current.id.label("for_id"), earlier.id.label("id"), earlier.observed_at.label("observed_at"),
               *[getattr(earlier, m).label(m) for m in METRICS],
               func.row_number().over(partition_by=current.id,
                                      order_by=(earlier.observed_at.desc(), earlier.id.desc())).label("rank"))
        .join(earlier, and_(earlier.village_code == current.village_code, earlier.status == "approved",
                            earlier.observed_at <= current.observed_at, earlier.id != current.id))
        .where(current.id.in_(ids))
        .subquery()
    )
    rows = db.session.execute(select(ranked).where(ranked.c.rank == 1)).all()
    return {row.for_id: {"id": row.id, "observed_at": row.observed_at,
                         "metrics": {m: getattr(row, m) for m in METRICS}} for row in rows}


def search_condition(text):
    """SQL condition: the village's name or the inspector's username or display name contains
    `text` (case-insensitive for Latin letters). EXISTS subqueries, so the counts and the page
    read it without another join."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"

    def matches(column):
        return func.lower(column).like(pattern, escape="\\")

    named, person = aliased(Division), aliased(User)  # the page's own joins stay out of the subqueries
    village = exists().where(named.code == Inspection.village_code, matches(named.name))
    inspector = exists().where(person.id == Inspection.inspector_id,
                               or_(matches(person.username), matches(func.coalesce(person.display_name, ""))))
    return or_(village, inspector)


def review_queue(user, order="oldest", page=1, per_page=50, township=None, q=None, **filters):
    """One page of the queue with counts: {"items", "page", "per_page", "total", "pages", "counts"}.
    `township` (any division code) and `filters` are the inspection list's (access.inspection_filters);
    `q` searches the village name and the inspector (search_condition)."""
    now = utcnow()
    conditions = inspection_filters(user, status="submitted", division=township, **filters)
    if q:
        conditions.append(search_condition(q))
    counts = queue_counts(conditions, now)
    rows = _page_rows(conditions, order, page, per_page) if counts["waiting"] else []
    ids = [row.id for row in rows]
    photos = _photos_by_inspection(ids) if ids else {}
    flags = _flags_by_inspection(ids) if ids else {}
    flags = dict(zip(ids, redact_flag_lists(user, [(row.village_code, flags.get(row.id, [])) for row in rows])))
    previous = previous_approved(ids) if ids else {}
    items = [{
        "id": row.id, "client_uuid": row.client_uuid, "version": row.version, "status": row.status,
        "village": {"code": row.village_code, "name": row.village_name},
        "township": {"code": row.township_code, "name": row.township_name},
        "inspector": None if row.inspector_id is None else {
            "id": row.inspector_id, "username": row.inspector_username, "display_name": row.inspector_display_name},
        "observed_at": row.observed_at, "submitted_at": row.submitted_at,
        "waiting_seconds": int((now - row.submitted_at).total_seconds()),
        "accuracy_m": row.accuracy_m, "notes": row.notes, "answers": row.answers or {},
        "location": None if row.lat is None else {"lat": row.lat, "lon": row.lon, "accuracy_m": row.accuracy_m},
        "device_observed_at": row.device_observed_at,
        "metrics": {m: getattr(row, m) for m in METRICS}, "households": row.households,
        "flag_count": row.flag_count, "flags": flags.get(row.id, []),
        "checks_pending": any(p["pending"] for p in photos.get(row.id, [])),
        "photos": photos.get(row.id, []), "previous_approved": previous.get(row.id),
    } for row in rows]
    return {"items": items, "page": page, "per_page": per_page, "total": counts["waiting"],
            "pages": math.ceil(counts["waiting"] / per_page), "counts": counts}
