"""Follow-up actions (后处理) over the database: what a final failure or refusal calls for,
the supervisor's records of what was done, the overdue ones, and the 处理情况 summary.

Each public write is one transaction: the action, its audit event and its partner event
(``follow_up``, and ``serious_failure`` when a failure calls for an interview), committed
together. The rules (which actions, by when, which fields) live in ``sampling.followup``;
whether a failure is serious is ``sampling.credit``'s black-list rule.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from extensions import db
from models.actions import FollowUpAction
from models.samples import RectificationReport, Sample
from sampling import credit
from sampling import followup as fu
from sampling import lifecycle as lc
from sampling.enums import LABELS
from sampling.errors import InvalidInput, NotFound, RuleViolation
from services import events
from services.audit import record_event
from services.calendar import local_date
from services.credit import accountable_enterprise, credit_rules, load_records, outcome_of

STATE_FIELDS = (
    "kind", "status", "basis", "due_date", "held_at", "completed_at", "person", "quantity_out",
    "recovered_qty", "case_no", "penalty", "to_authority", "notes", "overdue_since",
)
# What partners read of an action (no notes, no person's name).
PARTNER_FIELDS = (
    "kind", "status", "basis", "due_date", "held_at", "completed_at", "quantity_out", "recovered_qty",
    "case_no", "penalty", "to_authority",
)
UPDATABLE = ("due_date", "held_at", "completed_at", "person", "quantity_out", "recovered_qty", "case_no",
             "penalty", "to_authority", "notes")


def deadline_days() -> tuple[int, int]:
    """The configured interview and referral deadlines, in days."""
    cfg = current_app.config
    return int(cfg["INTERVIEW_DAYS"]), int(cfg["REFERRAL_DAYS"])


# Reading.

def get_action(action_id: int, *, for_update: bool = False) -> FollowUpAction:
    """The action ``action_id`` or NotFound."""
    stmt = select(FollowUpAction).where(FollowUpAction.id == action_id)
    if for_update:
        stmt = stmt.with_for_update()
    action = db.session.scalar(stmt)
    if action is None:
        raise NotFound(f"follow-up action {action_id} not found (未找到后处理记录)", {"id": ["unknown action"]})
    return action


def _sample(code: str) -> Sample:
    sample = db.session.scalar(select(Sample).where(Sample.code == code).with_for_update())
    if sample is None:
        raise NotFound(f"sample {code} not found (未找到样品)", {"sample_code": ["unknown sample"]})
    return sample


def is_final_failure(sample: Sample) -> bool:
    """The sample was refused, or its failing verdict is final (and may be under rectification)."""
    return sample.status == lc.REFUSED or (sample.verdict == lc.FAIL and sample.final_at is not None)


def final_time(sample: Sample) -> datetime:
    """When the failure became final: the refusal, or the final verdict."""
    return sample.refused_at if sample.status == lc.REFUSED else sample.final_at


def action_view(action: FollowUpAction, on: date) -> dict:
    """An action as the API shows it, with whether it is overdue ``on`` a day."""
    sample = action.sample
    return {
        "id": action.id, "sample_code": sample.code, "plan_id": sample.plan_id,
        "credit_code": sample.enterprise.credit_code, "enterprise_name": sample.enterprise.name,
        **{name: getattr(action, name) for name in STATE_FIELDS},
        "kind_name": LABELS["action_kind"][action.kind],
        "overdue": fu.is_overdue(action.status, action.due_date, on),
        "created_by": action.created_by, "created_at": action.created_at, "updated_at": action.updated_at,
    }


def list_actions(query: dict, on: date) -> list[dict]:
    """Actions filtered by kind, status, sample, enterprise and whether overdue ``on`` a day."""
    stmt = select(FollowUpAction).options(
        selectinload(FollowUpAction.sample).selectinload(Sample.enterprise)).order_by(FollowUpAction.id)
    if query.get("kind"):
        stmt = stmt.where(FollowUpAction.kind == query["kind"])
    if query.get("status"):
        stmt = stmt.where(FollowUpAction.status == query["status"])
    if query.get("sample_code"):
        stmt = stmt.where(FollowUpAction.sample.has(Sample.code == query["sample_code"]))
    rows = [action_view(a, on) for a in db.session.scalars(stmt)]
    if query.get("credit_code"):
        rows = [r for r in rows if r["credit_code"] == query["credit_code"]]
    if "overdue" in query:
        rows = [r for r in rows if r["overdue"] == query["overdue"]]
    return rows


def action_detail(action_id: int, on: date) -> dict:
    """One action as the API shows it."""
    return action_view(get_action(action_id), on)


# Checks shared by create and update.

def _check_kind_fields(kind: str, body: dict) -> None:
    """Fields of another kind of action are a 422 (a case number on an interview...)."""
    own = fu.KIND_FIELDS[kind]
    stray = [name for name in fu.KIND_ONLY_FIELDS if name not in own and body.get(name) is not None]
    if stray:
        raise InvalidInput(
            f"not fields of a {kind} action (与该类后处理无关的字段): {', '.join(stray)}",
            {f"json.{name}": [f"not a field of a {kind} action; its fields: {', '.join(own) or 'none'}"]
             for name in stray},
        )


def _check_values(action: FollowUpAction, sample: Sample, now: datetime) -> None:
    """Dates not in the future nor before the failure became final; recovered ≤ out."""
    since = final_time(sample)
    for name in ("held_at", "completed_at"):
        value = getattr(action, name)
        if value is not None:
            lc.check_event_time(name, value, since, now)
    if action.due_date is not None and action.due_date < local_date(since):
        message = f"must not be before the failure became final ({local_date(since).isoformat()})"
        raise InvalidInput("due_date is before the failure became final", {"due_date": [message]})
    if action.quantity_out is not None and action.recovered_qty is not None \
            and action.recovered_qty > action.quantity_out:
        message = f"must not exceed quantity_out ({action.quantity_out})"
        raise InvalidInput("more recovered than was on the market", {"recovered_qty": [message]})


def _settle_status(action: FollowUpAction) -> None:
    """Done once completed; an interview is done once held."""
    if action.kind == fu.INTERVIEW and action.held_at is not None and action.completed_at is None:
        action.completed_at = action.held_at
    action.status = fu.DONE if action.completed_at is not None else fu.OPEN


def _state(action: FollowUpAction) -> dict:
    return {"sample_code": action.sample.code, **{name: getattr(action, name) for name in STATE_FIELDS}}


def _emit_follow_up(action: FollowUpAction, at: datetime) -> None:
    data = {"action_id": action.id, "sample_code": action.sample.code,
            **{name: getattr(action, name) for name in PARTNER_FIELDS}}
    events.emit("follow_up", responsible_code(action.sample), at, data)


def responsible_code(sample: Sample) -> str:
    """The credit code partners file the event under: the named producer when it is registered
    here, else the sampled enterprise (a refusal, or a producer registered elsewhere)."""
    return (sample.producer or sample.enterprise).credit_code


# Writing.

def create_action(code: str, body: dict, *, actor: str, now: datetime) -> dict:
    """Record a follow-up action on a final failure or refusal (409 otherwise); the action as
    shown. Without ``due_date``, an action the rules call for gets the rules' due date.
    """
    sample = _sample(code)
    if not is_final_failure(sample):
        message = (f"follow-up needs a final failure or a refusal; sample {code} is '{sample.status}'"
                   f" with verdict {sample.verdict or 'none'} (仅对最终不合格或拒检样品采取后处理)")
        raise RuleViolation(message, {"status": [message]})
    kind = body["kind"]
    _check_kind_fields(kind, body)
    due = body.get("due_date")
    basis = None
    required = {r.kind: r for r in requirements(sample)}
    if kind in required:
        basis = required[kind].basis
        due = due or required[kind].due
    action = FollowUpAction(sample=sample, kind=kind, basis=basis, due_date=due, created_by=actor,
                            created_at=now, updated_at=now,
                            **{name: body.get(name) for name in UPDATABLE if name != "due_date"})
    _check_values(action, sample, now)
    _settle_status(action)
    db.session.add(action)
    db.session.flush()
    record_event("action.create", "action", action.id, after=_state(action), actor=actor)
    _emit_follow_up(action, now)
    db.session.commit()
    return action_view(action, local_date(now))


def update_action(action_id: int, body: dict, *, actor: str, now: datetime) -> dict:
    """Record progress on an action (held, completed, recovered, case number, penalty...); the
    action as shown. A PATCH that changes nothing writes nothing."""
    action = get_action(action_id, for_update=True)
    _check_kind_fields(action.kind, body)
    before = _state(action)
    for name in UPDATABLE:
        if name in body:
            setattr(action, name, body[name])
    _check_values(action, action.sample, now)
    _settle_status(action)
    if _state(action) == before:  # nothing changed: nothing to record, nothing to tell partners
        db.session.rollback()
        return action_view(get_action(action_id), local_date(now))
    action.updated_at = now
    record_event("action.update", "action", action.id, before=before, after=_state(action), actor=actor)
    _emit_follow_up(action, now)
    db.session.commit()
    return action_view(action, local_date(now))


# The rules' call on a failure.

def _serious(sample: Sample) -> tuple[bool, list[str]]:
    """Whether the final failure is serious by the black-list rule, and the reasons."""
    if sample.status == lc.REFUSED:
        return True, [credit.REASON_REFUSAL]
    db.session.flush()
    answerable = db.session.scalar(select(accountable_enterprise()).where(Sample.id == sample.id))
    record = load_records([answerable])[answerable] if answerable is not None else credit.Record()
    outcome = next((o for o in record.outcomes if o.ref == sample.id), None) or outcome_of(sample)
    listing = credit.black_listing(outcome, record, credit_rules())
    return listing.severity == credit.SERIOUS, listing.reasons


def producer_elsewhere(sample: Sample) -> bool:
    """The named producer (标称生产者) is registered elsewhere: a name, no enterprise here."""
    return sample.producer_enterprise_id is None and bool(sample.producer_name)


def requirements(sample: Sample) -> list[fu.Requirement]:
    """The actions the sample's final failure calls for, with their due dates."""
    if not is_final_failure(sample):
        return []
    interview_days, referral_days = deadline_days()
    recheck_failed = sample.recheck_verdict == lc.FAIL
    at = sample.rechecked_at if recheck_failed else final_time(sample)
    serious, _ = _serious(sample)
    return fu.required_actions(
        final_on=local_date(at), serious=serious, refused=sample.status == lc.REFUSED,
        recheck_failed=recheck_failed, producer_elsewhere=producer_elsewhere(sample),
        interview_days=interview_days, referral_days=referral_days,
    )


