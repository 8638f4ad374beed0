"""The moves of the sample life cycle over the database.

Each move is one transaction: the state change, a ``SampleEvent`` for the sample's history
and an audit event, committed together or not at all. The rules themselves (which move is
allowed, event times, deadlines, verdicts) live in ``sampling.lifecycle``; who may move a
sample lives in ``services.samples.access``. Every function takes who acts (``user``; None
is the system) and the time (``now``) as arguments.
"""

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import select

from extensions import db
from models.auth import User
from models.registry import Enterprise, Lab
from models.samples import RectificationReport, Result, ResultItem, Sample, SampleEvent
from sampling import lifecycle as lc
from sampling.documents import check_document, sha256_hex
from sampling.errors import InvalidInput, RuleViolation
from services import actions, credit
from services.audit import record_event
from services.calendar import local_date
from services.samples.access import (
    actor_label,
    acts_for_itself,
    get_sample,
    require_corrector,
    require_owner,
    require_reporter,
    visit_team_codes,
)
from services.samples.idempotency import jsonable, once
from services.samples.record import sample_record
from services.samples.retest import choose_retest_lab
from services.samples.rules import deadline_rules, report_max_bytes, result_of

# Moves whose answer an Idempotency-Key replays (the lab's results).
KEYED_MOVES = ("result", "retest-result")


def move(code: str, action: str, body: dict, user: User | None, now: datetime, key: str | None = None) -> dict:
    """Record ``action`` on sample ``code`` for ``user`` at ``now``; the sample as plain data.

    With ``key`` (result and retest result only), a repeat gets the first answer.
    """
    sample = get_sample(code, for_update=True)
    require_owner(action, sample, user)
    perform = PERFORMERS[action]

    def run() -> dict:
        perform(sample, body, user, now)
        db.session.flush()
        return sample_record(sample, deadline_rules().local_date(now))

    return once(f"{action}:{sample.code}", key if action in KEYED_MOVES else None, body, run)


# The parts every move shares.

def _state(sample: Sample) -> dict:
    """What the audit trail records of a sample before and after a write."""
    return {
        "status": sample.status, "verdict": sample.verdict, "critical_failed": sample.critical_failed,
        "lab": sample.lab.code if sample.lab else None,
        "retest_lab": sample.retest_lab.code if sample.retest_lab else None,
        "final_at": sample.final_at, "last_event_at": sample.last_event_at,
    }


def _previous_at(sample: Sample) -> datetime:
    return sample.last_event_at or sample.drawn_at or sample.created_at


def _checked_time(sample: Sample, field: str, at: datetime, now: datetime) -> datetime:
    lc.check_event_time(field, at, _previous_at(sample), now)
    return at


def _server_time(sample: Sample, now: datetime) -> datetime:
    """``now``, or the previous event's time if a client clock put it a moment ahead."""
    return max(now, _previous_at(sample))


def _apply(sample: Sample, action: str, at: datetime, data: dict, change: Callable[[Sample], None],
           user: User | None) -> Sample:
    """Check ``action`` against the state table, apply ``change``, record history and audit."""
    target = lc.check_move(sample.status, action, sample.verdict)
    before = _state(sample)
    from_status = sample.status
    change(sample)
    sample.status = target
    sample.last_event_at = at
    if target in lc.VERDICT_FINAL_STATES:
        sample.final_at = at
    _add_event(sample, action, from_status, at, data, user)
    record_event(f"sample.{action}", "sample", sample.code, before=before,
                 after={**_state(sample), **jsonable(data)}, actor=actor_label(user))
    if target in lc.VERDICT_FINAL_STATES:
        verdict_became_final(sample, user)
    return sample


def verdict_became_final(sample: Sample, user: User | None) -> None:
    """The one place a sample's verdict becomes final (a notified pass, a failure finalized
    after its window or retested, a refusal); ``sample.final_at`` is already that moment.

    The enterprise's record changed: its grade is recomputed in the same transaction. A
    failure or refusal opens the follow-up it calls for (interview, referral).
    """
    credit.refresh_grades(concerned_enterprises(sample), local_date(sample.final_at), actor_label(user),
                          sample.final_at)
    actions.on_final_failure(sample, actor=actor_label(user), at=sample.final_at)


def concerned_enterprises(sample: Sample) -> list[int]:
    """The enterprises whose record a sample's verdict enters: the sampled unit and the named
    producer when it is registered here (a failure counts against the producer)."""
    return list(dict.fromkeys(i for i in (sample.enterprise_id, sample.producer_enterprise_id) if i))


