"""The sample life cycle: states, moves, event-time rules, deadlines and verdicts.

Pure logic: plain values in, plain values out, domain exceptions raised. The whole
state machine is the one table ``MOVES``; everything else asks it.

Reading of DESIGN.md taken here: a *passing* result is final as soon as it is
notified, so ``notification`` moves a passing sample from ``tested`` straight to
``final`` (the history still records the notification); only a failing sample stops
at ``notified``, open to objection. Deadlines are counted in whole days of the
regulator's calendar: a deadline of N days after an event falls on the local date of
the event plus N, and has passed once that date is over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from sampling.enums import LABELS, PURCHASED_STAGES, VERDICTS
from sampling.errors import InvalidInput, RuleViolation

# States.
PLANNED = "planned"
SAMPLED = "sampled"
REFUSED = "refused"
TESTING = "testing"
TESTED = "tested"
NOTIFIED = "notified"
OBJECTION = "objection"  # objection filed, retest pending
FINAL = "final"
RECTIFYING = "rectifying"
RECHECKED = "rechecked"
STATES = (
    PLANNED, SAMPLED, REFUSED, TESTING, TESTED, NOTIFIED, OBJECTION, FINAL, RECTIFYING, RECHECKED,
)

PASS, FAIL = VERDICTS

# Arriving in one of these states makes the sample's verdict final (a refusal counts as a
# failure for credit purposes, though it is no tested batch).
VERDICT_FINAL_STATES = (FINAL, REFUSED)

# States in which a sample can have a deadline still open.
OPEN_STATES = (TESTING, NOTIFIED, OBJECTION, FINAL, RECTIFYING)

# The deadlines a sample's events set (see ``deadlines``).
DEADLINE_NAMES = ("result", "objection", "retest_result", "rectification", "recheck")

# A client clock a little ahead of ours is not "in the future".
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class Move:
    """One arrow of the life-cycle diagram: ``action`` takes ``source`` to ``target``.

    ``verdict``, when set, is the sample verdict the move requires.
    """

    action: str
    source: str
    target: str
    verdict: str | None = None


# The state machine: every arrow of DESIGN.md "Sample life cycle", and nothing else.
MOVES = (
    Move("sampling", PLANNED, SAMPLED),
    Move("refusal", PLANNED, REFUSED),
    Move("receipt", SAMPLED, TESTING),
    Move("result", TESTING, TESTED),
    Move("notification", TESTED, FINAL, verdict=PASS),  # a pass is final once notified
    Move("notification", TESTED, NOTIFIED, verdict=FAIL),
    Move("objection", NOTIFIED, OBJECTION, verdict=FAIL),
    Move("finalize", NOTIFIED, FINAL, verdict=FAIL),
    Move("retest-result", OBJECTION, FINAL, verdict=FAIL),
    Move("rectification", FINAL, RECTIFYING, verdict=FAIL),
    Move("recheck", RECTIFYING, RECHECKED, verdict=FAIL),
)

ACTIONS = tuple(dict.fromkeys(m.action for m in MOVES))

# A correction is no move: it records a new event beside a stored result, never over it.
CORRECTABLE_STATES = (TESTED, NOTIFIED, OBJECTION, FINAL, RECTIFYING, RECHECKED)


def allowed_moves(state: str, verdict: str | None) -> list[str]:
    """The actions the table allows from ``state`` for a sample with ``verdict``."""
    return list(dict.fromkeys(
        m.action for m in MOVES if m.source == state and m.verdict in (None, verdict)
    ))


def check_move(state: str, action: str, verdict: str | None = None) -> str:
    """Return the state ``action`` leads to, or raise RuleViolation naming what is allowed."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    for move in MOVES:
        if move.source == state and move.action == action and move.verdict in (None, verdict):
            return move.target
    allowed = allowed_moves(state, verdict)
    allowed_text = ", ".join(allowed) if allowed else "none"
    allowed_cn = "、".join(LABELS["move"][a] for a in allowed) if allowed else "无"
    message = (f"cannot record {action} on a sample in state '{state}'; allowed: {allowed_text} "
               f"(样品状态为“{LABELS['status'][state]}”，不能{LABELS['move'][action]}；可进行：{allowed_cn})")
    raise RuleViolation(message, errors={"status": [message]})


# The enterprise's rectification report is kept with an ordered rectification: no move either.
REPORTABLE_STATES = (RECTIFYING,)


