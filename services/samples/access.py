"""Who may see a sample, and who may move it: visibility and ownership.

A supervisor sees every sample; an inspector the samples their team was drawn for; a lab
the samples assigned to it for testing or retesting, once sampled (a lab learns nothing of
a draw before the visit); an enterprise the samples taken from it or naming it as their
registered producer, once visited. An enterprise must never learn in advance that it was
drawn: to it a ``planned`` sample, its own or not, is unknown (404), and lists leave it out.

Moving a sample needs the record that owns the move: the drawn team for the visit, the
assigned lab for receipt and result, the retest lab for the retest, the sample's own
enterprise for its objection and its rectification report.
``None`` as the user is the system itself (a job or a CLI command), which may do anything.
"""

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from extensions import db
from models.auth import User
from models.registry import Inspector, Lab
from models.samples import RectificationReport, Sample, sample_team
from sampling import lifecycle as lc
from sampling.enums import ROLES
from sampling.errors import Forbidden, InvalidInput, NotFound
from services.samples.record import sample_record

SUPERVISOR, INSPECTOR, LAB, ENTERPRISE, PARTNER = ROLES  # a partner reads credit events, never samples

# Which roles may ask for each move; the record a role is bound to is checked by ``require_owner``.
MOVE_ROLES = {
    "sampling": (INSPECTOR,),
    "refusal": (INSPECTOR,),
    "receipt": (LAB,),
    "result": (LAB,),
    "notification": (SUPERVISOR,),
    "objection": (SUPERVISOR, ENTERPRISE),
    "retest-result": (LAB,),
    "finalize": (SUPERVISOR,),
    "rectification": (SUPERVISOR,),
    "recheck": (SUPERVISOR,),
}
CORRECTION_ROLES = (SUPERVISOR, LAB)
REPORT_ROLES = (SUPERVISOR, ENTERPRISE)  # the rectification report
READER_ROLES = (SUPERVISOR, INSPECTOR, LAB, ENTERPRISE)


def actor_label(user: User | None) -> str:
    """How the history and the audit trail name who acted: ``role:name``, or ``system``."""
    return f"{user.role}:{user.name}" if user is not None else "system"


