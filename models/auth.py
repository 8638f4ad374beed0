"""API users and their tokens (only the token's hash is stored)."""

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, enum_check, utcnow
from models.registry import Inspector, Lab
from sampling.enums import ROLES


class User(Base):
    """A token holder: a supervisor, or an inspector or lab bound to its record."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(enum_check("role", ROLES), name="role"),
        CheckConstraint("role != 'inspector' OR inspector_id IS NOT NULL", name="inspector_bound"),
        CheckConstraint("role != 'lab' OR lab_id IS NOT NULL", name="lab_bound"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("inspectors.id"))
    lab_id: Mapped[int | None] = mapped_column(ForeignKey("labs.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    inspector: Mapped[Inspector | None] = relationship()
    lab: Mapped[Lab | None] = relationship()
