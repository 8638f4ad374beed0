"""Samples (样品/抽样单), their results with item detail, and their event history."""

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, enum_check, utcnow
from models.plans import KINDS, LEVELS, Plan
from models.registry import Category, Enterprise, Inspector, Lab
from sampling.enums import RESULT_KINDS, STAGES, VERDICTS
from sampling.enums import SAMPLE_SOURCES as SOURCES
from sampling.lifecycle import STATES as SAMPLE_STATUSES

sample_team = Table(
    "sample_team",
    Base.metadata,
    Column("sample_id", ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True),
    Column("inspector_id", ForeignKey("inspectors.id"), primary_key=True, index=True),
)


class Sample(Base):
    """One sample of one enterprise in one plan (or imported from the city's past record)."""

    __tablename__ = "samples"
    __table_args__ = (
        CheckConstraint(enum_check("status", SAMPLE_STATUSES), name="status"),
        CheckConstraint(f"verdict IS NULL OR {enum_check('verdict', VERDICTS)}", name="verdict"),
        CheckConstraint(f"stage IS NULL OR {enum_check('stage', STAGES)}", name="stage"),
        CheckConstraint(enum_check("level", LEVELS), name="level"),
        CheckConstraint(enum_check("kind", KINDS), name="kind"),
        CheckConstraint(enum_check("source", SOURCES), name="source"),
        CheckConstraint(
            f"recheck_verdict IS NULL OR {enum_check('recheck_verdict', VERDICTS)}", name="recheck_verdict"
        ),
        CheckConstraint("purchase_price_fen IS NULL OR purchase_price_fen >= 0", name="purchase_price_fen"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), index=True)
    selection_id: Mapped[int | None] = mapped_column(ForeignKey("selections.id"), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    # Copied from the plan (or the imported row) so reports group without joining plans.
    period: Mapped[str] = mapped_column(String(6), index=True)
    level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(8), default="draw")

    status: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    verdict: Mapped[str | None] = mapped_column(String(4))
    critical_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The moment the verdict became final: a pass when notified, a failure when finalized after
    # its objection window or retested, a refusal when recorded, imported history its sampling.
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    stage: Mapped[str | None] = mapped_column(String(16))
    product_name: Mapped[str | None] = mapped_column(String(200))
    brand: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    batch_no: Mapped[str | None] = mapped_column(String(100))
    production_date: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[str | None] = mapped_column(String(50))
    reserve_quantity: Mapped[str | None] = mapped_column(String(50))
    visit_inspector_codes: Mapped[list | None] = mapped_column(JSON)
    # The named producer (标称生产者) on the label: a registered enterprise, or the name and address
    # of one registered elsewhere. Set at the visit (default: the sampled enterprise itself).
    producer_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    producer_credit_code: Mapped[str | None] = mapped_column(String(18))  # one registered elsewhere
    producer_name: Mapped[str | None] = mapped_column(String(200))
    producer_address: Mapped[str | None] = mapped_column(String(300))
    # The purchase (买样) of an online or cross-border sample.
    purchase_platform: Mapped[str | None] = mapped_column(String(64))
    purchase_order_no: Mapped[str | None] = mapped_column(String(100))
    purchase_price_fen: Mapped[int | None] = mapped_column(Integer)  # in fen (分), exact
    purchase_received_on: Mapped[date | None] = mapped_column(Date)

    lab_id: Mapped[int | None] = mapped_column(ForeignKey("labs.id"), index=True)
    retest_lab_id: Mapped[int | None] = mapped_column(ForeignKey("labs.id"), index=True)

    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sampled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    objection_filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    objection_reason: Mapped[str | None] = mapped_column(Text)
    rectification_due: Mapped[date | None] = mapped_column(Date)
    rectification_notes: Mapped[str | None] = mapped_column(Text)
    rectification_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rechecked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recheck_verdict: Mapped[str | None] = mapped_column(String(4))
    recheck_report_no: Mapped[str | None] = mapped_column(String(100))
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue: Mapped[list | None] = mapped_column(JSON)  # deadlines flagged by the job
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[Plan | None] = relationship()
    enterprise: Mapped[Enterprise] = relationship(foreign_keys=[enterprise_id])
    producer: Mapped[Enterprise | None] = relationship(foreign_keys=[producer_enterprise_id])
    category: Mapped[Category] = relationship()
    lab: Mapped[Lab | None] = relationship(foreign_keys=[lab_id])
    retest_lab: Mapped[Lab | None] = relationship(foreign_keys=[retest_lab_id])
    team: Mapped[list[Inspector]] = relationship(secondary=sample_team, order_by=Inspector.code)
    results: Mapped[list["Result"]] = relationship(back_populates="sample", order_by="Result.id")
    events: Mapped[list["SampleEvent"]] = relationship(back_populates="sample", order_by="SampleEvent.id")
    reports: Mapped[list["RectificationReport"]] = relationship(
        back_populates="sample", order_by="RectificationReport.id")


class Result(Base):
    """A lab report on a sample: the first test, the retest, or a recorded correction."""

    __tablename__ = "results"
    __table_args__ = (
        CheckConstraint(enum_check("kind", RESULT_KINDS), name="kind"),
        CheckConstraint(enum_check("verdict", VERDICTS), name="verdict"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="initial")
    lab_id: Mapped[int | None] = mapped_column(ForeignKey("labs.id"))
    lab_name: Mapped[str | None] = mapped_column(String(200))  # imported history may name an unknown lab
    report_no: Mapped[str] = mapped_column(String(100))
    tested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verdict: Mapped[str] = mapped_column(String(4))
    critical_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    correction_reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sample: Mapped[Sample] = relationship(back_populates="results")
    lab: Mapped[Lab | None] = relationship()
    items: Mapped[list["ResultItem"]] = relationship(
        back_populates="result", order_by="ResultItem.position", cascade="all, delete-orphan"
    )


class ResultItem(Base):
    """One test item (检验项目) of a result."""

    __tablename__ = "result_items"
    __table_args__ = (CheckConstraint(enum_check("verdict", VERDICTS), name="verdict"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    requirement: Mapped[str] = mapped_column(String(500))
    measured: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(50))
    verdict: Mapped[str] = mapped_column(String(4))
    critical: Mapped[bool] = mapped_column(Boolean, default=False)

    result: Mapped[Result] = relationship(back_populates="items")


class SampleEvent(Base):
    """One step in a sample's history, with the client-supplied time it happened."""

    __tablename__ = "sample_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict | None] = mapped_column(JSON)

    sample: Mapped[Sample] = relationship(back_populates="events")


class RectificationReport(Base):
    """The enterprise's rectification report (整改报告), kept with the rectification: the file
    itself (PDF or image, size-limited) and its SHA-256."""

    __tablename__ = "rectification_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sample: Mapped[Sample] = relationship(back_populates="reports")


class IdempotencyRecord(Base):
    """The first answer given under an ``Idempotency-Key``, replayed for repeats."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
