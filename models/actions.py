"""Follow-up actions (后处理) on a final failure or refusal: interview, stop-sale, recall,
case, referral."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, enum_check, utcnow
from models.samples import Sample
from sampling.enums import ACTION_BASES, ACTION_KINDS, ACTION_STATUSES


class FollowUpAction(Base):
    """One thing the regulator does about a sample's final failure or refusal."""

    __tablename__ = "followup_actions"
    __table_args__ = (
        CheckConstraint(enum_check("kind", ACTION_KINDS), name="kind"),
        CheckConstraint(enum_check("status", ACTION_STATUSES), name="status"),
        CheckConstraint(f"basis IS NULL OR {enum_check('basis', ACTION_BASES)}", name="basis"),
        CheckConstraint("quantity_out IS NULL OR quantity_out >= 0", name="quantity_out"),
        CheckConstraint("recovered_qty IS NULL OR recovered_qty >= 0", name="recovered_qty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    # Why the rules called for it (serious failure, refusal, producer registered elsewhere...);
    # None for an action a supervisor chose to take.
    basis: Mapped[str | None] = mapped_column(String(24))
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # interview
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    person: Mapped[str | None] = mapped_column(String(100))  # interview: the responsible person
    quantity_out: Mapped[int | None] = mapped_column(Integer)  # recall: units on the market
    recovered_qty: Mapped[int | None] = mapped_column(Integer)  # recall: units recovered
    case_no: Mapped[str | None] = mapped_column(String(64))  # case: 立案号
    penalty: Mapped[str | None] = mapped_column(String(500))  # case: the decision (罚款...)
    to_authority: Mapped[str | None] = mapped_column(String(200))  # referral: to whom
    notes: Mapped[str | None] = mapped_column(Text)
    overdue_since: Mapped[date | None] = mapped_column(Date)  # flagged by the scheduled job
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sample: Mapped[Sample] = relationship()
