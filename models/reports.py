"""The pass-rate target table (level × category group → rate)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class TargetRate(Base):
    """A pass-rate target overriding the default for one plan level and category group."""

    __tablename__ = "target_rates"
    __table_args__ = (
        UniqueConstraint("level", "grp"),
        CheckConstraint("rate > 0 AND rate <= 1", name="rate"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    group: Mapped[str] = mapped_column("grp", String(16))
    rate: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