def _add_event(sample: Sample, action: str, from_status: str, at: datetime, data: dict,
               user: User | None) -> None:
    db.session.add(SampleEvent(
        sample=sample, action=action, from_status=from_status, to_status=sample.status,
        occurred_at=at, actor=actor_label(user), data=jsonable(data),
    ))


# The moves of API.md "Samples", in the order of the diagram.

def _sampling(sample: Sample, body: dict, user: User | None, now: datetime) -> None:
    """The sampling visit: planned -> sampled, by inspectors of the drawn team."""
    lc.check_move(sample.status, "sampling", sample.verdict)
    at = _checked_time(sample, "sampled_at", body["sampled_at"], now)
    sampled_on = deadline_rules().local_date(at)
    _check_window(sample, "sampled_at", sampled_on)
    codes = visit_team_codes(sample, body["inspector_codes"])
    produced = body.get("production_date")
    if produced and produced > sampled_on:
        raise InvalidInput("production date after the sampling date",
                           {"production_date": ["must not be after the sampling date"]})
    producer = named_producer(sample, body.get("producer"))
    purchase = body.get("purchase")
    lc.check_purchase(body["stage"], purchase, sampled_on)

    def change(s: Sample):
        s.sampled_at = at
        s.visit_inspector_codes = codes
        s.producer, s.producer_credit_code, s.producer_name, s.producer_address = producer
        if purchase is not None:
            s.purchase_platform = purchase["platform"]
            s.purchase_order_no = purchase["order_no"]
            s.purchase_price_fen = int(purchase["price"] * 100)
            s.purchase_received_on = purchase["received_on"]
        for name in ("stage", "product_name", "brand", "model", "batch_no", "production_date",
                     "quantity", "reserve_quantity"):
            if name in body:
                setattr(s, name, body[name])

    _apply(sample, "sampling", at, {**body, "inspector_codes": codes}, change, user)


def named_producer(sample: Sample, label: dict | None) -> tuple:
    """The named producer (标称生产者) of a visit's ``producer`` body, as ``(enterprise,
    credit_code, name, address)``: the enterprise when its credit code is registered here,
    else the outside producer's code (if given), name and address, which a referral to its
    authority needs. Without a label, the sampled enterprise made the product."""
    if label is None:
        return sample.enterprise, None, None, None
    code = label.get("credit_code")
    if code:
        registered = db.session.scalar(select(Enterprise).where(Enterprise.credit_code == code))
        if registered is not None:
            return registered, None, None, None
    if not label.get("address"):
        message = ("a producer not registered here is named with its address "
                   "(外地生产者须填写名称和地址)")
        raise InvalidInput(message, {"producer.address": [message]})
    return None, code or None, label["name"], label["address"]


def _check_window(sample: Sample, field: str, visited_on: date) -> None:
    """A visit (or a refusal met at one) falls inside the plan's sampling window."""
    plan = sample.plan
    if plan is not None:
        lc.check_in_window(field, visited_on, plan.window_start, plan.window_end)


def _refusal(sample: Sample, body: dict, user: User | None, now: datetime) -> None:
    """The enterprise refused a proper visit: planned -> refused, with reason and inspectors."""
    lc.check_move(sample.status, "refusal", sample.verdict)
    at = _checked_time(sample, "refused_at", body["refused_at"], now)
    _check_window(sample, "refused_at", deadline_rules().local_date(at))
    codes = visit_team_codes(sample, body["inspector_codes"])

    def change(s: Sample):
        s.refused_at = at
        s.refusal_reason = body["reason"]
        s.visit_inspector_codes = codes

    _apply(sample, "refusal", at, {**body, "inspector_codes": codes}, change, user)


def _stamped(action: str, field: str, attribute: str, summary: str):
    """A move whose one fact is its time: ``body[field]``, kept as ``sample.<attribute>``."""

    def perform(sample: Sample, body: dict, user: User | None, now: datetime) -> None:
        lc.check_move(sample.status, action, sample.verdict)
        at = _checked_time(sample, field, body[field], now)
        _apply(sample, action, at, body, lambda s: setattr(s, attribute, at), user)

    perform.__doc__ = summary
    return perform


_receipt = _stamped("receipt", "received_at", "received_at",
                    "The assigned lab received the sample: sampled -> testing.")
_notification = _stamped("notification", "notified_at", "notified_at",
                         "The enterprise was notified: a pass is final at once, a fail opens the objection window.")


