"""Red/black list publications (红黑榜) and their entries."""

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, enum_check, utcnow
from models.registry import Enterprise

LISTS = ("red", "black")
SEVERITIES = ("general", "serious")


class Publication(Base):
    """The one publication of a period's red and black lists."""

    __tablename__ = "publications"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(6), unique=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(100))

    entries: Mapped[list["ListEntry"]] = relationship(back_populates="publication", order_by="ListEntry.id")


class ListEntry(Base):
    """One enterprise on one list of one period, with the row as published."""

    __tablename__ = "list_entries"
    __table_args__ = (
        CheckConstraint(enum_check("list", LISTS), name="list"),
        CheckConstraint(f"severity IS NULL OR {enum_check('severity', SEVERITIES)}", name="severity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"))
    period: Mapped[str] = mapped_column(String(6), index=True)
    list: Mapped[str] = mapped_column(String(5))
    severity: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    row: Mapped[dict] = mapped_column(JSON)  # the published row, frozen
    listed_at: Mapped[date] = mapped_column(Date)
    expires_at: Mapped[date | None] = mapped_column(Date)
    lapsed_at: Mapped[date | None] = mapped_column(Date)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removal_reason: Mapped[str | None] = mapped_column(Text)
    removed_by: Mapped[str | None] = mapped_column(String(100))

    publication: Mapped[Publication] = relationship(back_populates="entries")
    enterprise: Mapped[Enterprise] = relationship()