def on_final_failure(sample: Sample, *, actor: str, at: datetime) -> list[FollowUpAction]:
    """Called in the transaction where a failure becomes final (finalize, retest result, a
    refusal, a failed recheck): open the actions the rules call for, once each, with their due
    dates, and tell partners of a serious failure. No commit here; a pass does nothing."""
    if not is_final_failure(sample):
        return []
    db.session.flush()
    have = set(db.session.execute(
        select(FollowUpAction.kind, FollowUpAction.basis).where(FollowUpAction.sample_id == sample.id)).all())
    created = []
    for need in requirements(sample):
        if (need.kind, need.basis) in have:
            continue
        action = FollowUpAction(sample=sample, kind=need.kind, basis=need.basis, due_date=need.due,
                                status=fu.OPEN, created_by=actor, created_at=at, updated_at=at,
                                to_authority=_authority_of(sample) if need.kind == fu.REFERRAL else None)
        db.session.add(action)
        db.session.flush()
        record_event("action.create", "action", action.id, after=_state(action), actor=actor)
        _emit_follow_up(action, at)
        if need.kind == fu.INTERVIEW:
            _, reasons = _serious(sample)
            events.emit("serious_failure", responsible_code(sample), at, {
                "sample_code": sample.code, "basis": need.basis, "reasons": reasons,
                "interview_due": need.due,
            })
        created.append(action)
    return created


