"""All models, imported here so the metadata (and Alembic) sees every table."""

import models.stamp  # noqa: F401  (the data stamp's triggers, made with their tables)
from models.actions import FollowUpAction
from models.audit import AuditAnchor, AuditEvent, AuditHead
from models.auth import User
from models.base import Base
from models.events import PartnerEvent
from models.lists import ListEntry, Publication, Supplement
from models.plans import Draw, Plan, Selection
from models.registry import Category, Enterprise, Inspector, Lab
from models.reports import TargetRate
from models.samples import IdempotencyRecord, RectificationReport, Result, ResultItem, Sample, SampleEvent
from models.signals import RiskSignal
from models.tasks import Task

__all__ = [
    "AuditAnchor", "AuditEvent", "AuditHead", "Base", "Category", "Draw", "Enterprise", "FollowUpAction",
    "IdempotencyRecord", "Inspector", "Lab", "ListEntry", "PartnerEvent", "Plan", "Publication",
    "RectificationReport", "Result", "ResultItem", "RiskSignal", "Sample", "SampleEvent", "Selection", "Supplement",
    "TargetRate", "Task", "User",
]
