"""Credit rules: the red/black lists and the credit grade (DESIGN.md "Red/black lists").

Pure: an enterprise's record is plain data (its final outcomes and its list entries) and
every threshold comes in a ``CreditRules`` built from the settings. Dates are
``datetime.date`` in the regulator's calendar; an outcome's date is the day its verdict
became final, and its list period is the quarter of that day. "Within N months" windows are
inclusive at both ends (a failure exactly 12 months earlier is within 12 months).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from sampling.errors import InvalidInput

PASS, FAIL, REFUSED = "pass", "fail", "refused"
RED, BLACK = "red", "black"
GENERAL, SERIOUS = "general", "serious"

# Reasons as the public reads them (Chinese only: they are printed on the lists).
REASON_REFUSAL = "拒绝抽样"
REASON_FAILED_ITEMS = "不合格项目：{}"
REASON_FAILED = "检验不合格"
REASON_CRITICAL = "安全项目不合格"
REASON_RECHECK_FAILED = "复查不合格"
REASON_REPEAT = "{}个月内再次不合格"
REASON_RED = "本期抽查全部合格，已连续{}次合格"

PERIOD_RE = re.compile(r"^(\d{4})Q([1-4])$")
QUARTER_MONTHS = 3  # lists are published once a quarter: a red entry stands until the next one
GRADE_D_FAILURES = 2  # GB/T 23791 as DESIGN.md reads it: "two or more failures or refusals"


@dataclass(frozen=True)
class CreditRules:
    """Every threshold of the list and grade rules; the values come from config.py."""

    repeat_failure_months: int
    general_lapse_months: int
    serious_lapse_months: int
    red_min_consecutive_passes: int
    red_clean_months: int
    grade_d_months: int
    grade_c_months: int
    grade_a_clean_months: int

    @classmethod
    def from_config(cls, config: Mapping) -> CreditRules:
        """Rules from the app's settings (``CONFIG_KEYS``); every one must be there."""
        return cls(**{name: int(config[key]) for key, name in CONFIG_KEYS.items()})


# Setting name (config.py) -> CreditRules field.
CONFIG_KEYS = {
    "REPEAT_FAILURE_MONTHS": "repeat_failure_months",
    "BLACK_GENERAL_MONTHS": "general_lapse_months",
    "BLACK_SERIOUS_MONTHS": "serious_lapse_months",
    "RED_CONSECUTIVE_PASSES": "red_min_consecutive_passes",
    "RED_CLEAN_MONTHS": "red_clean_months",
    "GRADE_D_MONTHS": "grade_d_months",
    "GRADE_C_MONTHS": "grade_c_months",
    "GRADE_A_MONTHS": "grade_a_clean_months",
}


@dataclass(frozen=True)
class Outcome:
    """One final verdict (or refusal) of an enterprise; ``on`` is the day it became final."""

    ref: object
    on: date
    verdict: str
    critical_failed: bool = False
    failed_items: tuple[str, ...] = ()
    recheck: str | None = None
    recheck_on: date | None = None
    source: str = "live"

    @property
    def period(self) -> str:
        """The list period: the quarter in which the verdict became final."""
        return period_of(self.on)

    @property
    def is_failure(self) -> bool:
        """A failure for credit purposes: a failing verdict or a refusal."""
        return self.verdict in (FAIL, REFUSED)


@dataclass(frozen=True)
class Entry:
    """A list entry as stored; ``ref`` names the outcome a black entry was made for."""

    list: str
    period: str
    listed_on: date
    expires_on: date
    severity: str | None = None
    ref: object = None
    removed_on: date | None = None


@dataclass(frozen=True)
class Record:
    """An enterprise's record: its final outcomes and its list entries."""

    outcomes: tuple[Outcome, ...] = ()
    entries: tuple[Entry, ...] = ()

    @classmethod
    def of(cls, outcomes: Iterable[Outcome] = (), entries: Iterable[Entry] = ()) -> Record:
        """A record from any iterables, outcomes in date order."""
        ordered = sorted(outcomes, key=lambda o: (o.on, str(o.ref)))
        return cls(tuple(ordered), tuple(entries))


