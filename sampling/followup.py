"""Follow-up after a failure (后处理): which actions a final failure or refusal calls for, by
when, which fields each kind of action carries, and the 处理情况 summary shown to the public.

Pure: plain values in, plain values out. Deadline lengths come in as arguments (their
defaults live in config.py); whether a failure is serious is decided by ``sampling.credit``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sampling.enums import ACTION_BASES, ACTION_KINDS, ACTION_STATUSES

INTERVIEW, STOP_SALE, RECALL, CASE, REFERRAL = ACTION_KINDS
OPEN, DONE = ACTION_STATUSES
# Why an action was called for (``basis``); a discretionary action has none.
SERIOUS_FAILURE, RECHECK_FAILED, REFUSAL, PRODUCER_ELSEWHERE = ACTION_BASES

# The fields each kind of action carries beside the common ones (due date, dates, notes).
KIND_FIELDS = {
    INTERVIEW: ("person", "held_at"),
    STOP_SALE: (),
    RECALL: ("quantity_out", "recovered_qty"),
    CASE: ("case_no", "penalty"),
    REFERRAL: ("to_authority",),
}
KIND_ONLY_FIELDS = tuple(dict.fromkeys(f for names in KIND_FIELDS.values() for f in names))

DONE_LABELS = {
    INTERVIEW: "已约谈", STOP_SALE: "已责令停止生产销售", RECALL: "已召回", CASE: "已立案", REFERRAL: "已移送",
}
LABEL_PENDING = "待处理"
LABEL_RECTIFYING = "整改中"
LABEL_RECTIFIED = "已整改"
LABEL_RECHECK_PASSED = "复查合格"
LABEL_RECHECK_FAILED = "复查不合格"


@dataclass(frozen=True)
class Requirement:
    """An action a failure calls for, why, and the day it is due."""

    kind: str
    basis: str
    due: date


def required_actions(*, final_on: date, serious: bool, refused: bool, recheck_failed: bool,
                     producer_elsewhere: bool, interview_days: int, referral_days: int) -> list[Requirement]:
    """What a final failure (or a refusal, or a failed recheck) calls for.

    A serious failure or a refusal: an interview (约谈) within ``interview_days`` of the day
    it became final (a failed recheck: of the recheck). A failure of a producer registered
    elsewhere: a referral (移送) to its authority within ``referral_days`` (the failure is not
    held against the seller here, so it calls for no interview here).
    """
    if refused:
        return [Requirement(INTERVIEW, REFUSAL, final_on + timedelta(days=interview_days))]
    if producer_elsewhere:  # its own authority deals with it; nobody here to interview
        return [Requirement(REFERRAL, PRODUCER_ELSEWHERE, final_on + timedelta(days=referral_days))]
    if recheck_failed:
        return [Requirement(INTERVIEW, RECHECK_FAILED, final_on + timedelta(days=interview_days))]
    if serious:
        return [Requirement(INTERVIEW, SERIOUS_FAILURE, final_on + timedelta(days=interview_days))]
    return []


def is_overdue(status: str, due: date | None, on: date) -> bool:
    """An open action whose due date is over by ``on``."""
    return status == OPEN and due is not None and on > due


@dataclass(frozen=True)
class ActionFacts:
    """What the summary needs to know of one action."""

    kind: str
    status: str
    case_no: str | None = None


def summary_labels(*, failed: bool, actions: Iterable[ActionFacts], rectifying: bool,
                   report_submitted: bool, recheck: str | None) -> list[str]:
    """The 处理情况 of a sample as labels in the order things are done: 已约谈, 已责令停止生产销售,
    已召回, 已立案, 已移送, then 整改中, 已整改 (report submitted), 已整改、复查合格 or 复查不合格.

    Nothing for a sample that did not fail; 待处理 for a failure with nothing done yet.
    """
    if not failed:
        return []
    actions = list(actions)
    labels = []
    for kind in ACTION_KINDS:
        mine = [a for a in actions if a.kind == kind]
        if any(a.status == DONE for a in mine) or (kind == CASE and any(a.case_no for a in mine)):
            labels.append(DONE_LABELS[kind])
    if recheck == "pass":
        labels += [LABEL_RECTIFIED, LABEL_RECHECK_PASSED]
    elif recheck == "fail":
        labels.append(LABEL_RECHECK_FAILED)
    elif report_submitted:
        labels.append(LABEL_RECTIFIED)
    elif rectifying:
        labels.append(LABEL_RECTIFYING)
    return labels or [LABEL_PENDING]


def summary_text(labels: list[str]) -> str | None:
    """The labels as one line (、-separated), or None when there is nothing to say."""
    return "、".join(labels) or None
