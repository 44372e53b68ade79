"""Review decisions, reopening, bulk approval, history and the audit trail (DESIGN §3).

Status machine after submission::

    submitted --approve--> approved     approved --reopen (bureau/admin)--> submitted
    submitted --reject---> rejected     rejected --reopen (bureau/admin)--> submitted
    submitted --return---> returned     returned --resubmit (inspector, version + 1)--> submitted

Every write is a conditional UPDATE (`WHERE id = ? AND version = ? AND status = ?`) whose row count
says whether it won: of two reviewers deciding the same inspection at once exactly one succeeds,
the other gets 409 `version_conflict`. A reviewer's decision does not change `version` (the version
counts what the inspector sent; a Review records the version it decided). A reopen does not change
it either: the content is the same one that was reviewed, so the reviewers' view of it stays valid.
"""
from types import SimpleNamespace

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.access import get_visible_inspection, in_scope, visible_inspections
from app.domain import MAX_BULK
from app.errors import InvalidTransition, ValidationFailed, VersionConflict
from app.extensions import db
from app.models import AuditEntry, Inspection, InspectionVersion, Review, subtree
from app.models.types import utcnow
from app.services.audit import record_audit
from app.services.flags import redact_flag_lists
from app.services.village_status import refresh_village_latest
from app.services.webhooks import queue_inspection_event

DECISION_STATUS = {"approve": "approved", "reject": "rejected", "return": "returned"}
DECISION_EVENT = {"approve": "inspection.approved", "reject": "inspection.rejected", "return": "inspection.returned"}
COMMENT_REQUIRED = ("reject", "return")
REOPENABLE = ("approved", "rejected")


def _required_comment(decision, comment):
    comment = (comment or "").strip() or None
    if decision in COMMENT_REQUIRED and comment is None:
        raise ValidationFailed(
            f"A comment is required to {decision} an inspection.", message_zh="驳回或退回时必须填写意见。",
            fields={"comment": [f"Required when the decision is {decision}."]},
        )
    return comment


def _state(inspection):
    return {"status": inspection.status, "current_version": inspection.version}


def _transition_error(inspection, action):
    return InvalidTransition(
        f"Cannot {action} an inspection that is {inspection.status}.",
        message_zh=f"当前状态（{inspection.status}）下不能执行此操作。",
        details={**_state(inspection), "action": action},
    )


def _version_error(inspection, version):
    return VersionConflict(
        f"You sent version {version}; the inspection is now version {inspection.version}, {inspection.status}. "
        "Reload it and decide again.",
        details={**_state(inspection), "sent_version": version},
    )


def _conditional_update(inspection, from_statuses, version, values):
    """UPDATE the row only if it is still in one of `from_statuses` at `version`; True if it was."""
    result = db.session.execute(
        update(Inspection)
        .where(Inspection.id == inspection.id, Inspection.version == version,
               Inspection.status.in_(from_statuses))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(inspection)  # what the winner wrote, for the error details
        return False
    for key, value in values.items():
        set_committed_value(inspection, key, value)
    return True


def review_inspection(inspection_id, decision, comment, version, reviewer):
    """Approve, reject or return a submitted inspection the reviewer saw at `version`.

    404 out of scope; 422 without a comment for reject/return; 409 `version_conflict` when
    `version` is not the current one or another write won the race; 409 `invalid_transition`
    (details.status) when the inspection is not submitted. Returns (inspection, review)."""
    if decision not in DECISION_STATUS:
        raise ValidationFailed(fields={"decision": [f"Must be one of: {', '.join(DECISION_STATUS)}."]})
    inspection = get_visible_inspection(inspection_id, reviewer)
    comment = _required_comment(decision, comment)
    if inspection.version != version:
        raise _version_error(inspection, version)
    if inspection.status != "submitted":
        raise _transition_error(inspection, decision)
    now = utcnow()
    to_status = DECISION_STATUS[decision]
    won = _conditional_update(inspection, ("submitted",), version, {
        "status": to_status, "decided_at": now, "decided_by_id": reviewer.id, "updated_at": now,
    })
    if not won:
        raise _version_error(inspection, version)
    review = Review(inspection_id=inspection.id, reviewer_id=reviewer.id, decision=decision, comment=comment,
                    version=version, created_at=now)
    db.session.add(review)
    db.session.flush()
    record_audit(f"inspection.{to_status}", "inspection", inspection.id, actor=reviewer,
                 division_code=inspection.village_code, from_status="submitted", to_status=to_status,
                 version=version, comment=comment, details={"review_id": review.id})
    if to_status == "approved":
        refresh_village_latest([inspection.village_code], since=inspection.observed_at)
    queue_inspection_event(DECISION_EVENT[decision], inspection)
    return inspection, review


def reopen_inspection(inspection_id, reason, user, version=None):
    """Bureau/admin: put an approved or rejected inspection back into the queue (`submitted`).

    The reason is required (422) and audited; `version` is unchanged (see the module doc). The
    decision fields are cleared; `submitted_at` is kept, so it comes back at the front of the queue."""
    inspection = get_visible_inspection(inspection_id, user)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A reason is required to reopen an inspection.", message_zh="重新打开需要填写理由。",
                               fields={"reason": ["Missing data for required field."]})
    if version is not None and version != inspection.version:
        raise _version_error(inspection, version)
    if inspection.status not in REOPENABLE:
        raise _transition_error(inspection, "reopen")
    from_status, decided_by_id, decided_at = inspection.status, inspection.decided_by_id, inspection.decided_at
    now = utcnow()
    won = _conditional_update(inspection, (from_status,), inspection.version, {
        "status": "submitted", "decided_at": None, "decided_by_id": None, "updated_at": now,
    })
    if not won:
        raise _version_error(inspection, inspection.version)
    record_audit("inspection.reopened", "inspection", inspection.id, actor=user,
                 division_code=inspection.village_code, from_status=from_status, to_status="submitted",
                 version=inspection.version, comment=reason,
                 details={"previous_decided_by": decided_by_id,
                          "previous_decided_at": decided_at.isoformat() if decided_at else None})
    if from_status == "approved":
        refresh_village_latest([inspection.village_code], since=inspection.observed_at)
    queue_inspection_event("inspection.reopened", inspection)
    return inspection


