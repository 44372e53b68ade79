from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import CodeString, UTCDateTime, utcnow

ROLES = ("inspector", "reviewer", "bureau", "admin")


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('inspector', 'reviewer', 'bureau', 'admin')", name="ck_users_role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    scope_code: Mapped[str] = mapped_column(CodeString, ForeignKey("divisions.code"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # set by an administrator's create or reset; cleared by the user's own POST /me/password
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    scope = relationship("Division", lazy="joined")

    def __repr__(self):
        return f"<User {self.username} {self.role}@{self.scope_code}>"


class ApiToken(db.Model):
    """A bearer token; only its keyed hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", lazy="joined")


class LoginThrottle(db.Model):
    """Failed-login state, shared by every worker (app/auth.py). Two kinds of key:

    - `pair:NAME|ADDR`: one account from one client address. `failures` since the last lock;
      `lockouts` so far (each doubles the next lock); `locked_until` the end of the current lock.
    - `account:NAME`: one account from every address. `failures` since the account was last quiet;
      above the ceiling, `locked_until` is when the next attempt's slot is free.

    A row quiet for a window (no failure, no lock) is forgotten: reset, or deleted by the pruning."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
