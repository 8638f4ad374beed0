"""The sample life cycle over the database: who may move a sample, the move, its records.

Each public write is one transaction: the state change, a ``SampleEvent`` for the sample's
history and an audit event, committed together or not at all. The rules themselves (which
move is allowed, event times, deadlines, verdicts) live in ``sampling.lifecycle``.
"""

import hashlib
import json
from datetime import date, datetime

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from auth import actor_name
from extensions import db
from models.auth import User
from models.base import utcnow
from models.plans import Draw
from models.registry import Inspector, Lab, lab_categories
from models.samples import IdempotencyRecord, Result, ResultItem, Sample, SampleEvent, sample_team
from sampling import lifecycle as lc
from sampling.errors import Forbidden, InvalidInput, NotFound, RuleViolation
from services.audit import record_event
from services.calendar import timezone, today

# Statuses in which a sample can have a deadline still open.
OPEN_STATUSES = (lc.TESTING, lc.NOTIFIED, lc.OBJECTION, lc.FINAL, lc.RECTIFYING)


# Settings and time.

def deadline_rules() -> lc.DeadlineRules:
    """The configured deadline lengths and the regulator's calendar."""
    cfg = current_app.config
    return lc.DeadlineRules(
        lab_result_days=cfg.get("LAB_RESULT_DAYS", lc.LAB_RESULT_DAYS),
        objection_days=cfg.get("OBJECTION_DAYS", lc.OBJECTION_DAYS),
        rectification_days=cfg.get("RECTIFICATION_DAYS", lc.RECTIFICATION_DAYS),
        recheck_days=cfg.get("RECHECK_DAYS", lc.RECHECK_DAYS),
        tz=timezone(),
    )


# Reading.

