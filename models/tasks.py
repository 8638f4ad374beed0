"""Background tasks (后台任务): a draw or an enterprise import run outside the request that asked
for it, with its progress, its outcome and who asked."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, enum_check, utcnow
from sampling.enums import TASK_ACTIVE_STATUSES, TASK_KINDS, TASK_STAGES, TASK_STATUSES

ACTIVE_DRAW = f"kind = 'draw' AND {enum_check('status', TASK_ACTIVE_STATUSES)}"


class Task(Base):
    """One draw or import: queued by a request, claimed and run by one process, then kept with its
    result (or its error, in the API's error shape)."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(enum_check("kind", TASK_KINDS), name="kind"),
        CheckConstraint(enum_check("status", TASK_STATUSES), name="status"),
        CheckConstraint(f"stage IS NULL OR {enum_check('stage', TASK_STAGES)}", name="stage"),
        # A plan has at most one draw queued or running, even when two requests arrive at once.
        Index("uq_tasks_active_draw", "plan_id", unique=True,
              sqlite_where=text(ACTIVE_DRAW), postgresql_where=text(ACTIVE_DRAW)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))  # a draw's plan
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the running process is alive
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims so far (a stale one is requeued once)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    stage: Mapped[str | None] = mapped_column(String(12))
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # draw: plan_id, public_entropy; import: path
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[dict | None] = mapped_column(JSON)  # {code, status, message, errors}, as the API answers
