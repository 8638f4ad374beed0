"""The registries: product categories, enterprises, inspectors and labs."""

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, enum_check, utcnow
from sampling.enums import CATEGORY_GROUPS, ENTERPRISE_STATUSES, SCALES
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Optional["Category"]] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Category"]] = relationship(back_populates="parent")

    @property
    def parent_code(self) -> str | None:
        return self.parent.code if self.parent else None


class Enterprise(Base):
    """A producer or seller (企业), keyed by its unified social credit code."""

    __tablename__ = "enterprises"
    __table_args__ = (
        CheckConstraint(enum_check("scale", SCALES), name="scale"),
        CheckConstraint(enum_check("status", ENTERPRISE_STATUSES), name="status"),
        CheckConstraint(enum_check("credit_grade", CREDIT_GRADES), name="credit_grade"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    region: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    scale: Mapped[str] = mapped_column(String(8), default="small")
    status: Mapped[str] = mapped_column(String(16), default="active")
    credit_grade: Mapped[str] = mapped_column(String(1), default="B")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    categories: Mapped[list[Category]] = relationship(secondary=enterprise_categories, order_by=Category.code)

    @property
    def category_codes(self) -> list[str]:
        return [c.code for c in self.categories]


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
