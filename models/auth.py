"""API users and their tokens (only the token's hash is stored)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, enum_check, utcnow
from models.registry import Enterprise, Inspector, Lab
from sampling.enums import ROLES


class User(Base):
    """A token holder: a supervisor or partner, or an inspector, lab or enterprise bound to its
    record. A token may expire (``expires_at``) and is revoked by setting ``revoked_at``."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(enum_check("role", ROLES), name="role"),
        CheckConstraint("role != 'inspector' OR inspector_id IS NOT NULL", name="inspector_bound"),
        CheckConstraint("role != 'lab' OR lab_id IS NOT NULL", name="lab_bound"),
        CheckConstraint("role != 'enterprise' OR enterprise_id IS NOT NULL", name="enterprise_bound"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("inspectors.id"))
    lab_id: Mapped[int | None] = mapped_column(ForeignKey("labs.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    inspector: Mapped[Inspector | None] = relationship()
    lab: Mapped[Lab | None] = relationship()
    enterprise: Mapped[Enterprise | None] = relationship()

    def refusal(self, now: datetime) -> str | None:
        """Why this token may not be used at ``now`` (revoked, expired), or None."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return None
