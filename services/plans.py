"""Spot-check plans (抽查计划): create, read and list them, and the rules their draw runs under.

A plan's server seed is made here and never shown before its draw; only its commitment is.
What a plan does not say is filled from the settings (``PLAN_DEFAULTS``, ``EXCLUSION_DAYS``):
the one place the plan defaults are said.
"""

from datetime import datetime

from flask import current_app
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from models.plans import Plan
from sampling import draw as algorithm
from sampling.enums import STAGE_KINDS
from sampling.errors import InvalidInput, NotFound
from services.audit import record_event
from services.registry import category_map

COVERED_KIND = "producer"  # the coverage goal is about producers (DESIGN.md "Risk signals and key products")
PLAN_FIELDS = (
    "name", "level", "kind", "period", "regions", "sample_size", "sampling_ratio", "grade_ratios",
    "risk_weighting", "team_size", "avoid_same_region", "exclusion_days", "stage", "window_start", "window_end",
    "uncovered_only",
)


def plan_defaults() -> dict:
    """What a plan is when its body does not say: the settings' ``PLAN_DEFAULTS`` and exclusion window."""
    return {**current_app.config["PLAN_DEFAULTS"], "exclusion_days": current_app.config["EXCLUSION_DAYS"]}


def draw_rules(plan: Plan) -> algorithm.DrawRules:
    """The plan's draw rules, with the configured risk weights."""
    return algorithm.DrawRules(
        sample_size=plan.sample_size,
        sampling_ratio=plan.sampling_ratio,
        grade_ratios=plan.grade_ratios,
        risk_weighting=plan.risk_weighting,
        risk_weights=current_app.config["RISK_WEIGHTS"],
        team_size=plan.team_size,
        avoid_same_region=plan.avoid_same_region,
    )


def plan_record(plan: Plan) -> dict:
    """What the audit trail keeps of a plan (never the server seed)."""
    record = {name: getattr(plan, name) for name in PLAN_FIELDS}
    return {**record, "category_codes": plan.category_codes, "seed_commitment": plan.seed_commitment}


def create_plan(data: dict, actor: str, now: datetime) -> Plan:
    """A new plan with a fresh server seed; only its commitment is ever shown before the draw."""
    categories = category_map(data["category_codes"], "category_codes")
    start, end = data.get("window_start"), data.get("window_end")
    if start is not None and end is not None and start > end:
        raise InvalidInput("the sampling window ends before it starts (抽样时段结束早于开始)",
                           {"window_end": ["must not be before window_start"]})
    given = {name: data[name] for name in PLAN_FIELDS if data.get(name) is not None}
    fields = {**plan_defaults(), **given}
    if fields["uncovered_only"] and STAGE_KINDS[fields["stage"]] != COVERED_KIND:
        raise InvalidInput("uncovered_only draws producers: the plan's stage must be production "
                           "(仅抽未覆盖企业的计划只能抽取生产企业)", {"uncovered_only": ["needs stage production"]})
    fields["regions"] = sorted(set(fields.get("regions") or []))
    server_seed = algorithm.new_server_seed()
    plan = Plan(**fields, server_seed=server_seed, seed_commitment=algorithm.commitment(server_seed),
                created_by=actor, created_at=now)
    plan.categories = [categories[c] for c in sorted(categories)]
    draw_rules(plan)  # the rules must hold together before anything is stored
    db.session.add(plan)
    db.session.flush()
    record_event("create", "plan", plan.id, after=plan_record(plan), actor=actor)
    db.session.commit()
    return plan


def get_plan(plan_id: int) -> Plan:
    """The plan with its draw (if any) in one query, or a 404."""
    plan = db.session.scalar(select(Plan).where(Plan.id == plan_id).options(joinedload(Plan.draw)))
    if plan is None:
        raise NotFound(f"plan {plan_id} not found (未找到抽查计划)", {"plan_id": ["unknown plan"]})
    return plan


def list_plans() -> Select:
    """A ``select`` of every plan, newest first."""
    return select(Plan).options(selectinload(Plan.categories), selectinload(Plan.draw)).order_by(Plan.id.desc())
