"""Red/black list publications (红黑榜), their numbered supplements, and their entries."""

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, enum_check, utcnow
from models.registry import Enterprise
from sampling.enums import LIST_NAMES, SEVERITIES


class Publication(Base):
    """The one publication of a period's red and black lists."""

    __tablename__ = "publications"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(6), unique=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(100))

    entries: Mapped[list["ListEntry"]] = relationship(back_populates="publication", order_by="ListEntry.id")
    supplements: Mapped[list["Supplement"]] = relationship(back_populates="publication", order_by="Supplement.no")


class Supplement(Base):
    """A numbered supplement (补充/更正公告) of a published period: what reached it later."""

    __tablename__ = "supplements"
    __table_args__ = (UniqueConstraint("publication_id", "no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"), index=True)
    no: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)

    publication: Mapped[Publication] = relationship(back_populates="supplements")


class ListEntry(Base):
    """One enterprise on one list of one period, with the row as published.

    ``supplement_id`` names the supplement that carried it (none: the original publication);
    ``withdrawn_in_id`` the supplement that withdrew it (a corrected verdict): the row itself
    is never edited.
    """

    __tablename__ = "list_entries"
    __table_args__ = (
        CheckConstraint(enum_check("list", LIST_NAMES), name="list"),
        CheckConstraint(f"severity IS NULL OR {enum_check('severity', SEVERITIES)}", name="severity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"), index=True)
    supplement_id: Mapped[int | None] = mapped_column(ForeignKey("supplements.id"), index=True)
    withdrawn_in_id: Mapped[int | None] = mapped_column(ForeignKey("supplements.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"), index=True)
    period: Mapped[str] = mapped_column(String(6), index=True)
    list: Mapped[str] = mapped_column(String(5))
    severity: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    row: Mapped[dict] = mapped_column(JSON)  # the published row, frozen
    final_on: Mapped[date | None] = mapped_column(Date)  # the day the verdict became final
    listed_at: Mapped[date] = mapped_column(Date)
    expires_at: Mapped[date | None] = mapped_column(Date)
    lapsed_at: Mapped[date | None] = mapped_column(Date)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removal_reason: Mapped[str | None] = mapped_column(Text)
    removed_by: Mapped[str | None] = mapped_column(String(100))

    publication: Mapped[Publication] = relationship(back_populates="entries")
    supplement: Mapped[Supplement | None] = relationship(foreign_keys=[supplement_id])
    withdrawn_in: Mapped[Supplement | None] = relationship(foreign_keys=[withdrawn_in_id])
    enterprise: Mapped[Enterprise] = relationship()