@dataclass(frozen=True)
class BlackListing:
    """A black-list decision for one failing outcome of the period."""

    outcome: Outcome
    severity: str
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The reasons as one line."""
        return "; ".join(self.reasons)


# --- dates and periods -------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def parse_period(period: str) -> tuple[int, int]:
    """``"2026Q4"`` → ``(2026, 4)``; anything else (year 0 included) is InvalidInput."""
    match = PERIOD_RE.match(period or "")
    if not match or int(match.group(1)) == 0:
        raise InvalidInput("Period must look like 2026Q4 (期次应写作 2026Q4)", {"period": ["Expected YYYYQn."]})
    return int(match.group(1)), int(match.group(2))


def period_start(period: str) -> date:
    """First day of the quarter."""
    year, quarter = parse_period(period)
    return date(year, 3 * quarter - 2, 1)


def period_end(period: str) -> date:
    """Last day of the quarter."""
    return add_months(period_start(period), 3) - timedelta(days=1)


def period_of(day: date) -> str:
    """The quarter a date falls in."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def previous_period(period: str) -> str:
    """The quarter before."""
    return period_of(period_start(period) - timedelta(days=1))


def next_period(period: str) -> str:
    """The quarter after."""
    return period_of(period_end(period) + timedelta(days=1))


def quarter_just_ended(today: date) -> str:
    """The last complete quarter on ``today`` (a date in the regulator's calendar)."""
    return previous_period(period_of(today))


def has_ended(period: str, today: date) -> bool:
    """The quarter is over on ``today`` (safe for any well-formed period, 9999Q4 included)."""
    return period_key(period) < period_key(period_of(today))


def within(day: date, end: date, months: int) -> bool:
    """``day`` lies in the ``months`` months up to ``end``, both ends included."""
    return add_months(end, -months) <= day <= end


# --- black list --------------------------------------------------------------------


def is_repeat_failure(outcome: Outcome, record: Record, rules: CreditRules) -> bool:
    """Another failure of the enterprise came within the look-back before this one."""
    return any(
        other.is_failure
        and other.ref != outcome.ref
        and within(other.on, outcome.on, rules.repeat_failure_months)
        for other in record.outcomes
    )


def black_listing(outcome: Outcome, record: Record, rules: CreditRules) -> BlackListing:
    """The severity and reasons a failing outcome earns."""
    if outcome.verdict == REFUSED:
        reasons = [REASON_REFUSAL]
    elif outcome.failed_items:
        reasons = [REASON_FAILED_ITEMS.format("、".join(outcome.failed_items))]
    else:
        reasons = [REASON_FAILED]
    if outcome.critical_failed:
        reasons.append(REASON_CRITICAL)
    if outcome.recheck == FAIL:
        reasons.append(REASON_RECHECK_FAILED)
    repeat = is_repeat_failure(outcome, record, rules)
    if repeat:
        reasons.append(REASON_REPEAT.format(rules.repeat_failure_months))
    serious = (
        outcome.verdict == REFUSED or outcome.critical_failed or outcome.recheck == FAIL or repeat
    )
    return BlackListing(outcome, SERIOUS if serious else GENERAL, reasons)


def black_listings(period: str, record: Record, rules: CreditRules) -> list[BlackListing]:
    """One black-list decision per failing or refused outcome of the period."""
    parse_period(period)
    return [
        black_listing(o, record, rules)
        for o in record.outcomes
        if o.period == period and o.is_failure
    ]


def expiry(listed_on: date, list_name: str, severity: str | None, rules: CreditRules) -> date:
    """The earliest date an entry may lapse; the term runs from the day the verdict became final."""
    if list_name == RED:
        months = QUARTER_MONTHS
    elif severity == SERIOUS:
        months = rules.serious_lapse_months
    else:
        months = rules.general_lapse_months
    return add_months(listed_on, months)