def check_report(state: str) -> None:
    """Raise RuleViolation unless a rectification report may be submitted in ``state``."""
    if state not in REPORTABLE_STATES:
        message = (f"a rectification report follows an ordered rectification; "
                   f"the sample is in state '{state}' (整改报告须在责令整改之后提交)")
        raise RuleViolation(message, errors={"status": [message]})


def check_correction(state: str) -> None:
    """Raise RuleViolation unless the sample in ``state`` has a result to correct."""
    if state not in CORRECTABLE_STATES:
        message = f"a sample in state '{state}' has no result to correct (该样品尚无可更正的检验结果)"
        raise RuleViolation(message, errors={"status": [message]})


# Event times.

def check_event_time(name: str, at: datetime, previous_at: datetime, now: datetime) -> None:
    """Raise InvalidInput on ``name`` when ``at`` is naive, in the future or before ``previous_at``.

    ``previous_at`` is the time of the sample's latest event; the draw counts as the first.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        message = "must carry a UTC offset, e.g. 2026-12-01T09:30:00+08:00"
        raise InvalidInput(f"{name} must carry a UTC offset (时间须带时区)", errors={name: [message]})
    if at > now + CLOCK_SKEW:
        raise InvalidInput(f"{name} is in the future (时间不能晚于现在)",
                           errors={name: ["must not be in the future"]})
    if at < previous_at:
        message = f"must not be earlier than the sample's previous event ({_iso(previous_at)})"
        raise InvalidInput(f"{name} is earlier than the previous event (不能早于上一环节)", errors={name: [message]})


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


# The visit.

def check_in_window(field: str, visited_on: date, start: date | None, end: date | None) -> None:
    """Raise InvalidInput on ``field`` when a visit on ``visited_on`` falls outside the plan's
    sampling window (either end may be open)."""
    if (start is not None and visited_on < start) or (end is not None and visited_on > end):
        window = f"{start.isoformat() if start else '…'} – {end.isoformat() if end else '…'}"
        message = f"the visit ({visited_on.isoformat()}) is outside the plan's sampling window ({window})"
        raise InvalidInput(f"{message} (不在抽样时间窗口内)", errors={field: [message]})


def check_purchase(stage: str, purchase: dict | None, sampled_on: date) -> None:
    """Raise InvalidInput unless an online or cross-border sample records its purchase, received
    no later than the day it was sampled."""
    if purchase is None:
        if stage in PURCHASED_STAGES:
            message = (f"a sample taken at stage '{stage}' records its purchase (platform, order, price, receipt) "
                       f"(网购样品须记录买样信息)")
            raise InvalidInput(message, errors={"purchase": [message]})
        return
    if purchase["received_on"] > sampled_on:
        message = f"must not be after the sampling date ({sampled_on.isoformat()})"
        raise InvalidInput("the purchase was received after the sampling (收货不能晚于抽样日)",
                           errors={"purchase.received_on": [message]})


# Deadlines.

@dataclass(frozen=True)
class DeadlineRules:
    """Deadline lengths in days and the calendar (time zone) they are counted in.

    The lengths are settings (``config.py``); the caller passes them in.
    """

    lab_result_days: int
    objection_days: int
    rectification_days: int
    recheck_days: int
    tz: tzinfo

    def local_date(self, at: datetime) -> date:
        """The calendar date of ``at`` in the rules' time zone."""
        return at.astimezone(self.tz).date()

    def due(self, at: datetime, days: int) -> date:
        """The date a deadline of ``days`` after ``at`` falls on."""
        return self.local_date(at) + timedelta(days=days)


@dataclass(frozen=True)
class Timeline:
    """The facts of one sample that deadlines are computed from."""

    status: str
    verdict: str | None = None  # the sample's verdict now (after any retest)
    result_verdict: str | None = None  # the first lab result's verdict
    received_at: datetime | None = None
    tested_at: datetime | None = None
    notified_at: datetime | None = None
    objection_at: datetime | None = None
    retested_at: datetime | None = None
    final_at: datetime | None = None
    rectification_due: date | None = None
    rechecked_at: datetime | None = None


@dataclass(frozen=True)
class Deadline:
    """A deadline: its name, the date it falls on, when it was met (None while open)."""

    name: str
    due: date
    met_at: datetime | None = None

    def passed(self, today: date) -> bool:
        """True when the deadline is still open and its day is over by ``today``."""
        return self.met_at is None and today > self.due