def _authority_of(sample: Sample) -> str:
    """Whom a referral of a producer registered elsewhere goes to: its local authority."""
    where = "，".join(part for part in (sample.producer_name, sample.producer_address) if part)
    return f"标称生产者所在地市场监督管理部门（{where}）"


# Overdue.

def overdue_action_rows(on: date) -> list[dict]:
    """Open actions past their due date ``on`` a day, as rows of the overdue report."""
    stmt = select(FollowUpAction).where(
        FollowUpAction.status == fu.OPEN, FollowUpAction.due_date < on,
    ).options(selectinload(FollowUpAction.sample).selectinload(Sample.enterprise)).order_by(FollowUpAction.id)
    return [{
        "sample_code": a.sample.code, "plan_id": a.sample.plan_id,
        "credit_code": a.sample.enterprise.credit_code, "enterprise_name": a.sample.enterprise.name,
        "status": a.sample.status, "lab": None, "retest_lab": None, "deadline": a.kind,
        "due": a.due_date, "days_overdue": (on - a.due_date).days, "action_id": a.id,
    } for a in db.session.scalars(stmt)]


def flag_overdue_actions(on: date) -> int:
    """Flag each open action past its due date ``on`` a day, once (audit trail); a rerun flags none."""
    stmt = select(FollowUpAction).where(
        FollowUpAction.status == fu.OPEN, FollowUpAction.due_date < on, FollowUpAction.overdue_since.is_(None),
    ).order_by(FollowUpAction.id).with_for_update()
    flagged = 0
    for action in db.session.scalars(stmt):
        action.overdue_since = on
        record_event("action.overdue", "action", action.id, before={"overdue_since": None},
                     after={"overdue_since": on, "kind": action.kind, "due_date": action.due_date,
                            "sample_code": action.sample.code}, actor="system")
        flagged += 1
    db.session.commit()
    return flagged


