"""Targets per metric and year, with optional division overrides (DESIGN §4).

The target that applies to a division is the most specific one: an override on the division itself
or its nearest ancestor, else the year's default row, else the built-in 2026 plan
(`DEFAULT_TARGETS`).
"""
from sqlalchemy import or_, select

from app.access import code_in_scope
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.models import DEFAULT_TARGETS, METRICS, Division, Target, User
from app.services.audit import record_audit
from app.services.rates import TargetBook


def list_targets(year, user, division_code=None):
    """The effective target per metric for `division_code` (default: the user's scope) in `year`,
    plus the stored rows visible to the user (defaults and overrides inside the scope)."""
    code = division_code or user.scope_code
    division = db.session.get(Division, code)
    if division is None or not code_in_scope(code, user):
        raise NotFound(f"Division {code} not found.", message_zh="未找到该行政区划。")
    book = TargetBook(year)
    effective = []
    for metric in METRICS:
        value, source = book.lookup(metric, code)
        effective.append({"metric": metric, "year": year, "division_code": code, "value": value, "source": source})
    # overrides on the scope's ancestors apply to it too, so they are shown (read-only)
    rows = db.session.scalars(
        select(Target).where(Target.year == year, or_(
            Target.division_code == "", Target.division_code.startswith(user.scope_code, autoescape=True),
            Target.division_code.in_([user.scope_code[:n] for n in (2, 4, 6, 9) if n < len(user.scope_code)]),
        )).order_by(Target.metric, Target.division_code)
    ).all()
    return {"year": year, "division": {"code": division.code, "name": division.name, "level": division.level},
            "effective": effective, "stored": target_answers(rows), "plan_defaults": DEFAULT_TARGETS}


def target_answers(rows):
    """Stored target rows as answered: each with its division's name (overrides), who set it
    (`set_by`: id, username, display name; null once that account is deleted) and when (`set_at`)."""
    user_ids = {r.updated_by_id for r in rows if r.updated_by_id is not None}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    codes = {r.division_code for r in rows if r.division_code}
    names = dict(db.session.execute(select(Division.code, Division.name).where(Division.code.in_(codes))).all()) \
        if codes else {}
    answers = []
    for r in rows:
        setter = users.get(r.updated_by_id)
        answers.append({
            "id": r.id, "metric": r.metric, "year": r.year, "division_code": r.division_code,
            "division_name": names.get(r.division_code), "value": r.value, "updated_at": r.updated_at,
            "set_at": r.updated_at,
            "set_by": None if setter is None else {"id": setter.id, "username": setter.username,
                                                   "display_name": setter.display_name},
        })
    return answers


def _inherited_target(metric, year, division):
    """The target that would apply to `division` without an override of its own."""
    return TargetBook(year).lookup(metric, division.parent_code or "")[0]


def set_target(metric, year, value, user, division_code=None):
    """Create or change one target. A year default (no division) needs a user whose scope is the
    whole tree it governs: an admin, or a bureau user at the top of the tree; an override needs the
    division in the user's scope and, unless set by an admin, may only be stricter than the target
    that applies above it (DESIGN §4: "a county may set a stricter one")."""
    if metric not in METRICS:
        raise ValidationFailed(fields={"metric": [f"Use one of {', '.join(METRICS)}."]})
    if not 0 <= value <= 1:
        raise ValidationFailed(fields={"value": ["A target is a fraction between 0 and 1."]})
    code = division_code or ""
    if code:
        division = db.session.get(Division, code)
        if division is None or not code_in_scope(code, user):
            raise NotFound(f"Division {code} not found.", message_zh="未找到该行政区划。")
        inherited = _inherited_target(metric, year, division)
        if user.role != "admin" and value < inherited:
            raise ValidationFailed(fields={"value": [
                f"An override may only be stricter: the target that applies above {code} is {inherited}."]})
    elif user.role != "admin" and db.session.get(Division, user.scope_code).parent_code is not None:
        raise ValidationFailed(fields={"division_code": [
            f"Your scope is {user.scope_code}: set an override for it (division_code) rather than a default."]})
    row = db.session.scalar(select(Target).where(Target.metric == metric, Target.year == year,
                                                 Target.division_code == code))
    old = None if row is None else row.value
    if row is None:
        row = Target(metric=metric, year=year, division_code=code, value=value, updated_by_id=user.id)
        db.session.add(row)
    else:
        row.value, row.updated_by_id = value, user.id
    db.session.flush()
    record_audit("target.set", "target", row.id, actor=user, division_code=code or None,
                 details={"metric": metric, "year": year, "from": old, "to": value})
    return target_answers([row])[0]
