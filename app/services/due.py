"""What is due: the villages in a user's scope with no submitted or approved inspection in a
period (the inspector's "本月待巡查"), each with when it was last visited.

A village counts as visited in the period when an inspection of it observed in the period is
`submitted` (waiting for review) or `approved`; returned and rejected ones leave it due. The
villages listed are the active ones whose kind the rates count (RATES_COUNTED_KINDS), since
those are the visits the targets need. One statement for the count and one for the page.
"""
import math
from datetime import datetime

from flask import current_app
from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from app.access import division_in_scope_or_404, in_scope
from app.extensions import db
from app.models import Division, Inspection, subtree
from app.models.types import CHINA
from app.services.rates import parse_period

VISITED_STATUSES = ("submitted", "approved")


def current_month_key():
    now = datetime.now(CHINA)
    return f"{now.year}-{now.month:02d}"


def due_villages(user, period=None, division=None, page=1, per_page=50):
    """{"period", "counted_kinds", "items": [{code, name, township, last_visited_at, last_status}],
    "page", "per_page", "total", "pages"}: the villages in `user`'s scope (narrowed to `division`'s
    subtree) not visited in `period` (default: this month, China time), never visited first, then
    the longest ago."""
    period = parse_period(period or current_month_key())
    kinds = tuple(current_app.config["RATES_COUNTED_KINDS"])
    conditions = [Division.level == "village", Division.active.is_(True), Division.kind.in_(kinds),
                  in_scope(Division.code, user)]
    if division is not None:
        conditions.append(subtree(Division.code, division_in_scope_or_404(division, user).code))
    conditions.append(~exists().where(
        Inspection.village_code == Division.code, Inspection.status.in_(VISITED_STATUSES),
        Inspection.observed_at >= period.start, Inspection.observed_at < period.end))
    last = (select(Inspection.observed_at, Inspection.status).where(Inspection.village_code == Division.code)
            .order_by(Inspection.observed_at.desc(), Inspection.id.desc()).limit(1))
    last_at = last.with_only_columns(Inspection.observed_at).scalar_subquery()
    last_status = last.with_only_columns(Inspection.status).scalar_subquery()
    total = db.session.scalar(select(func.count()).select_from(Division).where(*conditions))
    township = aliased(Division)
    rows = db.session.execute(
        select(Division.code, Division.name, Division.parent_code, township.name.label("township_name"),
               last_at.label("last_visited_at"), last_status.label("last_status"))
        .outerjoin(township, township.code == Division.parent_code)
        .where(*conditions)
        .order_by(last_at.asc().nulls_first(), Division.code)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    items = [{"code": r.code, "name": r.name, "township": {"code": r.parent_code, "name": r.township_name},
              "last_visited_at": r.last_visited_at, "last_status": r.last_status} for r in rows]
    return {"period": period.key, "counted_kinds": list(kinds), "items": items, "page": page,
            "per_page": per_page, "total": total, "pages": math.ceil(total / per_page)}

