"""Review queue, decisions, reopening, history, comments, audit log and webhook deliveries."""
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import auth_required
from app.extensions import db
from app.schemas.common import page_of, paginated
from app.schemas.reviews import (
    AuditArgs,
    AuditEntrySchema,
    BulkResultSchema,
    BulkReviewArgs,
    CommentArgs,
    CommentListSchema,
    CommentSchema,
    DeliveryArgs,
    DeliverySchema,
    HistorySchema,
    InspectionStateSchema,
    QueueArgs,
    QueuePageSchema,
    ReopenArgs,
    ReviewArgs,
    ReviewResultSchema,
)
from app.services.comments import add_comment, list_comments
from app.services.queue import review_queue
from app.services.reviews import (
    audit_statement,
    bulk_review,
    inspection_history,
    reopen_inspection,
    review_inspection,
)
from app.services.webhooks import list_deliveries

blp = Blueprint("reviews", __name__, url_prefix="/api/v1",
                description="Township review: the queue, decisions, history, comments, audit log, webhooks.")


@blp.route("/review-queue")
class ReviewQueue(MethodView):
    @blp.arguments(QueueArgs, location="query")
    @blp.response(200, QueuePageSchema)
    @auth_required(min_role="reviewer")
    def get(self, args):
        """Submitted inspections in your scope waiting for a decision.

        Each item carries its village and inspector, thumbnails, flags with their facts and the
        village's previous approved inspection; `counts` (waiting, flagged, oldest waiting age in
        seconds) cover the filtered queue. Send the item's `version` back with your decision."""
        page, per_page, order = args.pop("page"), args.pop("per_page"), args.pop("order")
        return review_queue(g.user, order=order, page=page, per_page=per_page, **args)


@blp.route("/inspections/<int(max=9223372036854775807):inspection_id>/review")
class InspectionReview(MethodView):
    @blp.arguments(ReviewArgs)
    @blp.response(200, ReviewResultSchema)
    @auth_required(min_role="reviewer")
    def post(self, args, inspection_id):
        """Approve, reject or return (send back) a submitted inspection.

        `comment` is required to reject or return (422). `version` is the version you reviewed:
        if it is no longer current, or another reviewer's decision was written first, the answer
        is 409 `version_conflict`; a decision on an inspection that is not `submitted` is 409
        `invalid_transition`. Both carry the current `status` and `current_version` in `details`."""
        inspection, review = review_inspection(inspection_id, args["decision"], args.get("comment"),
                                               args["version"], g.user)
        db.session.commit()
        return {"inspection": inspection, "review": review}


@blp.route("/reviews/bulk")
class BulkReview(MethodView):
    @blp.arguments(BulkReviewArgs)
    @blp.response(200, BulkResultSchema)
    @auth_required(min_role="reviewer")
    def post(self, args):
        """One decision (default approve) for many inspections, with a result per id.

        Each listed inspection that is submitted and in your scope is decided at its current
        version; the others are left unchanged and reported (`not_found`, `invalid_transition`
        with the current status). The successes are committed together: the response says
        exactly which ones were applied."""
        results = bulk_review(args["ids"], args["decision"], args.get("comment"), g.user)
        db.session.commit()
        succeeded = sum(1 for r in results if r["ok"])
        return {"decision": args["decision"], "succeeded": succeeded, "failed": len(results) - succeeded,
                "results": results}


@blp.route("/inspections/<int(max=9223372036854775807):inspection_id>/reopen")
class InspectionReopen(MethodView):
    @blp.arguments(ReopenArgs)
    @blp.response(200, InspectionStateSchema)
    @auth_required(min_role="bureau")
    def post(self, args, inspection_id):
        """Bureau or admin: put an approved or rejected inspection back into the review queue.

        The reason is required and audited; the version stays the same (the content is unchanged)."""
        inspection = reopen_inspection(inspection_id, args["reason"], g.user, version=args.get("version"))
        db.session.commit()
        return inspection


@blp.route("/inspections/<int(max=9223372036854775807):inspection_id>/history")
class InspectionHistory(MethodView):
    @blp.response(200, HistorySchema)
    @auth_required()
    def get(self, inspection_id):
        """Every version the inspector sent, every review and every audit entry, oldest first.

        Visible to the inspector who made it and to reviewers and above in scope."""
        return inspection_history(inspection_id, g.user)


@blp.route("/inspections/<int(max=9223372036854775807):inspection_id>/comments")
class InspectionComments(MethodView):
    @blp.response(200, CommentListSchema)
    @auth_required()
    def get(self, inspection_id):
        """The comment thread of an inspection, oldest first (its inspector, reviewers and above in scope)."""
        return {"items": list_comments(inspection_id, g.user)}

    @blp.arguments(CommentArgs)
    @blp.response(201, CommentSchema)
    @auth_required()
    def post(self, args, inspection_id):
        """Add a comment (its inspector, reviewers and above in scope)."""
        comment = add_comment(inspection_id, args["body"], g.user)
        db.session.commit()
        return comment


@blp.route("/audit")
class AuditLog(MethodView):
    @blp.arguments(AuditArgs, location="query")
    @blp.response(200, page_of(AuditEntrySchema))
    @auth_required(min_role="bureau")
    def get(self, args):
        """The append-only audit log in your scope, newest first (bureau and admin; read-only).

        Filters: `action`, `object_type`, `object_id`, `actor` (user id), `division` (a subtree),
        `from`/`to` (time)."""
        page, per_page = args.pop("page"), args.pop("per_page")
        stmt = audit_statement(g.user, **args)
        return paginated(db.paginate(stmt, page=page, per_page=per_page, error_out=False))


@blp.route("/webhooks/deliveries")
class WebhookDeliveries(MethodView):
    @blp.arguments(DeliveryArgs, location="query")
    @blp.response(200, page_of(DeliverySchema))
    @auth_required(roles=("admin",))
    def get(self, args):
        """Admin: outgoing webhook deliveries in scope, newest first; `status=failed` shows the failures,
        `pending` with attempts > 0 the ones waiting for a retry; `endpoint` those to one webhook
        endpoint (0: to WEBHOOK_URLS)."""
        stmt = list_deliveries(g.user, status=args.get("status"), endpoint=args.get("endpoint"))
        return paginated(db.paginate(stmt, page=args["page"], per_page=args["per_page"], error_out=False))
