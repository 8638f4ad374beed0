"""Background tasks (后台任务): a draw or an enterprise import too large for one request.

A request queues the task (one committed row) and answers 202; the web process then runs it in a
thread of its own (``start``), and the scheduler process runs whatever is still queued, or was
left running by a process that died (``run_pending``). A task is claimed by one conditional
UPDATE (``queued`` → ``running``), so two processes never run the same task. The work is the
service function the synchronous request calls (``draws.draw_plan``,
``enterprise_import.import_enterprises``), in its one transaction: a task that fails, or whose
process dies, has written nothing. The outcome is kept with the task: the result, or the error in
the API's error shape, the body the synchronous request would have answered.

Progress and the heartbeat are written best effort, each in a short transaction on a connection
of their own; a write that fails is skipped, never fails the task. On PostgreSQL a heartbeat
thread beats every ``TASK_HEARTBEAT_SECONDS``. On SQLite, whose one writer holds the database,
progress is written only from the task's own thread while its transaction is not open (a commit
from elsewhere inside it would make its next write fail), with a short busy timeout; there the
stage and progress writes are the heartbeat.
"""

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import Engine, func, null, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from errors import classify_database_error, error_body
from extensions import db
from models.tasks import Task
from sampling.enums import TASK_ACTIVE_STATUSES
from sampling.errors import DomainError, NotFound, RuleViolation
from services import calendar, draws, enterprise_import
from services.eligibility import more_candidates_than
from services.plans import get_plan
from services.uploads import open_csv

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2  # a task left behind by a dead process runs once more, then fails
PROGRESS_INTERVAL = 1.0  # seconds between two progress writes of the same stage
DRAW_STEPS = 3  # reading, drawing, writing (services.draws.draw_plan's progress)
ABANDONED = ("The process running this task stopped twice before it finished; nothing was written. "
             "Start it again (任务执行进程两次中断，未写入任何数据，请重新提交)")


# --- queueing ---------------------------------------------------------------------------------


def request_draw(plan_id: int, public_entropy: str, actor: str, now: datetime, respond_async: bool,
                 sync_max_candidates: int) -> dict | Task:
    """Draw the plan now (the draw, as ``draws.draw_plan`` answers) or queue it (the ``Task``):
    queued when the caller asks for it or the plan has more than ``sync_max_candidates``
    candidates. A plan already drawn, or with a draw queued or running, is a 409."""
    plan = get_plan(plan_id)
    if plan.draw is not None:
        raise draws.already_drawn(plan_id)
    running = db.session.scalar(select(Task.id).where(Task.kind == "draw", Task.plan_id == plan_id,
                                                      Task.status.in_(TASK_ACTIVE_STATUSES)))
    if running is not None:
        raise draw_in_progress(plan_id, running)
    if not respond_async and not more_candidates_than(plan, sync_max_candidates):
        return draws.draw_plan(plan_id, public_entropy, actor=actor, now=now)
    task = Task(kind="draw", plan_id=plan_id, status="queued", created_by=actor, created_at=now,
                params={"plan_id": plan_id, "public_entropy": public_entropy or ""})
    db.session.add(task)
    try:
        db.session.commit()
    except IntegrityError:  # another request queued this plan's draw at the same moment
        db.session.rollback()
        raise draw_in_progress(plan_id, None) from None
    return task


def draw_in_progress(plan_id: int, task_id: int | None) -> RuleViolation:
    where = f" (task {task_id}, GET /api/v1/tasks/{task_id})" if task_id else ""
    return RuleViolation(f"plan {plan_id} is being drawn{where}; a draw is final (正在抽取，不可重复抽取)",
                         {"plan_id": ["draw in progress"]})


def queue_import(stream: BinaryIO, actor: str, now: datetime, folder: str) -> Task:
    """Queue an enterprise import of the uploaded CSV ``stream``, copied in blocks (never whole
    in memory) to ``folder/task-<id>.csv``, where it stays until the task ends."""
    task = Task(kind="enterprise_import", status="queued", created_by=actor, created_at=now, params={})
    db.session.add(task)
    db.session.flush()
    path = Path(folder) / f"task-{task.id}.csv"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stream.seek(0)
        with open(path, "wb") as saved:
            shutil.copyfileobj(stream, saved, 1 << 20)
        task.params = {"path": str(path), "bytes": path.stat().st_size}
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return task


# --- reading ----------------------------------------------------------------------------------


def get_task(task_id: int) -> Task:
    """The task as stored now, or a 404."""
    task = db.session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise NotFound(f"task {task_id} not found (未找到任务)", {"task_id": ["unknown task"]})
    return task


def list_tasks(kind: str | None = None, status: str | None = None):
    """The tasks, newest first, as a select (the view paginates it)."""
    stmt = select(Task).order_by(Task.id.desc()).execution_options(populate_existing=True)
    if kind:
        stmt = stmt.where(Task.kind == kind)
    if status:
        stmt = stmt.where(Task.status == status)
    return stmt