def _result(sample: Sample, body: dict, user: User | None, now: datetime) -> None:
    """The assigned lab's result: testing -> tested, verdict derived from the items."""
    lc.check_move(sample.status, "result", sample.verdict)
    at = _checked_time(sample, "tested_at", body["tested_at"], now)
    verdict = lc.derive_verdict(body["items"])

    def change(s: Sample):
        _add_result(s, "initial", s.lab, body, verdict, user)
        s.tested_at = at
        s.verdict = verdict.verdict
        s.critical_failed = verdict.critical_failed

    _apply(sample, "result", at, _result_data(body, verdict), change, user)


def _objection(sample: Sample, body: dict, user: User | None, now: datetime) -> None:
    """The enterprise objects within the window: notified -> objection, a retest lab assigned."""
    lc.check_move(sample.status, "objection", sample.verdict)
    at = _checked_time(sample, "filed_at", body["filed_at"], now)
    lc.check_objection_in_window(sample.notified_at, at, deadline_rules())
    if acts_for_itself(user):  # filed now with its own token: no back-dating into the window
        lc.check_objection_in_window(sample.notified_at, now, deadline_rules())
    lab = choose_retest_lab(sample)

    def change(s: Sample):
        s.objection_filed_at = at
        s.objection_reason = body["reason"]
        s.retest_lab = lab

    _apply(sample, "objection", at, {**body, "retest_lab": lab.code}, change, user)


def _retest_result(sample: Sample, body: dict, user: User | None, now: datetime) -> None:
    """The retest lab's result: objection -> final; the retest's verdict is the final one."""
    lc.check_move(sample.status, "retest-result", sample.verdict)
    at = _checked_time(sample, "tested_at", body["tested_at"], now)
    verdict = lc.derive_verdict(body["items"])

    def change(s: Sample):
        _add_result(s, "retest", s.retest_lab, body, verdict, user)
        s.verdict = verdict.verdict
        s.critical_failed = verdict.critical_failed

    _apply(sample, "retest-result", at, _result_data(body, verdict), change, user)


def _finalize(sample: Sample, on: date, user: User | None, now: datetime) -> None:
    """Close a notified failing sample whose objection window has passed ``on`` a day:
    notified -> final."""
    rules = deadline_rules()
    lc.check_move(sample.status, "finalize", sample.verdict)
    lc.check_window_passed(sample.notified_at, on, rules)
    _apply(sample, "finalize", _server_time(sample, now), {}, lambda s: None, user)


def _finalize_now(sample: Sample, body: dict, user: User | None, now: datetime) -> None:
    """A supervisor's ``finalize``: judged by today in the regulator's calendar."""
    _finalize(sample, deadline_rules().local_date(now), user, now)


def _rectification(sample: Sample, body: dict, user: User | None, now: datetime) -> None:
    """Order a finally failed enterprise to rectify by a due date: final -> rectifying."""
    lc.check_move(sample.status, "rectification", sample.verdict)
    lc.check_rectification_due(body["due_date"], sample.final_at, deadline_rules())
    at = _server_time(sample, now)

    def change(s: Sample):
        s.rectification_due = body["due_date"]
        s.rectification_notes = body.get("notes")
        s.rectification_at = at

    _apply(sample, "rectification", at, body, change, user)


def _recheck(sample: Sample, body: dict, user: User | None, now: datetime) -> None:
    """The authority's recheck (复查) after rectification: rectifying -> rechecked."""
    lc.check_move(sample.status, "recheck", sample.verdict)
    at = _checked_time(sample, "rechecked_at", body["rechecked_at"], now)

    def change(s: Sample):
        s.rechecked_at = at
        s.recheck_verdict = body["verdict"]
        s.recheck_report_no = body["report_no"]

    _apply(sample, "recheck", at, body, change, user)
    # a failed recheck is a serious failure...
    credit.refresh_grades(concerned_enterprises(sample), local_date(at), actor_label(user), at)
    actions.on_final_failure(sample, actor=actor_label(user), at=at)  # ...which calls for an interview


PERFORMERS = {
    "sampling": _sampling,
    "refusal": _refusal,
    "receipt": _receipt,
    "result": _result,
    "notification": _notification,
    "objection": _objection,
    "retest-result": _retest_result,
    "finalize": _finalize_now,
    "rectification": _rectification,
    "recheck": _recheck,
}
assert set(PERFORMERS) == set(lc.ACTIONS), "every action of the life-cycle table has its move"


def _result_data(body: dict, verdict: lc.Verdict) -> dict:
    return {**body, "verdict": verdict.verdict, "failed_items": list(verdict.failed_items),
            "critical_failed": verdict.critical_failed}


