"""Spot-check plans (抽查计划), their one draw (抽取) and its selections."""

from datetime import date, datetime
from typing import Optional

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config import Config
from models.base import Base, UTCDateTime, enum_check, utcnow
from models.registry import Category
from sampling.enums import PLAN_KINDS as KINDS
from sampling.enums import PLAN_LEVELS as LEVELS
from sampling.enums import STAGES

# Rows made outside ``services.plans`` (test factories) get the plan defaults of the settings.
PLAN_DEFAULTS = {**Config.PLAN_DEFAULTS, "exclusion_days": Config.EXCLUSION_DAYS}

plan_categories = Table(
    "plan_categories",
    Base.metadata,
    Column("plan_id", ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("categories.id"), primary_key=True),
)


class Plan(Base):
    """A spot-check plan: what to check, where, how many, and the draw's rules."""

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint(enum_check("level", LEVELS), name="level"),
        CheckConstraint(enum_check("kind", KINDS), name="kind"),
        CheckConstraint(enum_check("stage", STAGES), name="stage"),
        CheckConstraint("window_start IS NULL OR window_end IS NULL OR window_start <= window_end",
                        name="sampling_window"),
        CheckConstraint("team_size >= 2", name="team_size"),
        CheckConstraint("exclusion_days >= 0", name="exclusion_days"),
        CheckConstraint("sample_size IS NULL OR sample_size >= 1", name="sample_size"),
        CheckConstraint(
            "sampling_ratio IS NULL OR (sampling_ratio > 0 AND sampling_ratio <= 1)", name="sampling_ratio"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(6), index=True)
    regions: Mapped[list] = mapped_column(JSON, default=list)  # empty: every region
    sample_size: Mapped[int | None] = mapped_column(Integer)
    sampling_ratio: Mapped[float | None] = mapped_column(Float)
    grade_ratios: Mapped[dict | None] = mapped_column(JSON)
    risk_weighting: Mapped[bool] = mapped_column(Boolean, default=PLAN_DEFAULTS["risk_weighting"])
    team_size: Mapped[int] = mapped_column(Integer, default=PLAN_DEFAULTS["team_size"])
    avoid_same_region: Mapped[bool] = mapped_column(Boolean, default=PLAN_DEFAULTS["avoid_same_region"])
    exclusion_days: Mapped[int] = mapped_column(Integer, default=PLAN_DEFAULTS["exclusion_days"])
    stage: Mapped[str] = mapped_column(String(16), default=PLAN_DEFAULTS["stage"])  # which kind of enterprise
    window_start: Mapped[date | None] = mapped_column(Date)  # the sampling window (a seasonal check)
    window_end: Mapped[date | None] = mapped_column(Date)
    # only producers of key categories not sampled within the coverage window
    uncovered_only: Mapped[bool] = mapped_column(Boolean, default=PLAN_DEFAULTS["uncovered_only"])
    server_seed: Mapped[str] = mapped_column(String(64))
    seed_commitment: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    categories: Mapped[list[Category]] = relationship(secondary=plan_categories, order_by=Category.code)
    draw: Mapped[Optional["Draw"]] = relationship(back_populates="plan", uselist=False)

    @property
    def category_codes(self) -> list[str]:
        return [c.code for c in self.categories]


class Draw(Base):
    """The one, immutable draw of a plan, with everything needed to recompute it."""

    __tablename__ = "draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), unique=True)
    public_entropy: Mapped[str] = mapped_column(String(500), default="")
    seed: Mapped[str] = mapped_column(String(64))
    registry_hash: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(64))  # its version, e.g. sha256-exp-tickets/2
    allocation: Mapped[dict] = mapped_column(JSON, default=dict)  # stratum -> samples, as published
    snapshot: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed canonical JSON
    # Made once the draw is public (it never changes after): the draw file, zlib-compressed, and its
    # verification, so that public requests are served from here instead of recomputing the draw.
    export_file: Mapped[bytes | None] = mapped_column(LargeBinary)
    verification: Mapped[dict | None] = mapped_column(JSON)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    drawn_by: Mapped[str | None] = mapped_column(String(100))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[Plan] = relationship(back_populates="draw")
    selections: Mapped[list["Selection"]] = relationship(back_populates="draw", order_by="Selection.position")


class Selection(Base):
    """One drawn enterprise: its stratum, ticket, inspector team and lab."""

    __tablename__ = "selections"
    __table_args__ = (UniqueConstraint("draw_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    credit_code: Mapped[str] = mapped_column(String(18))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    stratum: Mapped[str] = mapped_column(String(200))
    ticket: Mapped[float] = mapped_column(Float)
    inspector_codes: Mapped[list] = mapped_column(JSON)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"))

    draw: Mapped[Draw] = relationship(back_populates="selections")