# --- running ----------------------------------------------------------------------------------


def start(task_id: int) -> None:
    """Run a queued task in a daemon thread of this process, in an app context of its own (the
    request has committed it). With ``TASKS_WAIT`` the caller waits for it (the tests); without
    ``TASKS_IN_PROCESS`` it is left to the scheduler."""
    app = current_app._get_current_object()
    if not app.config["TASKS_IN_PROCESS"]:
        return
    thread = threading.Thread(target=run_in_app, args=(app, task_id), name=f"task-{task_id}", daemon=True)
    thread.start()
    if app.config["TASKS_WAIT"]:
        thread.join()


def run_in_app(app, task_id: int) -> None:
    """``run_task`` in a fresh app context (its own session and connection)."""
    with app.app_context():
        try:
            run_task(task_id)
        except Exception:
            log.exception("task %s could not be run", task_id)
        finally:
            db.session.remove()


def claim(task_id: int, now: datetime) -> bool:
    """Take a queued task for this process; False when it is not queued (another took it)."""
    claimed = db.session.execute(
        update(Task).where(Task.id == task_id, Task.status == "queued")
        .values(status="running", started_at=now, heartbeat_at=now, stage="reading", progress_done=0,
                attempts=Task.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    return claimed


def run_task(task_id: int, clock: Callable[[], datetime] = calendar.now) -> Task | None:
    """Claim the task and run it to its end; the finished task, or None when it was not queued."""
    if not claim(task_id, clock()):
        return None
    task = get_task(task_id)
    # ``attempt`` marks this run: should it be swept as stale and run elsewhere, this one writes no more.
    kind, params, actor, attempt = task.kind, dict(task.params), task.created_by, task.attempts
    db.session.commit()  # nothing of the session stays open while the work runs
    reporter = Reporter(task_id, attempt, db.engine, clock, current_app.config["TASK_HEARTBEAT_SECONDS"])
    reporter.start_heartbeat()
    try:
        result = RUNNERS[kind](params, actor, reporter, clock)
        outcome = {"status": "succeeded", "result": result}
    except DomainError as error:
        db.session.rollback()
        outcome = {"status": "failed", "error": error_body(error.status, error.message, error.errors)}
    except Exception as error:
        db.session.rollback()
        classified = classify_database_error(error)
        if classified is None:
            log.exception("task %s failed", task_id)
            classified = (500, "Internal error; it has been logged (系统内部错误)")
        else:
            log.warning("task %s: database error: %s", task_id, error)
        outcome = {"status": "failed", "error": error_body(*classified)}
    finally:
        reporter.stop()
    if finish(task_id, attempt, outcome, clock()) and kind == "enterprise_import":
        remove_upload(params)
    return get_task(task_id)


def finish(task_id: int, attempt: int, outcome: dict, now: datetime) -> bool:
    """Store the outcome of this run (``attempt``) of a task; False if it was no longer ours
    (swept as stale meanwhile)."""
    values = {"status": outcome["status"], "finished_at": now, "heartbeat_at": now, "stage": "done",
              "result": outcome.get("result", null()), "error": outcome.get("error", null())}
    if outcome["status"] == "succeeded":
        values["progress_done"] = func.coalesce(Task.progress_total, Task.progress_done)
    done = db.session.execute(
        update(Task).where(Task.id == task_id, Task.status == "running", Task.attempts == attempt).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    if not done:
        log.warning("task %s was taken from this process before it finished", task_id)
    return done


def remove_upload(params: dict) -> None:
    if params.get("path"):
        Path(params["path"]).unlink(missing_ok=True)


def run_draw(params: dict, actor: str, reporter: "Reporter", clock) -> dict:
    """The draw of a queued plan; its result names the draw (``GET /plans/{id}/draw`` shows it)."""
    reporter.progress("reading", 0, DRAW_STEPS)
    answer = draws.draw_plan(params["plan_id"], params["public_entropy"], actor=actor, now=clock(),
                             progress=reporter.progress)
    return {"plan_id": answer["plan_id"], "selections": len(answer["selections"]), "seed": answer["seed"],
            "registry_hash": answer["registry_hash"]}


def run_import(params: dict, actor: str, reporter: "Reporter", clock) -> dict:
    """The enterprise import of a saved upload: ``{created, updated}``. Progress counts rows
    against the file's line count; once every row is read, the stage is ``writing`` (the merge)."""
    path = Path(params["path"])
    with open(path, "rb") as handle:
        total = max(sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)
        handle.seek(0)
        reporter.progress("reading", 0, total)
        read = [0]

        def rows_read(count: int) -> None:
            read[0] += count
            reporter.progress("reading", read[0], total)

        def lines(text) -> Iterator[str]:
            yield from text
            reporter.progress("writing", total, total)

        with open_csv(handle) as text:
            return enterprise_import.import_enterprises(lines(text), actor=actor, progress=rows_read)


RUNNERS = {"draw": run_draw, "enterprise_import": run_import}


class Reporter:
    """Writes a running task's stage, progress and heartbeat, best effort (see the module's note)."""

    def __init__(self, task_id: int, attempt: int, engine: Engine, clock, heartbeat_seconds: float):
        self.task_id, self.attempt, self.engine, self.clock = task_id, attempt, engine, clock
        self.sqlite = engine.dialect.name == "sqlite"
        self.heartbeat_seconds = heartbeat_seconds
        self.stage, self.written = None, 0.0
        self.stopped = threading.Event()
        self.thread = None

    def progress(self, stage: str, done: int, total: int | None = None) -> None:
        """The task has reached ``stage``, ``done`` of ``total``; written at each new stage and at
        most once a second within one."""
        moment = time.monotonic()
        if stage == self.stage and moment - self.written < PROGRESS_INTERVAL:
            return
        if self.sqlite and self.main_transaction_open():
            return
        self.stage, self.written = stage, moment
        self.write(stage=stage, progress_done=done, progress_total=total)

    @staticmethod
    def main_transaction_open() -> bool:
        """Whether the task's own SQLite connection is inside a transaction (called in its thread)."""
        try:
            return db.session.connection().connection.dbapi_connection.in_transaction
        except SQLAlchemyError:
            return True

    def write(self, **values) -> bool:
        """One short transaction on a connection of its own; False (and nothing else) if it failed."""
        try:
            with self.engine.connect() as connection:
                if self.sqlite:
                    before = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
                    connection.exec_driver_sql("PRAGMA busy_timeout = 200")
                else:
                    connection.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                try:
                    connection.execute(update(Task).where(Task.id == self.task_id, Task.status == "running",
                                                          Task.attempts == self.attempt)
                                       .values(heartbeat_at=self.clock(), **values))
                    connection.commit()
                finally:
                    if self.sqlite:
                        connection.rollback()
                        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(before)}")
            return True
        except SQLAlchemyError as error:
            log.info("task %s: progress not written (%s)", self.task_id, type(error).__name__)
            return False

    def start_heartbeat(self) -> None:
        """On PostgreSQL, beat every ``heartbeat_seconds`` until ``stop``."""
        if self.sqlite:
            return

        def beat():
            while not self.stopped.wait(self.heartbeat_seconds):
                self.write()

        self.thread = threading.Thread(target=beat, name=f"task-{self.task_id}-heartbeat", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()


# --- what a dead process left behind ------------------------------------------------------------


def sweep_stale(now: datetime, stale_seconds: float) -> dict:
    """Running tasks whose heartbeat is older than ``stale_seconds``: their process died, and their
    one transaction with it. Each is queued again once, then failed with a clear message.
    ``{"requeued": [ids], "failed": [ids]}``."""
    cutoff = now - timedelta(seconds=stale_seconds)
    stale_condition = (Task.status == "running", or_(Task.heartbeat_at < cutoff, Task.heartbeat_at.is_(None)))
    swept = {"requeued": [], "failed": []}
    for task_id, attempts, kind, params in db.session.execute(
            select(Task.id, Task.attempts, Task.kind, Task.params).where(*stale_condition).order_by(Task.id)).all():
        if attempts < MAX_ATTEMPTS:
            values = {"status": "queued", "stage": None, "started_at": None, "heartbeat_at": None,
                      "progress_done": 0, "progress_total": None}
        else:
            values = {"status": "failed", "stage": "done", "finished_at": now,
                      "error": error_body(500, ABANDONED)}
        changed = db.session.execute(
            update(Task).where(Task.id == task_id, *stale_condition).values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        db.session.commit()
        if changed:
            swept["requeued" if values["status"] == "queued" else "failed"].append(task_id)
            log.warning("task %s was left running by a process that stopped: %s", task_id, values["status"])
            if values["status"] == "failed" and kind == "enterprise_import":
                remove_upload(params)
    return swept


def run_pending(now: datetime, stale_seconds: float) -> dict:
    """What the scheduler does every few seconds: sweep stale tasks, then run every queued one,
    oldest first. ``{"requeued", "failed", "ran"}`` (task ids)."""
    outcome = {**sweep_stale(now, stale_seconds), "ran": []}
    seen = set()
    while True:
        task_id = db.session.scalar(select(Task.id).where(Task.status == "queued", Task.id.not_in(seen or {0}))
                                    .order_by(Task.id).limit(1))
        db.session.commit()
        if task_id is None:
            return outcome
        seen.add(task_id)
        if run_task(task_id) is not None:
            outcome["ran"].append(task_id)