def get_sample(code: str, *, for_update: bool = False) -> Sample:
    """The sample with ``code`` or NotFound; ``for_update`` locks its row (PostgreSQL)."""
    stmt = select(Sample).where(Sample.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    sample = db.session.scalar(stmt)
    if sample is None:
        raise NotFound(f"sample {code} not found (未找到样品)", {"sample_code": ["unknown sample"]})
    return sample


def visible_to(stmt, user: User):
    """Narrow a ``select(Sample)`` to what ``user`` may see.

    A supervisor sees every sample; an inspector the samples their team was drawn for; a lab
    the samples assigned to it for testing or retesting, once sampled (a lab learns nothing
    of a draw before the visit).
    """
    if user.role == "inspector":
        team = select(sample_team.c.sample_id).where(sample_team.c.inspector_id == user.inspector_id)
        return stmt.where(Sample.id.in_(team))
    if user.role == "lab":
        mine = or_(Sample.lab_id == user.lab_id, Sample.retest_lab_id == user.lab_id)
        return stmt.where(mine, Sample.status != lc.PLANNED)
    return stmt


def may_see(sample: Sample, user: User) -> bool:
    """True when ``user`` may read ``sample``."""
    if user.role == "inspector":
        return user.inspector_id in {i.id for i in sample.team}
    if user.role == "lab":
        return user.lab_id in (sample.lab_id, sample.retest_lab_id) and sample.status != lc.PLANNED
    return True


def sample_for(code: str, user: User) -> Sample:
    """The sample ``code`` if ``user`` may read it: 404 unknown, 403 not theirs."""
    sample = get_sample(code)
    if not may_see(sample, user):
        raise Forbidden(f"sample {code} is not assigned to you (无权查看该样品)")
    return sample


def list_samples(user: User, query: dict):
    """A ``select`` of the samples ``user`` may see, filtered by plan, status, lab or inspector."""
    stmt = select(Sample).options(
        selectinload(Sample.enterprise), selectinload(Sample.category), selectinload(Sample.lab),
        selectinload(Sample.retest_lab), selectinload(Sample.team),
    ).order_by(Sample.id)
    stmt = visible_to(stmt, user)
    if "plan_id" in query:
        stmt = stmt.where(Sample.plan_id == query["plan_id"])
    if "status" in query:
        stmt = stmt.where(Sample.status == query["status"])
    if "lab" in query:
        labs = select(Lab.id).where(Lab.code == query["lab"])
        stmt = stmt.where(or_(Sample.lab_id.in_(labs), Sample.retest_lab_id.in_(labs)))
    if "inspector" in query:
        team = select(sample_team.c.sample_id).join(Inspector).where(Inspector.code == query["inspector"])
        stmt = stmt.where(Sample.id.in_(team))
    return stmt


def result_of(sample: Sample) -> Result | None:
    """The result that stands now: the latest recorded (a retest or correction supersedes)."""
    return sample.results[-1] if sample.results else None


def timeline(sample: Sample) -> lc.Timeline:
    """The facts of ``sample`` that its deadlines are computed from."""
    first = next((r for r in sample.results if r.kind == "initial"), None)
    retest = next((r for r in sample.results if r.kind == "retest"), None)
    return lc.Timeline(
        status=sample.status,
        verdict=sample.verdict,
        result_verdict=first.verdict if first else None,
        received_at=sample.received_at,
        tested_at=sample.tested_at,
        notified_at=sample.notified_at,
        objection_at=sample.objection_filed_at,
        retested_at=retest.tested_at if retest else None,
        final_at=sample.final_at,
        rectification_due=sample.rectification_due,
        rechecked_at=sample.rechecked_at,
    )


def deadlines_of(sample: Sample, on: date | None = None) -> list[dict]:
    """The sample's deadlines with their due dates, when met, and whether overdue ``on`` a day."""
    on = on or today()
    return [
        {"name": d.name, "due": d.due, "met_at": d.met_at, "overdue": d.passed(on)}
        for d in lc.deadlines(timeline(sample), deadline_rules())
    ]


def overdue_rows(user: User, on: date | None = None) -> list[dict]:
    """Every visible sample with a deadline passed ``on`` a day: one row per passed deadline."""
    on = on or today()
    rules = deadline_rules()
    stmt = visible_to(select(Sample).where(Sample.status.in_(OPEN_STATUSES), Sample.source == "draw"), user)
    stmt = stmt.options(selectinload(Sample.results), selectinload(Sample.enterprise),
                        selectinload(Sample.lab), selectinload(Sample.retest_lab)).order_by(Sample.id)
    rows = []
    for sample in db.session.scalars(stmt):
        for d in lc.overdue(timeline(sample), rules, on):
            rows.append({
                "sample_code": sample.code, "plan_id": sample.plan_id,
                "credit_code": sample.enterprise.credit_code, "enterprise_name": sample.enterprise.name,
                "status": sample.status, "lab": sample.lab.code if sample.lab else None,
                "retest_lab": sample.retest_lab.code if sample.retest_lab else None,
                "deadline": d.name, "due": d.due, "days_overdue": (on - d.due).days,
            })
    return rows


# Ownership.

def _require_team_inspector(sample: Sample, user: User) -> None:
    if user.role != "inspector" or user.inspector_id not in {i.id for i in sample.team}:
        raise Forbidden(f"only an inspector of the team drawn for {sample.code} may record this (非本组检查人员)")


def _require_lab(sample: Sample, user: User) -> None:
    if user.role != "lab" or sample.lab_id is None or user.lab_id != sample.lab_id:
        raise Forbidden(f"only the lab assigned to {sample.code} may record this (非指定检验机构)")


def _require_retest_lab(sample: Sample, user: User) -> None:
    if sample.retest_lab_id is None:
        lc.check_move(sample.status, "retest-result", sample.verdict)  # no retest yet: a 409
    if user.role != "lab" or user.lab_id != sample.retest_lab_id:
        raise Forbidden(f"only the retest lab of {sample.code} may record the retest (非复检机构)")


def _team_codes(sample: Sample, codes: list[str]) -> list[str]:
    """Check the inspectors named on a visit: known, on the team, at least two of them."""
    codes = list(dict.fromkeys(codes))
    team = {i.code for i in sample.team}
    known = set(db.session.scalars(select(Inspector.code).where(Inspector.code.in_(codes))))
    problems = [f"unknown inspector: {c}" for c in codes if c not in known]
    problems += [f"inspector {c} is not on the team drawn for this sample" for c in codes
                 if c in known and c not in team]
    if problems:
        raise InvalidInput("inspectors named must be on the drawn team (检查人员须为本组成员)",
                           {"inspector_codes": problems})
    if len(codes) < 2:
        raise InvalidInput(
            "a visit needs at least two inspectors of the drawn team (至少两名检查人员)",
            {"inspector_codes": ["name at least two inspectors of the drawn team"]},
        )
    return codes


# The move itself.

def _jsonable(value):
    return json.loads(json.dumps(value, default=_iso, ensure_ascii=False))


def _iso(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


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


def _checked_time(sample: Sample, field: str, at: datetime) -> datetime:
    lc.check_event_time(field, at, _previous_at(sample), utcnow())
    return at


def _server_time(sample: Sample) -> datetime:
    """Now, or the previous event's time if a client clock put it a moment ahead."""
    return max(utcnow(), _previous_at(sample))


def _apply(sample: Sample, action: str, occurred_at: datetime, data: dict, change) -> Sample:
    """Check ``action`` against the state table, apply ``change``, record history and audit."""
    target = lc.check_move(sample.status, action, sample.verdict)
    before = _state(sample)
    from_status = sample.status
    change(sample)
    sample.status = target
    sample.last_event_at = occurred_at
    _add_event(sample, action, from_status, occurred_at, data)
    record_event(f"sample.{action}", "sample", sample.code, before=before,
                 after={**_state(sample), **_jsonable(data)})
    return sample


def _add_event(sample: Sample, action: str, from_status: str, occurred_at: datetime, data: dict):
    db.session.add(SampleEvent(
        sample=sample, action=action, from_status=from_status, to_status=sample.status,
        occurred_at=occurred_at, actor=actor_name(), data=_jsonable(data),
    ))


def _refresh_grade(sample: Sample) -> None:
    """A final verdict, a refusal or a recheck changes the enterprise's record."""
    from services.credit import refresh_grades

    refresh_grades([sample.enterprise_id])


def _commit(sample: Sample) -> Sample:
    db.session.commit()
    return sample


# The moves of API.md "Samples".

def record_sampling(code: str, body: dict, user: User) -> Sample:
    """The sampling visit: planned -> sampled, by inspectors of the drawn team."""
    sample = get_sample(code, for_update=True)
    _require_team_inspector(sample, user)
    lc.check_move(sample.status, "sampling", sample.verdict)
    at = _checked_time(sample, "sampled_at", body["sampled_at"])
    codes = _team_codes(sample, body["inspector_codes"])
    produced = body.get("production_date")
    if produced and produced > deadline_rules().local_date(at):
        raise InvalidInput("production date after the sampling date",
                           {"production_date": ["must not be after the sampling date"]})

    def change(s: Sample):
        s.sampled_at = at
        s.visit_inspector_codes = codes
        for name in ("stage", "product_name", "brand", "model", "batch_no", "production_date",
                     "quantity", "reserve_quantity"):
            if name in body:
                setattr(s, name, body[name])

    return _commit(_apply(sample, "sampling", at, {**body, "inspector_codes": codes}, change))


def record_refusal(code: str, body: dict, user: User) -> Sample:
    """The enterprise refused a proper visit: planned -> refused, with reason and inspectors."""
    sample = get_sample(code, for_update=True)
    _require_team_inspector(sample, user)
    lc.check_move(sample.status, "refusal", sample.verdict)
    at = _checked_time(sample, "refused_at", body["refused_at"])
    codes = _team_codes(sample, body["inspector_codes"])

    def change(s: Sample):
        s.refused_at = at
        s.refusal_reason = body["reason"]
        s.visit_inspector_codes = codes

    _apply(sample, "refusal", at, {**body, "inspector_codes": codes}, change)
    _refresh_grade(sample)
    return _commit(sample)


def record_receipt(code: str, body: dict, user: User) -> Sample:
    """The assigned lab received the sample: sampled -> testing."""
    sample = get_sample(code, for_update=True)
    _require_lab(sample, user)
    lc.check_move(sample.status, "receipt", sample.verdict)
    at = _checked_time(sample, "received_at", body["received_at"])

    def change(s: Sample):
        s.received_at = at

    return _commit(_apply(sample, "receipt", at, body, change))


def record_result(code: str, body: dict, user: User, key: str | None = None, dump=None):
    """The assigned lab's result: testing -> tested, verdict derived from the items.

    Returns the sample, or the first answer's body when ``key`` repeats an earlier post.
    """
    sample = get_sample(code, for_update=True)
    _require_lab(sample, user)
    return _idempotent(f"result:{sample.code}", key, body, dump, lambda: _post_result(sample, body))


def _post_result(sample: Sample, body: dict) -> Sample:
    lc.check_move(sample.status, "result", sample.verdict)
    at = _checked_time(sample, "tested_at", body["tested_at"])
    verdict = lc.derive_verdict(body["items"])

    def change(s: Sample):
        _add_result(s, "initial", s.lab, body, verdict)
        s.tested_at = at
        s.verdict = verdict.verdict
        s.critical_failed = verdict.critical_failed

    return _apply(sample, "result", at, _result_data(body, verdict), change)


def record_retest_result(code: str, body: dict, user: User, key: str | None = None, dump=None):
    """The retest lab's result: objection -> final; the retest's verdict is the final one."""
    sample = get_sample(code, for_update=True)
    _require_retest_lab(sample, user)
    return _idempotent(f"retest-result:{sample.code}", key, body, dump,
                       lambda: _post_retest_result(sample, body))


def _post_retest_result(sample: Sample, body: dict) -> Sample:
    lc.check_move(sample.status, "retest-result", sample.verdict)
    at = _checked_time(sample, "tested_at", body["tested_at"])
    verdict = lc.derive_verdict(body["items"])

    def change(s: Sample):
        _add_result(s, "retest", s.retest_lab, body, verdict)
        s.verdict = verdict.verdict
        s.critical_failed = verdict.critical_failed
        s.final_at = at

    _apply(sample, "retest-result", at, _result_data(body, verdict), change)
    _refresh_grade(sample)
    return sample


def _result_data(body: dict, verdict: lc.Verdict) -> dict:
    return {**body, "verdict": verdict.verdict, "failed_items": list(verdict.failed_items),
            "critical_failed": verdict.critical_failed}


def _add_result(sample: Sample, kind: str, lab: Lab | None, body: dict, verdict: lc.Verdict,
                reason: str | None = None) -> Result:
    result = Result(
        sample=sample, kind=kind, lab=lab, lab_name=lab.name if lab else None,
        report_no=body["report_no"], tested_at=body["tested_at"], verdict=verdict.verdict,
        critical_failed=verdict.critical_failed, correction_reason=reason, recorded_by=actor_name(),
    )
    result.items = [
        ResultItem(position=i, name=item["name"], requirement=item["requirement"],
                   measured=item["measured"], unit=item.get("unit"), verdict=item["verdict"],
                   critical=bool(item.get("critical")))
        for i, item in enumerate(body["items"])
    ]
    db.session.add(result)
    return result


def record_notification(code: str, body: dict) -> Sample:
    """The enterprise was notified: a pass is final at once, a fail opens the objection window."""
    sample = get_sample(code, for_update=True)
    lc.check_move(sample.status, "notification", sample.verdict)
    at = _checked_time(sample, "notified_at", body["notified_at"])

    def change(s: Sample):
        s.notified_at = at
        if s.verdict == lc.PASS:
            s.final_at = at

    _apply(sample, "notification", at, body, change)
    if sample.status == lc.FINAL:
        _refresh_grade(sample)
    return _commit(sample)


def record_objection(code: str, body: dict) -> Sample:
    """The enterprise objects within the window: notified -> objection, a retest lab assigned."""
    sample = get_sample(code, for_update=True)
    lc.check_move(sample.status, "objection", sample.verdict)
    at = _checked_time(sample, "filed_at", body["filed_at"])
    lc.check_objection_in_window(sample.notified_at, at, deadline_rules())
    lab = choose_retest_lab(sample)

    def change(s: Sample):
        s.objection_filed_at = at
        s.objection_reason = body["reason"]
        s.retest_lab = lab

    return _commit(_apply(sample, "objection", at, {**body, "retest_lab": lab.code}, change))


def choose_retest_lab(sample: Sample) -> Lab:
    """The retest lab, by the draw's method: accredited labs other than the first one, ranked
    by ``rank_key(seed, plan_id, credit_code, lab_code)``, the first with capacity left."""
    from sampling.draw import rank_key

    draw = db.session.scalar(select(Draw).where(Draw.plan_id == sample.plan_id))
    if draw is None:
        raise RuleViolation(f"sample {sample.code} has no draw to choose a retest lab with")
    accredited = select(lab_categories.c.lab_id).where(lab_categories.c.category_id == sample.category_id)
    labs = db.session.scalars(select(Lab).where(
        Lab.id.in_(accredited), Lab.active.is_(True), Lab.id != sample.lab_id,
    )).all()
    credit_code = sample.enterprise.credit_code
    for lab in sorted(labs, key=lambda lab: rank_key(draw.seed, sample.plan_id, credit_code, lab.code)):
        if _plan_load(lab, sample.plan_id) < lab.capacity:
            return lab
    message = (f"no other accredited lab with capacity left for category {sample.category.code} "
               f"(无可用复检机构)")
    raise RuleViolation(message, {"retest_lab": [message]})


def _plan_load(lab: Lab, plan_id: int | None) -> int:
    """How many samples of the plan the lab already tests or retests."""
    return db.session.scalar(select(func.count(Sample.id)).where(
        Sample.plan_id == plan_id, or_(Sample.lab_id == lab.id, Sample.retest_lab_id == lab.id),
    ))


def finalize(code: str, on: date | None = None) -> Sample:
    """Close a notified failing sample whose objection window has passed: notified -> final."""
    sample = get_sample(code, for_update=True)
    return _commit(_finalize(sample, on or today()))


def _finalize(sample: Sample, on: date) -> Sample:
    lc.check_move(sample.status, "finalize", sample.verdict)
    lc.check_window_passed(sample.notified_at, on, deadline_rules())
    at = _server_time(sample)

    def change(s: Sample):
        s.final_at = at

    _apply(sample, "finalize", at, {}, change)
    _refresh_grade(sample)
    return sample


def finalize_expired(on: date | None = None) -> list[str]:
    """Finalize every notified sample whose objection window has passed; the codes closed."""
    on = on or today()
    rules = deadline_rules()
    closed = []
    for code, notified_at in db.session.execute(
        select(Sample.code, Sample.notified_at).where(Sample.status == lc.NOTIFIED).order_by(Sample.id)
    ).all():
        if on > lc.objection_due(notified_at, rules):
            sample = get_sample(code, for_update=True)
            if sample.status == lc.NOTIFIED:
                _finalize(sample, on)
                db.session.commit()
                closed.append(code)
    return closed


def order_rectification(code: str, body: dict) -> Sample:
    """Order a finally failed enterprise to rectify by a due date: final -> rectifying."""
    sample = get_sample(code, for_update=True)
    lc.check_move(sample.status, "rectification", sample.verdict)
    lc.check_rectification_due(body["due_date"], sample.final_at, deadline_rules())
    at = _server_time(sample)

    def change(s: Sample):
        s.rectification_due = body["due_date"]
        s.rectification_notes = body.get("notes")
        s.rectification_at = at

    return _commit(_apply(sample, "rectification", at, body, change))


def record_recheck(code: str, body: dict) -> Sample:
    """The authority's recheck (复查) after rectification: rectifying -> rechecked."""
    sample = get_sample(code, for_update=True)
    lc.check_move(sample.status, "recheck", sample.verdict)
    at = _checked_time(sample, "rechecked_at", body["rechecked_at"])

    def change(s: Sample):
        s.rechecked_at = at
        s.recheck_verdict = body["verdict"]
        s.recheck_report_no = body["report_no"]

    _apply(sample, "recheck", at, body, change)
    _refresh_grade(sample)
    return _commit(sample)


def record_correction(code: str, body: dict, user: User) -> Sample:
    """Correct the standing result by a new recorded result with a reason; nothing is overwritten.

    A correction may fix the report number and the items' details, never the verdict: a
    verdict is contested by objection and retest.
    """
    sample = get_sample(code, for_update=True)
    standing = result_of(sample)
    if user.role == "lab" and (standing is None or standing.lab_id != user.lab_id):
        raise Forbidden(f"only the lab that issued the result of {sample.code} may correct it (非出具机构)")
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
    _add_result(sample, "correction", standing.lab, corrected, verdict, reason=body["reason"])
    sample.critical_failed = verdict.critical_failed
    at = _server_time(sample)
    data = {"reason": body["reason"], "corrects": standing.report_no, **_result_data(corrected, verdict)}
    _add_event(sample, "correction", sample.status, at, data)
    record_event("sample.correction", "sample", sample.code, before=before,
                 after={**_state(sample), **_jsonable(data)})
    return _commit(sample)


def _item_dict(item: ResultItem) -> dict:
    return {"name": item.name, "requirement": item.requirement, "measured": item.measured,
            "unit": item.unit, "verdict": item.verdict, "critical": item.critical}


# Idempotency-Key.

def _request_hash(body: dict) -> str:
    canonical = json.dumps(_jsonable(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _idempotent(scope: str, key: str | None, body: dict, dump, run):
    """Run ``run`` once per ``(scope, key)``; a repeat with the same body gets the first answer.

    The key's record is written before the move, so a concurrent repeat waits on the unique
    constraint and then finds the first answer instead of recording a second result.
    """
    if not key:
        return _commit(run())
    digest = _request_hash(body)
    replay = _replay(scope, key, digest)
    if replay is not None:
        return replay
    record = IdempotencyRecord(scope=scope, key=key, request_hash=digest, status_code=200, response={})
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        db.session.rollback()
        replay = _replay(scope, key, digest)
        if replay is None:  # the other request failed and was rolled back: nothing to repeat
            raise RuleViolation("a request with this Idempotency-Key is in progress; retry") from None
        return replay
    sample = run()
    db.session.flush()
    record.response = _jsonable(dump(sample)) if dump else {"sample_code": sample.code}
    return _commit(sample)


def _replay(scope: str, key: str, digest: str) -> dict | None:
    record = db.session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.scope == scope, IdempotencyRecord.key == key,
    ))
    if record is None:
        return None
    if record.request_hash != digest:
        message = "this Idempotency-Key was used with a different body (幂等键与请求内容不符)"
        raise RuleViolation(message, {"Idempotency-Key": [message]})
    return record.response


# The overdue job.

def flag_overdue(on: date | None = None) -> int:
    """Flag every deadline passed ``on`` a day, once: the sample keeps the flag and its history
    and the audit trail record it. Returns how many new flags were set; a rerun sets none."""
    on = on or today()
    rules = deadline_rules()
    # Imported history is a closed record: its old deadlines are not the service's to chase.
    stmt = select(Sample).where(Sample.status.in_(OPEN_STATUSES), Sample.source == "draw").options(
        selectinload(Sample.results)).order_by(Sample.id)
    flagged = 0
    for sample in db.session.scalars(stmt):
        known = sample.overdue or []
        new = [{"deadline": d.name, "due": d.due.isoformat()}
               for d in lc.overdue(timeline(sample), rules, on)]
        new = [flag for flag in new if flag not in known]
        if not new:
            continue
        before = {"overdue": known}
        sample.overdue = known + new
        for flag in new:
            _add_event(sample, "overdue", sample.status, _server_time(sample), flag)
        record_event("sample.overdue", "sample", sample.code, before=before,
                     after={"overdue": sample.overdue}, actor="system")
        flagged += len(new)
    db.session.commit()
    return flagged