def get_sample(code: str, *, for_update: bool = False) -> Sample:
    """The sample with ``code`` or NotFound; ``for_update`` locks its row (PostgreSQL)."""
    stmt = select(Sample).where(Sample.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    sample = db.session.scalar(stmt)
    if sample is None:
        raise _unknown(code)
    return sample


def visible_to(stmt, user: User | None):
    """Narrow a ``select(Sample)`` to what ``user`` may see."""
    if user is None:
        return stmt
    if user.role == INSPECTOR:
        team = select(sample_team.c.sample_id).where(sample_team.c.inspector_id == user.inspector_id)
        return stmt.where(Sample.id.in_(team))
    if user.role == LAB:
        mine = or_(Sample.lab_id == user.lab_id, Sample.retest_lab_id == user.lab_id)
        return stmt.where(mine, Sample.status != lc.PLANNED)
    if user.role == ENTERPRISE:
        ours = or_(Sample.enterprise_id == user.enterprise_id, Sample.producer_enterprise_id == user.enterprise_id)
        return stmt.where(ours, Sample.status != lc.PLANNED)
    return stmt


def may_see(sample: Sample, user: User | None) -> bool:
    """True when ``user`` may read ``sample``."""
    if user is None:
        return True
    if user.role == INSPECTOR:
        return user.inspector_id in {i.id for i in sample.team}
    if user.role == LAB:
        return user.lab_id in (sample.lab_id, sample.retest_lab_id) and sample.status != lc.PLANNED
    if user.role == ENTERPRISE:
        return user.enterprise_id in (sample.enterprise_id, sample.producer_enterprise_id)
    return True


def _unknown(code: str) -> NotFound:
    return NotFound(f"sample {code} not found (未找到样品)", {"sample_code": ["unknown sample"]})


def hide_planned(sample: Sample, user: User | None) -> None:
    """To an enterprise a ``planned`` sample does not exist: the same 404 as an unknown code."""
    if user is not None and user.role == ENTERPRISE and sample.status == lc.PLANNED:
        raise _unknown(sample.code)


def readable_sample(code: str, user: User | None) -> Sample:
    """The sample ``code`` if ``user`` may read it: 404 unknown, 403 not theirs."""
    sample = get_sample(code)
    hide_planned(sample, user)
    if not may_see(sample, user):
        raise Forbidden(f"sample {code} is not assigned to you (无权查看该样品)")
    return sample


def read_sample(code: str, user: User | None, today: date) -> dict:
    """The sample ``code`` as plain data, if ``user`` may read it: 404 unknown, 403 not theirs."""
    return sample_record(readable_sample(code, user), today)


def report_file(code: str, report_id: int, user: User | None) -> RectificationReport:
    """A rectification report of sample ``code``, for those who may read the sample (the view
    admits supervisors and enterprises: a report is between the enterprise and the regulator)."""
    sample = readable_sample(code, user)
    report = next((r for r in sample.reports if r.id == report_id), None)
    if report is None:
        raise NotFound(f"no rectification report {report_id} on sample {code} (未找到整改报告)")
    return report


def list_samples(user: User | None, query: dict):
    """A ``select`` of the samples ``user`` may see, filtered by plan, status, lab or inspector."""
    stmt = select(Sample).options(
        selectinload(Sample.enterprise), selectinload(Sample.category), selectinload(Sample.lab),
        selectinload(Sample.retest_lab), selectinload(Sample.team), selectinload(Sample.producer),
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


# Ownership of a move.

def _require_team_inspector(sample: Sample, user: User) -> None:
    if user.role != INSPECTOR or user.inspector_id not in {i.id for i in sample.team}:
        raise Forbidden(f"only an inspector of the team drawn for {sample.code} may record this (非本组检查人员)")


def _require_lab(sample: Sample, user: User) -> None:
    if user.role != LAB or sample.lab_id is None or user.lab_id != sample.lab_id:
        raise Forbidden(f"only the lab assigned to {sample.code} may record this (非指定检验机构)")


def _require_retest_lab(sample: Sample, user: User) -> None:
    if sample.retest_lab_id is None:
        lc.check_move(sample.status, "retest-result", sample.verdict)  # no retest yet: a 409
    if user.role != LAB or user.lab_id != sample.retest_lab_id:
        raise Forbidden(f"only the retest lab of {sample.code} may record the retest (非复检机构)")


def _require_own_enterprise(sample: Sample, user: User) -> None:
    if user.role == ENTERPRISE and not may_see(sample, user):
        raise Forbidden(f"sample {sample.code} is not your enterprise's (非本企业样品)")


def _require_role(roles: tuple[str, ...]):
    def check(sample: Sample, user: User) -> None:
        if user.role not in roles:
            raise Forbidden(f"role '{user.role}' may not do this on {sample.code} (无权操作)")
        _require_own_enterprise(sample, user)
    return check


OWNERS = {
    "sampling": _require_team_inspector,
    "refusal": _require_team_inspector,
    "receipt": _require_lab,
    "result": _require_lab,
    "retest-result": _require_retest_lab,
}


def require_owner(action: str, sample: Sample, user: User | None) -> None:
    """Raise Forbidden unless ``user`` may record ``action`` on ``sample``."""
    if user is None:
        return
    hide_planned(sample, user)
    check = OWNERS.get(action) or _require_role(MOVE_ROLES[action])
    check(sample, user)


def acts_for_itself(user: User | None) -> bool:
    """True when an enterprise acts with its own token (not a supervisor on its behalf)."""
    return user is not None and user.role == ENTERPRISE


def require_reporter(sample: Sample, user: User | None) -> None:
    """A rectification report comes from the sample's own enterprise or a supervisor."""
    if user is None:
        return
    hide_planned(sample, user)
    _require_role(REPORT_ROLES)(sample, user)


def require_corrector(sample: Sample, standing_lab_id: int | None, user: User | None) -> None:
    """A correction comes from a supervisor or from the lab that issued the standing result."""
    if user is None or user.role == SUPERVISOR:
        return
    if user.role != LAB or standing_lab_id is None or standing_lab_id != user.lab_id:
        raise Forbidden(f"only the lab that issued the result of {sample.code} may correct it (非出具机构)")


def visit_team_codes(sample: Sample, codes: list[str]) -> list[str]:
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