def bulk_review(ids, decision, comment, reviewer):
    """One decision for many inspections, each at its current version.

    One conditional UPDATE decides every listed inspection that is submitted and in the reviewer's
    scope; the rest are left unchanged and reported (`not_found` or `invalid_transition` with the
    status). The view commits all successes together. Returns results in the order of `ids`:
    {"id", "ok": True, "status", "version"} or {"id", "ok": False, "error", "status"?}."""
    if decision not in DECISION_STATUS:
        raise ValidationFailed(fields={"decision": [f"Must be one of: {', '.join(DECISION_STATUS)}."]})
    comment = _required_comment(decision, comment)
    ids = list(dict.fromkeys(ids))
    if not ids or len(ids) > MAX_BULK:
        raise ValidationFailed(fields={"ids": [f"Give between 1 and {MAX_BULK} ids."]})
    now = utcnow()
    to_status = DECISION_STATUS[decision]
    decided = db.session.execute(
        update(Inspection)
        .where(Inspection.id.in_(ids), Inspection.status == "submitted", visible_inspections(reviewer))
        .values(status=to_status, decided_at=now, decided_by_id=reviewer.id, updated_at=now)
        .returning(Inspection.id, Inspection.client_uuid, Inspection.village_code, Inspection.version,
                   Inspection.observed_at, Inspection.flag_count)
        .execution_options(synchronize_session=False)
    ).all()
    by_id = {row.id: row for row in decided}
    reviews = [Review(inspection_id=row.id, reviewer_id=reviewer.id, decision=decision, comment=comment,
                      version=row.version, created_at=now) for row in decided]
    db.session.add_all(reviews)
    db.session.flush()
    for row, review in zip(decided, reviews):
        record_audit(f"inspection.{to_status}", "inspection", row.id, actor=reviewer, division_code=row.village_code,
                     from_status="submitted", to_status=to_status, version=row.version, comment=comment,
                     details={"review_id": review.id, "bulk": True})
        queue_inspection_event(DECISION_EVENT[decision], SimpleNamespace(**row._asdict(), status=to_status))
    if to_status == "approved" and decided:
        refresh_village_latest({row.village_code for row in decided}, since=min(row.observed_at for row in decided))
    others = {}
    rest = [i for i in ids if i not in by_id]
    if rest:
        others = {r.id: r for r in db.session.execute(
            select(Inspection.id, Inspection.status, Inspection.village_code)
            .where(Inspection.id.in_(rest), visible_inspections(reviewer))).all()}
    results = []
    for inspection_id in ids:
        if inspection_id in by_id:
            results.append({"id": inspection_id, "ok": True, "status": to_status,
                            "version": by_id[inspection_id].version})
        elif inspection_id in others:
            results.append({"id": inspection_id, "ok": False, "error": "invalid_transition",
                            "status": others[inspection_id].status})
        else:
            results.append({"id": inspection_id, "ok": False, "error": "not_found"})
    return results


def inspection_history(inspection_id, user):
    """Every version the inspector sent, every review and every audit entry of one inspection."""
    inspection = get_visible_inspection(inspection_id, user)
    versions = db.session.scalars(select(InspectionVersion).where(InspectionVersion.inspection_id == inspection.id)
                                  .order_by(InspectionVersion.version)).all()
    reviews = db.session.scalars(select(Review).where(Review.inspection_id == inspection.id)
                                 .order_by(Review.created_at, Review.id)).all()
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.object_type == "inspection",
                                                        AuditEntry.object_id == str(inspection.id))
                               .order_by(AuditEntry.at, AuditEntry.id)).all()
    # each version's flags as this user may read them (flags.redact_flag_lists: one statement)
    flags = redact_flag_lists(user, [(inspection.village_code, v.flags or []) for v in versions])
    columns = sa_inspect(InspectionVersion).column_attrs
    versions = [{**{c.key: getattr(v, c.key) for c in columns}, "flags": f} for v, f in zip(versions, flags)]
    return {"inspection": inspection, "versions": versions, "reviews": reviews, "audit": audit}


def audit_statement(user, action=None, object_type=None, object_id=None, actor=None, since=None, until=None,
                    division=None):
    """Audit entries the user may read (their scope; entries without a division: admins only),
    newest first, filtered. A statement for pagination."""
    scoped = in_scope(AuditEntry.division_code, user)
    if user.role == "admin":
        scoped = scoped | AuditEntry.division_code.is_(None)
    stmt = select(AuditEntry).where(scoped)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEntry.object_id == str(object_id))
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor)
    if division is not None:
        stmt = stmt.where(subtree(AuditEntry.division_code, division))
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    return stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
