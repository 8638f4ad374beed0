"""The retest lab (复检机构): drawn like the first lab, among the other accredited labs."""

from sqlalchemy import func, or_, select

from extensions import db
from models.plans import Draw, Plan
from models.registry import Lab, lab_categories
from models.samples import Sample
from sampling.draw import rank_key
from sampling.errors import RuleViolation


def choose_retest_lab(sample: Sample) -> Lab:
    """The retest lab, by the draw's method: accredited labs other than the first one, ranked
    by ``rank_key(seed, plan_id, credit_code, lab_code)``, the first with capacity left.

    A lab's capacity counts samples per plan, so the choices of one plan are made one at a
    time: the plan's row is locked (PostgreSQL) until the caller's transaction ends, and two
    objections filed at the same moment cannot both take a lab's last place.
    """
    db.session.execute(select(Plan.id).where(Plan.id == sample.plan_id).with_for_update())
    draw = db.session.scalar(select(Draw).where(Draw.plan_id == sample.plan_id))
    if draw is None:
        raise RuleViolation(f"sample {sample.code} has no draw to choose a retest lab with")
    accredited = select(lab_categories.c.lab_id).where(lab_categories.c.category_id == sample.category_id)
    labs = db.session.scalars(select(Lab).where(
        Lab.id.in_(accredited), Lab.active.is_(True), Lab.id != sample.lab_id,
    )).all()
    credit_code = sample.enterprise.credit_code
    for lab in sorted(labs, key=lambda lab: rank_key(draw.seed, sample.plan_id, credit_code, lab.code)):
        if plan_load(lab, sample.plan_id) < lab.capacity:
            return lab
    message = (f"no other accredited lab with capacity left for category {sample.category.code} "
               f"(无可用复检机构)")
    raise RuleViolation(message, {"retest_lab": [message]})


def plan_load(lab: Lab, plan_id: int | None) -> int:
    """How many samples of the plan the lab already tests or retests."""
    return db.session.scalar(select(func.count(Sample.id)).where(
        Sample.plan_id == plan_id, or_(Sample.lab_id == lab.id, Sample.retest_lab_id == lab.id),
    ))