def _add_result(sample: Sample, kind: str, lab: Lab | None, body: dict, verdict: lc.Verdict,
                user: User | None, reason: str | None = None) -> Result:
    result = Result(
        sample=sample, kind=kind, lab=lab, lab_name=lab.name if lab else None,
        report_no=body["report_no"], tested_at=body["tested_at"], verdict=verdict.verdict,
        critical_failed=verdict.critical_failed, correction_reason=reason, recorded_by=actor_label(user),
    )
    result.items = [
        ResultItem(position=i, name=item["name"], requirement=item["requirement"],
                   measured=item["measured"], unit=item.get("unit"), verdict=item["verdict"],
                   critical=bool(item.get("critical")))
        for i, item in enumerate(body["items"])
    ]
    db.session.add(result)
    return result


# The job's move.

def finalize_expired(on: date, now: datetime) -> list[str]:
    """Finalize every notified sample whose objection window has passed ``on`` a day, at ``now``;
    the codes closed."""
    rules = deadline_rules()
    closed = []
    for code, notified_at in db.session.execute(
        select(Sample.code, Sample.notified_at).where(Sample.status == lc.NOTIFIED).order_by(Sample.id)
    ).all():
        if on > lc.objection_due(notified_at, rules):
            sample = get_sample(code, for_update=True)
            if sample.status == lc.NOTIFIED:
                _finalize(sample, on, None, now)
                db.session.commit()
                closed.append(code)
    return closed


# The rectification report: no move, a document kept with the rectification.

def submit_rectification_report(code: str, filename: str | None, content: bytes, submitted_at: datetime,
                                user: User | None, now: datetime) -> dict:
    """Keep the enterprise's rectification report (PDF or image, size-limited, its type judged by
    its content) with the ordered rectification; its SHA-256 goes into the history and the
    audit trail. The enterprise itself or a supervisor on its behalf submits it."""
    sample = get_sample(code, for_update=True)
    require_reporter(sample, user)
    lc.check_report(sample.status)
    at = _checked_time(sample, "submitted_at", submitted_at, now)
    kind = check_document("file", content, report_max_bytes())
    data = {"filename": filename or "report", "content_type": kind, "size": len(content),
            "sha256": sha256_hex(content)}
    before = _state(sample)
    db.session.add(RectificationReport(sample=sample, content=content, submitted_at=at,
                                       uploaded_by=actor_label(user), **data))
    sample.last_event_at = at
    _add_event(sample, "rectification-report", sample.status, at, data, user)
    record_event("sample.rectification-report", "sample", sample.code, before=before,
                 after={**_state(sample), **data}, actor=actor_label(user))
    db.session.flush()
    answer = sample_record(sample, deadline_rules().local_date(now))
    db.session.commit()
    return answer


# Corrections: no move, a new recorded result beside the standing one.

def correct_result(code: str, body: dict, user: User | None, now: datetime) -> dict:
    """Correct the standing result by a new recorded result with a reason; nothing is overwritten.

    A correction may fix the report number and the items' details, never the verdict: a
    verdict is contested by objection and retest.
    """
    sample = get_sample(code, for_update=True)
    standing = result_of(sample)
    require_corrector(sample, standing.lab_id if standing else None, user)
    lc.check_correction(sample.status)
    items = body.get("items") or [_item_dict(i) for i in standing.items]
    verdict = lc.derive_verdict(items)
    if verdict.verdict != standing.verdict:
        message = (f"a correction cannot change the verdict ({standing.verdict}); "
                   f"contest it by objection and retest")
        raise RuleViolation(message, {"items": [message]})
    corrected = {"report_no": body.get("report_no") or standing.report_no,
                 "tested_at": standing.tested_at, "items": items}
    before = _state(sample)
    _add_result(sample, "correction", standing.lab, corrected, verdict, user, reason=body["reason"])
    sample.critical_failed = verdict.critical_failed
    at = _server_time(sample, now)
    data = {"reason": body["reason"], "corrects": standing.report_no, **_result_data(corrected, verdict)}
    _add_event(sample, "correction", sample.status, at, data, user)
    record_event("sample.correction", "sample", sample.code, before=before,
                 after={**_state(sample), **jsonable(data)}, actor=actor_label(user))
    db.session.flush()
    answer = sample_record(sample, deadline_rules().local_date(now))
    db.session.commit()
    return answer


def _item_dict(item: ResultItem) -> dict:
    return {"name": item.name, "requirement": item.requirement, "measured": item.measured,
            "unit": item.unit, "verdict": item.verdict, "critical": item.critical}
