"""Webhook endpoints kept in the database: one URL per division (a township, or any division in an
administrator's scope), receiving the events of the inspections inside its division's subtree,
each signed with the endpoint's own secret."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import BigId, CodeString, JSONType, UTCDateTime, utcnow

# The inspection events an endpoint may subscribe to (`events` null: all of them). `ping` is the
# test event an administrator sends by hand; it goes to one endpoint and is never subscribed.
WEBHOOK_EVENTS = ("inspection.submitted", "inspection.returned", "inspection.approved", "inspection.rejected",
                  "inspection.reopened")


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    division_code: Mapped[str] = mapped_column(CodeString, ForeignKey("divisions.code"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list | None] = mapped_column(JSONType)  # null: every event
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by = relationship("User")
    division = relationship("Division")

    def receives(self, event):
        return self.active and (self.events is None or event in self.events)
