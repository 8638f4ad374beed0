"""Risk signals (风险信号): complaints, injury reports and outside failing results per enterprise."""

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, enum_check, utcnow
from models.registry import Category, Enterprise
from sampling.enums import SIGNAL_SOURCES


class RiskSignal(Base):
    """One complaint, injury report or outside failing result naming an enterprise and a category.

    ``credit_code`` and ``name`` keep what the source gave; ``enterprise`` is the one it was matched to.
    """

    __tablename__ = "risk_signals"
    __table_args__ = (
        CheckConstraint(enum_check("source", SIGNAL_SOURCES), name="source"),
        # The draw counts an enterprise's signals per category over the last 12 months.
        Index("ix_risk_signals_category_date", "category_id", "signal_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_date: Mapped[dt.date] = mapped_column(Date)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    source: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text)
    credit_code: Mapped[str | None] = mapped_column(String(18))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    enterprise: Mapped[Enterprise] = relationship()
    category: Mapped[Category] = relationship()

    @property
    def category_code(self) -> str:
        return self.category.code
