"""The access policy: which divisions, inspections and photos a user may see and act on.

One rule, written once as SQL conditions and used by every read and write:

- a user's **scope** is a division subtree (a code prefix); anything outside it does not exist for
  them (404, never 403, so that ids do not leak);
- an **inspector** sees only the inspections they made; reviewers and above see every inspection
  in scope;
- a **photo** is visible to whoever uploaded it and on any inspection the user may see;
- **originals** (the uploaded bytes with their metadata) are for reviewers and above.

Lists, the review queue, exports, history, comments and photo look-ups are all built from
`visible_inspections`, and single objects are loaded through `get_visible_inspection`, so the
Python and SQL forms of the rule cannot diverge.
"""
from datetime import timedelta

from flask import g
from sqlalchemy import and_, exists, select

from app.errors import NotFound
from app.extensions import db
from app.models import Division, Inspection, InspectionFlag, InspectionPhoto, Photo, PhotoUpload, subtree
from app.models.types import china_day_start

ROLE_RANK = {"inspector": 1, "reviewer": 2, "bureau": 3, "admin": 4}


def at_least(user, role):
    """Whether `user`'s role ranks at least `role` (inspector < reviewer < bureau < admin)."""
    return ROLE_RANK[user.role] >= ROLE_RANK[role]


# --- divisions ------------------------------------------------------------------------------

def in_scope(column, user=None):
    """SQL condition: `column` (a division code) lies in the user's scope."""
    user = user or g.user
    return subtree(column, user.scope_code)


def code_in_scope(code, user=None):
    user = user or g.user
    return code is not None and code.startswith(user.scope_code)


def not_found(what, key, message_zh="未找到该记录。"):
    return NotFound(f"{what} {key} not found.", message_zh=message_zh)


def division_in_scope_or_404(code, user=None):
    division = db.session.get(Division, code)
    if division is None or not code_in_scope(division.code, user):
        raise not_found("Division", code, "未找到该行政区划。")
    return division


# --- inspections ----------------------------------------------------------------------------

def visible_inspections(user):
    """SQL condition: the inspections `user` may see (in scope; an inspector's own only)."""
    condition = in_scope(Inspection.village_code, user)
    if not at_least(user, "reviewer"):
        condition = and_(condition, Inspection.inspector_id == user.id)
    return condition


def get_visible_inspection(inspection_id, user, lock=False):
    """The inspection if `user` may see it, else 404. `lock=True` (writers) re-reads the row and,
    on PostgreSQL, locks it for the rest of the transaction."""
    stmt = select(Inspection).where(Inspection.id == inspection_id, visible_inspections(user))
    if lock:
        stmt = stmt.execution_options(populate_existing=True)
        if db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=Inspection)
    inspection = db.session.scalar(stmt)
    if inspection is None:
        raise not_found("Inspection", inspection_id, "未找到该巡查记录。")
    return inspection


def inspection_filters(user, *, status=None, village=None, division=None, date_from=None, date_to=None,
                       flag=None, source=None):
    """SQL conditions: the inspections `user` may see, narrowed by the filters that the list, the
    review queue and the inspection export share. Dates are calendar days in China time, both
    inclusive, on `observed_at`; `flag` is a flag code, or `any` / `none`."""
    conditions = [visible_inspections(user)]
    if status is not None:
        conditions.append(Inspection.status == status)
    if village is not None:
        conditions.append(Inspection.village_code == village)
    if division is not None:
        conditions.append(subtree(Inspection.village_code, division))
    if date_from is not None:
        conditions.append(Inspection.observed_at >= china_day_start(date_from))
    if date_to is not None:
        conditions.append(Inspection.observed_at < china_day_start(date_to + timedelta(days=1)))
    if source is not None:
        conditions.append(Inspection.source == source)
    if flag == "any":
        conditions.append(Inspection.flag_count > 0)
    elif flag == "none":
        conditions.append(Inspection.flag_count == 0)
    elif flag is not None:
        conditions.append(exists().where(InspectionFlag.inspection_id == Inspection.id, InspectionFlag.code == flag))
    return conditions


# --- photos ---------------------------------------------------------------------------------

def visible_photos(photo_id_column, user):
    """SQL condition: the photo is one `user` uploaded, or is on an inspection `user` may see."""
    uploaded = exists().where(PhotoUpload.photo_id == photo_id_column, PhotoUpload.user_id == user.id)
    attached = exists().where(InspectionPhoto.photo_id == photo_id_column,
                              Inspection.id == InspectionPhoto.inspection_id, visible_inspections(user))
    return uploaded | attached


def visible_photo_ids(photo_ids, user):
    """The subset of `photo_ids` that `user` may see."""
    if not photo_ids:
        return set()
    stmt = select(Photo.id).where(Photo.id.in_(list(photo_ids)), visible_photos(Photo.id, user))
    return set(db.session.scalars(stmt))


def get_visible_photo(photo_id, user):
    """The photo if `user` may see it, else 404 (an invisible photo does not exist for them)."""
    photo = None
    if isinstance(photo_id, str) and len(photo_id) <= 32:
        photo = db.session.scalar(select(Photo).where(Photo.id == photo_id, visible_photos(Photo.id, user)))
    if photo is None:
        raise not_found("Photo", photo_id, "未找到该照片。")
    return photo


def may_see_originals(user):
    """Originals keep the uploaded metadata (exact GPS, device): reviewers and above only."""
    return at_least(user, "reviewer")
