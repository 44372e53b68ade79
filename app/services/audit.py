"""The append-only audit log: every state change goes through `record_audit`."""
from app.extensions import db
from app.models import AuditEntry


def record_audit(action, object_type, object_id, *, actor=None, division_code=None, from_status=None,
                 to_status=None, version=None, comment=None, details=None):
    entry = AuditEntry(
        action=action, object_type=object_type, object_id=str(object_id),
        actor_id=getattr(actor, "id", actor), division_code=division_code, from_status=from_status,
        to_status=to_status, version=version, comment=comment, details=details,
    )
    db.session.add(entry)
    return entry