def repaired_on(entry: Entry, record: Record) -> date | None:
    """When the failure behind a black entry was put right (信用修复), or None.

    A failure is repaired by a passing recheck; a refusal by a later sample that passed.
    """
    outcome = next((o for o in record.outcomes if o.ref == entry.ref), None)
    if outcome is None:
        return None
    if outcome.verdict == FAIL:
        return outcome.recheck_on if outcome.recheck == PASS else None
    later = [o.on for o in record.outcomes if o.verdict == PASS and o.on > outcome.on]
    return min(later) if later else None


def lapses_on(entry: Entry, record: Record) -> date | None:
    """The date the entry lapses: its expiry, and for a black entry not before the repair."""
    if entry.list == RED:
        return entry.expires_on
    repaired = repaired_on(entry, record)
    return None if repaired is None else max(entry.expires_on, repaired)


def ended_on(entry: Entry, record: Record) -> date | None:
    """The day the entry stopped counting (removed or lapsed), or None if it still may."""
    candidates = [d for d in (entry.removed_on, lapses_on(entry, record)) if d is not None]
    return min(candidates) if candidates else None


def is_active(entry: Entry, as_of: date, record: Record) -> bool:
    """The entry is in force on ``as_of``."""
    if entry.listed_on > as_of:
        return False
    end = ended_on(entry, record)
    return end is None or as_of < end


def overlaps(entry: Entry, start: date, end: date, record: Record) -> bool:
    """The entry was in force on some day of ``[start, end]``."""
    if entry.listed_on > end:
        return False
    stop = ended_on(entry, record)
    return stop is None or stop > start


# --- red list ----------------------------------------------------------------------


def consecutive_passes(outcomes: Iterable[Outcome]) -> int:
    """Length of the run of passing verdicts at the end of the outcomes, in date order."""
    run = 0
    for outcome in sorted(outcomes, key=lambda o: o.on):
        run = run + 1 if outcome.verdict == PASS else 0
    return run


def period_key(period: str) -> tuple[int, int]:
    """Sort key for periods."""
    return parse_period(period)


def is_red(period: str, record: Record, rules: CreditRules) -> bool:
    """The enterprise belongs on the period's red list."""
    key = period_key(period)
    in_period = [o for o in record.outcomes if o.period == period]
    if not in_period or any(o.verdict != PASS for o in in_period):
        return False
    up_to = [o for o in record.outcomes if period_key(o.period) <= key]
    if consecutive_passes(up_to) < rules.red_min_consecutive_passes:
        return False
    end = period_end(period)
    start = add_months(end, -rules.red_clean_months)
    if any(o.is_failure and start <= o.on <= end for o in record.outcomes):
        return False
    return not any(
        e.list == BLACK and overlaps(e, start, end, record) for e in record.entries
    )


def red_reason(period: str, record: Record) -> str:
    """The reason shown on a red-list row."""
    key = period_key(period)
    run = consecutive_passes(o for o in record.outcomes if period_key(o.period) <= key)
    return REASON_RED.format(run)


# --- credit grade ------------------------------------------------------------------


def credit_grade(record: Record, as_of: date, rules: CreditRules) -> str:
    """The grade A/B/C/D of GB/T 23791 from the record as of a date."""
    past = [o for o in record.outcomes if o.on <= as_of]
    active = [e for e in record.entries if is_active(e, as_of, record)]
    black = [e for e in active if e.list == BLACK]

    def failures_within(months: int) -> int:
        return sum(1 for o in past if o.is_failure and within(o.on, as_of, months))

    if any(e.severity == SERIOUS for e in black):
        return "D"
    if failures_within(rules.grade_d_months) >= GRADE_D_FAILURES:
        return "D"
    if black or failures_within(rules.grade_c_months) >= 1:
        return "C"
    if any(e.list == RED for e in active):
        return "A"
    start = add_months(as_of, -rules.grade_a_clean_months)
    clean = failures_within(rules.grade_a_clean_months) == 0 and not any(
        e.list == BLACK and overlaps(e, start, as_of, record) for e in record.entries
    )
    if clean and consecutive_passes(past) >= rules.red_min_consecutive_passes:
        return "A"
    return "B"