def objection_due(notified_at: datetime, rules: DeadlineRules) -> date:
    """The last day an objection to a failing result may be filed."""
    return rules.due(notified_at, rules.objection_days)


def rectification_limit(final_at: datetime, rules: DeadlineRules) -> date:
    """The latest date a rectification may be due: the legal limit after the final verdict."""
    return rules.due(final_at, rules.rectification_days)


def deadlines(t: Timeline, rules: DeadlineRules) -> list[Deadline]:
    """Every deadline that the sample's events have set, met or not."""
    found = []
    if t.received_at:
        due = rules.due(t.received_at, rules.lab_result_days)
        found.append(Deadline("result", due, t.tested_at))
    if t.notified_at and t.result_verdict == FAIL:
        closed_at = t.objection_at or t.final_at
        found.append(Deadline("objection", objection_due(t.notified_at, rules), closed_at))
    if t.objection_at:
        due = rules.due(t.objection_at, rules.lab_result_days)
        found.append(Deadline("retest_result", due, t.retested_at))
    if t.final_at and t.verdict == FAIL:
        due = t.rectification_due or rectification_limit(t.final_at, rules)
        found.append(Deadline("rectification", due, t.rechecked_at))
        found.append(Deadline("recheck", rules.due(t.final_at, rules.recheck_days), t.rechecked_at))
    return found


def overdue(t: Timeline, rules: DeadlineRules, today: date) -> list[Deadline]:
    """The sample's deadlines that have passed, unmet, as of ``today``."""
    return [d for d in deadlines(t, rules) if d.passed(today)]


def check_objection_in_window(
    notified_at: datetime, filed_at: datetime, rules: DeadlineRules,
) -> None:
    """Raise RuleViolation when ``filed_at`` falls after the objection window."""
    last_day = objection_due(notified_at, rules)
    if rules.local_date(filed_at) > last_day:
        message = (f"the objection window closed on {last_day.isoformat()} "
                   f"({rules.objection_days} days after notification) (异议期已过)")
        raise RuleViolation(message, errors={"filed_at": [message]})


def check_window_passed(notified_at: datetime, today: date, rules: DeadlineRules) -> None:
    """Raise RuleViolation while the objection window is still open on ``today``."""
    last_day = objection_due(notified_at, rules)
    if today <= last_day:
        message = (f"the objection window is open until {last_day.isoformat()}; finalize after it "
                   f"(异议期未满，不能确定结论)")
        raise RuleViolation(message, errors={"status": [message]})


def check_rectification_due(due_date: date, final_at: datetime, rules: DeadlineRules) -> None:
    """Raise InvalidInput unless ``due_date`` lies between the final verdict and the legal limit."""
    start = rules.local_date(final_at)
    limit = rectification_limit(final_at, rules)
    if not start <= due_date <= limit:
        message = (f"must lie between the final verdict ({start.isoformat()}) and "
                   f"{limit.isoformat()} ({rules.rectification_days} days after it) (整改期限超出法定范围)")
        raise InvalidInput("due_date is outside the rectification period (整改期限超出法定范围)",
                           errors={"due_date": [message]})


# Verdicts.

@dataclass(frozen=True)
class Verdict:
    """A result's verdict derived from its items."""

    verdict: str
    failed_items: tuple[str, ...] = field(default_factory=tuple)
    critical_failed: bool = False


def derive_verdict(items: list[dict]) -> Verdict:
    """Derive a result's verdict: any failed item fails it; a failed critical item is flagged."""
    if not items:
        raise InvalidInput("a result needs at least one item (检验结果至少包含一个项目)",
                           errors={"items": ["must list at least one item"]})
    bad = {f"items.{i}.verdict": ["must be 'pass' or 'fail'"]
           for i, item in enumerate(items) if item.get("verdict") not in VERDICTS}
    if bad:
        raise InvalidInput("an item verdict must be 'pass' or 'fail' (项目结论须为合格或不合格)", errors=bad)
    failed = [item for item in items if item["verdict"] == FAIL]
    return Verdict(
        verdict=FAIL if failed else PASS,
        failed_items=tuple(str(item.get("name", "")) for item in failed),
        critical_failed=any(item.get("critical") for item in failed),
    )