# 处理情况.

SUMMARY_COLUMNS = (Sample.id, Sample.status, Sample.verdict, Sample.final_at, Sample.recheck_verdict)

def follow_up_summaries(sample_ids: Iterable[int]) -> dict[int, str | None]:
    """Each sample's 处理情况 as one line (已约谈、已整改、复查合格...): None for a sample that did
    not fail, 待处理 for a final failure or refusal with nothing done yet."""
    ids = sorted(set(sample_ids))
    if not ids:
        return {}
    facts = defaultdict(list)
    summaries = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for sample_id, kind, status, case_no in db.session.execute(
            select(FollowUpAction.sample_id, FollowUpAction.kind, FollowUpAction.status, FollowUpAction.case_no)
            .where(FollowUpAction.sample_id.in_(chunk))
        ):
            facts[sample_id].append(fu.ActionFacts(kind, status, case_no))
        reported = set(db.session.scalars(
            select(RectificationReport.sample_id).where(RectificationReport.sample_id.in_(chunk))))
        for sample in db.session.execute(select(*SUMMARY_COLUMNS).where(Sample.id.in_(chunk))):
            labels = fu.summary_labels(
                failed=is_final_failure(sample), actions=facts[sample.id],
                rectifying=sample.status == lc.RECTIFYING, report_submitted=sample.id in reported,
                recheck=sample.recheck_verdict,
            )
            summaries[sample.id] = fu.summary_text(labels)
    return summaries
