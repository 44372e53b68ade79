"""A short thread of comments on an inspection, between its inspector and the reviewers."""
from sqlalchemy import select

from app.access import get_visible_inspection
from app.domain import MAX_COMMENT_CHARS
from app.errors import ValidationFailed
from app.extensions import db
from app.models import Comment
from app.services.audit import record_audit


def list_comments(inspection_id, user):
    """The thread, oldest first; 404 unless the user may see the inspection."""
    inspection = get_visible_inspection(inspection_id, user)
    return db.session.scalars(select(Comment).where(Comment.inspection_id == inspection.id)
                              .order_by(Comment.created_at, Comment.id)).all()


def add_comment(inspection_id, body, user):
    """Append a comment by the inspection's inspector or a reviewer (or above) in scope."""
    inspection = get_visible_inspection(inspection_id, user)
    body = (body or "").strip()
    if not body or len(body) > MAX_COMMENT_CHARS:
        raise ValidationFailed(fields={"body": [f"Between 1 and {MAX_COMMENT_CHARS} characters."]})
    comment = Comment(inspection_id=inspection.id, author_id=user.id, body=body)
    db.session.add(comment)
    db.session.flush()
    record_audit("inspection.commented", "inspection", inspection.id, actor=user,
                 division_code=inspection.village_code, version=inspection.version,
                 details={"comment_id": comment.id})
    return comment
