"""The registries: product categories, enterprises, inspectors and labs."""

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, enum_check, utcnow
from sampling.enums import (
    CATEGORY_GROUPS,
    DEFAULT_ENTERPRISE_KINDS,
    DEFAULT_GRADE,
    DEFAULT_SCALE,
    DEFAULT_STATUS,
    ENTERPRISE_KINDS,
    ENTERPRISE_STATUSES,
    SCALES,
)
from sampling.enums import GRADES as CREDIT_GRADES

enterprise_categories = Table(
    "enterprise_categories",
    Base.metadata,
    Column("enterprise_id", ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("categories.id"), primary_key=True, index=True),
)

lab_categories = Table(
    "lab_categories",
    Base.metadata,
    Column("lab_id", ForeignKey("labs.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("categories.id"), primary_key=True),
)


class Category(Base):
    """A product category (产品类别) of the catalogue tree."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint(enum_check("grp", CATEGORY_GROUPS), name="grp"),
        CheckConstraint("risk_level BETWEEN 1 AND 3", name="risk_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    group: Mapped[str] = mapped_column("grp", String(16))
    key_supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_level: Mapped[int] = mapped_column(Integer, default=1)
    standard: Mapped[str | None] = mapped_column(String(200))
    # 季节性产品: the months (1-12) of its season, e.g. [10, 11, 12, 1, 2]; None: all year.
    season_months: Mapped[list[int] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Optional["Category"]] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Category"]] = relationship(back_populates="parent")

    @property
    def parent_code(self) -> str | None:
        return self.parent.code if self.parent else None


def kind_column(kind: str) -> str:
    """The boolean column of ``enterprises`` that marks an enterprise of ``kind``."""
    return f"is_{kind}"


class Enterprise(Base):
    """A producer, seller, online shop or importer (企业), keyed by its unified social credit code.

    Its kinds (``ENTERPRISE_KINDS``, one or more) are one boolean column each, ``is_<kind>``, so a
    draw selects the kind a plan's stage calls for with a plain indexed condition; ``kinds`` is the
    list the API reads and writes, and ``Enterprise.of_kind(kind)`` the condition to filter with.
    """

    __tablename__ = "enterprises"
    __table_args__ = (
        CheckConstraint(enum_check("scale", SCALES), name="scale"),
        CheckConstraint(enum_check("status", ENTERPRISE_STATUSES), name="status"),
        CheckConstraint(enum_check("credit_grade", CREDIT_GRADES), name="credit_grade"),
        CheckConstraint(" OR ".join(kind_column(k) for k in ENTERPRISE_KINDS), name="kinds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    region: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    scale: Mapped[str] = mapped_column(String(8), default=DEFAULT_SCALE)
    status: Mapped[str] = mapped_column(String(16), default=DEFAULT_STATUS)
    credit_grade: Mapped[str] = mapped_column(String(1), default=DEFAULT_GRADE)
    is_producer: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_seller: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_online_shop: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_importer: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    platform: Mapped[str | None] = mapped_column(String(64))  # an online shop's platform (电商平台)
    shop_id: Mapped[str | None] = mapped_column(String(64))  # its shop id on that platform
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    categories: Mapped[list[Category]] = relationship(secondary=enterprise_categories, order_by=Category.code)

    def __init__(self, **fields):
        fields.setdefault("kinds", DEFAULT_ENTERPRISE_KINDS)
        super().__init__(**fields)

    @property
    def category_codes(self) -> list[str]:
        return [c.code for c in self.categories]

    @property
    def kinds(self) -> list[str]:
        """The enterprise's kinds, in the order of ``ENTERPRISE_KINDS``."""
        return [k for k in ENTERPRISE_KINDS if getattr(self, kind_column(k))]

    @kinds.setter
    def kinds(self, kinds) -> None:
        for kind in ENTERPRISE_KINDS:
            setattr(self, kind_column(kind), kind in kinds)

    @classmethod
    def of_kind(cls, kind: str):
        """The condition selecting enterprises of ``kind``."""
        return getattr(cls, kind_column(kind))


class Inspector(Base):
    """A law-enforcement inspector (执法检查人员) who may be drawn onto a team."""

    __tablename__ = "inspectors"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Lab(Base):
    """An accredited testing lab (检验机构)."""

    __tablename__ = "labs"
    __table_args__ = (CheckConstraint("capacity >= 0", name="capacity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    accreditation: Mapped[str] = mapped_column(String(64))
    capacity: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    categories: Mapped[list[Category]] = relationship(secondary=lab_categories, order_by=Category.code)

    @property
    def category_codes(self) -> list[str]:
        return [c.code for c in self.categories]
