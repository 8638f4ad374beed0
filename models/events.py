"""Credit events for partner departments (联合奖惩): the feed partners poll with a cursor."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, enum_check, utcnow
from sampling.enums import EVENT_TYPES


class PartnerEvent(Base):
    """One credit event, written in the transaction of the change it reports.

    ``position`` is the feed's cursor: given at commit time, under a lock, so positions
    follow commit order (an id follows only the order rows were inserted in).
    """

    __tablename__ = "partner_events"
    __table_args__ = (CheckConstraint(enum_check("type", EVENT_TYPES), name="type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    type: Mapped[str] = mapped_column(String(32))
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
