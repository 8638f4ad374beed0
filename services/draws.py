"""Plans and their one draw: load the eligible registry, run ``sampling.draw``, store it all.

A draw is stored in one transaction (the draw, its selections and one ``planned`` sample per
selection, plus the audit event) or not at all. The unique ``draws.plan_id`` makes a second
draw of a plan fail even when two arrive at the same moment.
"""

import json
import zlib
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from auth import actor_name
from extensions import db
from models.base import utcnow
from models.plans import Draw, Plan, Selection
from models.registry import Category, Enterprise, Inspector, Lab, enterprise_categories
from models.samples import Sample, sample_team
from sampling import draw as algorithm
from sampling.errors import NotFound, RuleViolation
from services.audit import record_event
from services.calendar import local_date, today
from services.registry import category_map

PLAN_FIELDS = (
    "name", "level", "kind", "period", "regions", "sample_size", "sampling_ratio", "grade_ratios",
    "risk_weighting", "team_size", "avoid_same_region", "exclusion_days",
)


# --- plans --------------------------------------------------------------------------------


def rules_of(plan: Plan) -> algorithm.DrawRules:
    """The plan's draw rules, with the configured risk weights."""
    return algorithm.DrawRules(
        sample_size=plan.sample_size,
        sampling_ratio=plan.sampling_ratio,
        grade_ratios=plan.grade_ratios,
        risk_weighting=plan.risk_weighting,
        risk_weights=current_app.config.get("RISK_WEIGHTS", algorithm.RISK_WEIGHTS),
        team_size=plan.team_size,
        avoid_same_region=plan.avoid_same_region,
    )


def plan_record(plan: Plan) -> dict:
    """What the audit trail keeps of a plan (never the server seed)."""
    record = {name: getattr(plan, name) for name in PLAN_FIELDS}
    return {**record, "category_codes": plan.category_codes, "seed_commitment": plan.seed_commitment}


def create_plan(data: dict) -> Plan:
    """A new plan with a fresh server seed; only its commitment is ever shown before the draw."""
    categories = category_map(data["category_codes"], "category_codes")
    server_seed = algorithm.new_server_seed()
    fields = {name: data.get(name) for name in PLAN_FIELDS if data.get(name) is not None}
    fields.setdefault("exclusion_days", current_app.config.get("EXCLUSION_DAYS", algorithm.DEFAULT_EXCLUSION_DAYS))
    fields.setdefault("team_size", algorithm.DEFAULT_TEAM_SIZE)
    fields.setdefault("avoid_same_region", True)
    fields.setdefault("risk_weighting", False)
    fields["regions"] = sorted(set(fields.get("regions") or []))
    plan = Plan(**fields, server_seed=server_seed, seed_commitment=algorithm.commitment(server_seed),
                created_by=actor_name())
    plan.categories = [categories[c] for c in sorted(categories)]
    rules_of(plan)  # the rules must hold together before anything is stored
    db.session.add(plan)
    db.session.flush()
    record_event("create", "plan", plan.id, after=plan_record(plan))
    db.session.commit()
    return plan


def get_plan(plan_id: int) -> Plan:
    """The plan, or a 404."""
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} not found (未找到抽查计划)", {"plan_id": ["unknown plan"]})
    return plan


def list_plans():
    """A ``select`` of every plan, newest first."""
    return select(Plan).options(selectinload(Plan.categories), selectinload(Plan.draw)).order_by(Plan.id.desc())


# --- the eligible registry ----------------------------------------------------------------


def eligible_candidates(plan: Plan) -> tuple[list[algorithm.Candidate], dict[str, int]]:
    """Active enterprises of the plan's categories and regions, outside the exclusion window.

    Returns the candidates (credit grade from the enterprise, last team from its latest visit)
    and a map credit code -> enterprise id.
    """
    category_ids = [c.id for c in plan.categories]
    stmt = (
        select(Enterprise.id, Enterprise.credit_code, Enterprise.region, Enterprise.credit_grade, Category.code)
        .join(enterprise_categories, enterprise_categories.c.enterprise_id == Enterprise.id)
        .join(Category, Category.id == enterprise_categories.c.category_id)
        .where(Enterprise.status == "active", Category.id.in_(category_ids))
        .order_by(Enterprise.credit_code, Category.code)
    )
    if plan.regions:
        stmt = stmt.where(Enterprise.region.in_(plan.regions))
    rows: dict[str, list] = {}
    ids: dict[str, int] = {}
    for enterprise_id, code, region, grade, category in db.session.execute(stmt):
        ids[code] = enterprise_id
        rows.setdefault(code, [region, grade, []])[2].append(category)
    as_of = today()
    recent = _recently_sampled(category_ids, as_of, plan.exclusion_days)
    teams = _last_teams()
    candidates = [
        algorithm.Candidate(code, region, tuple(categories), grade or algorithm.DEFAULT_GRADE,
                            teams.get(ids[code], ()))
        for code, (region, grade, categories) in rows.items()
    ]
    return algorithm.apply_exclusion_window(candidates, recent, as_of, plan.exclusion_days), ids


def _sampled_at():
    """When a sample counts as taken: the visit, the refusal, or (still planned) the draw."""
    return func.coalesce(Sample.sampled_at, Sample.refused_at, Sample.drawn_at)


def _recently_sampled(category_ids: list[int], as_of, days: int) -> dict:
    """(credit code, category code) -> the regulator's date of its latest sample near the window.

    Rechecks (复查) are recorded on the failed sample itself, never as a new sample, so they
    never enter this window.
    """
    cutoff = utcnow() - timedelta(days=days + 1)
    stmt = (
        select(Enterprise.credit_code, Category.code, func.max(_sampled_at()))
        .join(Enterprise, Enterprise.id == Sample.enterprise_id)
        .join(Category, Category.id == Sample.category_id)
        .where(Sample.category_id.in_(category_ids), _sampled_at() >= cutoff)
        .group_by(Enterprise.credit_code, Category.code)
    )
    return {(code, category): local_date(when) for code, category, when in db.session.execute(stmt)}


def _last_teams() -> dict[int, tuple[str, ...]]:
    """Enterprise id -> inspector codes of the team of its latest visited (or refused) sample."""
    visited = func.coalesce(Sample.sampled_at, Sample.refused_at)
    stmt = (
        select(Sample.enterprise_id, Sample.id, Inspector.code)
        .join(sample_team, sample_team.c.sample_id == Sample.id)
        .join(Inspector, Inspector.id == sample_team.c.inspector_id)
        .where(visited.is_not(None))
        .order_by(Sample.enterprise_id, visited, Sample.id)
    )
    latest: dict[int, tuple[int, list[str]]] = {}
    for enterprise_id, sample_id, code in db.session.execute(stmt):
        current = latest.get(enterprise_id)
        if current is None or current[0] != sample_id:
            latest[enterprise_id] = (sample_id, [code])
        else:
            current[1].append(code)
    return {enterprise_id: tuple(codes) for enterprise_id, (_, codes) in latest.items()}


def _pools() -> tuple[list[algorithm.InspectorInfo], list[algorithm.LabInfo]]:
    inspectors = [algorithm.InspectorInfo(i.code, i.region, i.active) for i in db.session.scalars(select(Inspector))]
    labs = [
        algorithm.LabInfo(lab.code, tuple(lab.category_codes), lab.capacity)
        for lab in db.session.scalars(select(Lab).where(Lab.active.is_(True)).options(selectinload(Lab.categories)))
    ]
    return inspectors, labs


# --- the draw -----------------------------------------------------------------------------


def draw_plan(plan_id: int, public_entropy: str = "", actor: str | None = None) -> Draw:
    """Draw the plan: freeze the registry, pick enterprises, teams and labs, store it all at once."""
    plan = get_plan(plan_id)
    if plan.draw is not None:
        raise _already_drawn(plan_id)
    public_entropy = public_entropy or ""
    candidates, enterprise_ids = eligible_candidates(plan)
    inspectors, labs = _pools()
    rules = rules_of(plan)
    seed = algorithm.effective_seed(plan.server_seed, public_entropy)
    result = algorithm.run_draw(seed, plan.id, candidates, inspectors, labs, rules)
    draw = Draw(
        plan_id=plan.id, public_entropy=public_entropy, seed=seed, registry_hash=result.registry_hash,
        algorithm=result.algorithm, snapshot=draw_record(result, rules), drawn_by=actor or actor_name(),
        drawn_at=utcnow(),
    )
    try:
        db.session.add(draw)
        db.session.flush()  # a concurrent draw of the same plan fails here or at commit
        _store_selections(plan, draw, result.selections, enterprise_ids)
        record_event("draw", "plan", plan.id, actor=actor, after={
            "seed_commitment": plan.seed_commitment, "registry_hash": draw.registry_hash,
            "public_entropy": public_entropy, "selections": len(result.selections),
            "shortfalls": result.shortfalls,
        })
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _already_drawn(plan_id) from None
    return draw


def _already_drawn(plan_id: int) -> RuleViolation:
    return RuleViolation(f"plan {plan_id} has already been drawn; a draw is final (已抽取，不可重抽)",
                         {"plan_id": ["already drawn"]})


def _store_selections(plan: Plan, draw: Draw, selections, enterprise_ids: dict[str, int]) -> None:
    """One selection row, one ``planned`` sample and its team rows per drawn enterprise (bulk inserts)."""
    categories = {c.code: c.id for c in plan.categories}
    labs = dict(db.session.execute(select(Lab.code, Lab.id)).all())
    inspectors = dict(db.session.execute(select(Inspector.code, Inspector.id)).all())
    rows = [
        {"draw_id": draw.id, "position": position, "enterprise_id": enterprise_ids[chosen.credit_code],
         "credit_code": chosen.credit_code, "category_id": categories[chosen.category], "stratum": chosen.stratum,
         "ticket": chosen.ticket, "inspector_codes": list(chosen.inspectors), "lab_id": labs[chosen.lab]}
        for position, chosen in enumerate(selections, start=1)
    ]
    selection_ids = _insert_returning_ids(Selection, rows)
    sample_ids = _insert_returning_ids(Sample, [
        {"code": sample_code(plan, row["position"]), "plan_id": plan.id, "selection_id": selection_id,
         "enterprise_id": row["enterprise_id"], "category_id": row["category_id"], "period": plan.period,
         "level": plan.level, "kind": plan.kind, "source": "draw", "status": "planned", "lab_id": row["lab_id"],
         "drawn_at": draw.drawn_at}
        for row, selection_id in zip(rows, selection_ids, strict=True)
    ])
    db.session.execute(insert(sample_team), [
        {"sample_id": sample_id, "inspector_id": inspectors[code]}
        for sample_id, chosen in zip(sample_ids, selections, strict=True) for code in chosen.inspectors
    ])


def _insert_returning_ids(model, rows: list[dict]) -> list[int]:
    """Insert ``rows`` in batches and return their new ids, in the order of ``rows``."""
    if not rows:
        return []
    stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(db.session.scalars(stmt, rows))


def sample_code(plan: Plan, position: int) -> str:
    """The unique sample (抽样单) code of a plan's ``position``-th selection, e.g. ``2026Q4-P0007-00012``."""
    return f"{plan.period}-P{plan.id:04d}-{position:05d}"


def get_draw(plan_id: int) -> Draw:
    """The plan's draw, or a 404."""
    plan = get_plan(plan_id)
    if plan.draw is None:
        raise NotFound(f"plan {plan_id} has not been drawn yet (尚未抽取)", {"plan_id": ["not drawn"]})
    return plan.draw


def is_public(draw: Draw) -> bool:
    """A draw is public once a supervisor published it or no sample of its plan is still planned."""
    if draw.published_at is not None:
        return True
    planned = select(func.count()).select_from(Sample).where(Sample.plan_id == draw.plan_id,
                                                              Sample.status == "planned")
    return db.session.scalar(planned) == 0


def publish_draw(plan_id: int) -> Draw:
    """Make a draw public now (idempotent: publishing twice keeps the first time)."""
    draw = get_draw(plan_id)
    if draw.published_at is None:
        draw.published_at = utcnow()
        record_event("publish", "draw", plan_id, after={"published_at": draw.published_at})
        db.session.commit()
    return draw


def selection_rows(draw: Draw) -> list[dict]:
    """The published selections, in ticket order, with the lab code and the sample code."""
    stmt = (
        select(Selection, Lab.code, Sample.code, Category.code)
        .join(Lab, Lab.id == Selection.lab_id)
        .join(Category, Category.id == Selection.category_id)
        .outerjoin(Sample, Sample.selection_id == Selection.id)
        .where(Selection.draw_id == draw.id)
        .order_by(Selection.position)
    )
    return [
        {"credit_code": s.credit_code, "stratum": s.stratum, "ticket": s.ticket,
         "inspectors": list(s.inspector_codes), "lab": lab, "sample_code": sample, "category_code": category}
        for s, lab, sample, category in db.session.execute(stmt)
    ]


def draw_view(draw: Draw) -> dict:
    """The draw as ``GET /plans/{id}/draw`` shows it."""
    plan = draw.plan
    return {
        "plan_id": plan.id, "seed_commitment": plan.seed_commitment, "server_seed": plan.server_seed,
        "public_entropy": draw.public_entropy, "seed": draw.seed, "registry_hash": draw.registry_hash,
        "algorithm": draw.algorithm, "drawn_at": draw.drawn_at, "published_at": draw.published_at,
        "public": is_public(draw), "allocation": stored_record(draw)["allocation"],
        "selections": selection_rows(draw),
    }


def draw_record(result: algorithm.DrawResult, rules: algorithm.DrawRules) -> bytes:
    """What ``Draw.snapshot`` keeps, zlib-compressed canonical JSON: ``{allocation, registry, rules}``.

    The registry is the frozen eligible registry (its hash is ``Draw.registry_hash``), the rules
    are those the draw ran under (the risk weights of that day included). The registry's
    canonical text is reused as it is, not serialised a second time.
    """
    return zlib.compress(
        b'{"allocation":' + algorithm.canonical_json(result.allocation)
        + b',"registry":' + result.snapshot_json
        + b',"rules":' + algorithm.canonical_json(rules.to_dict()) + b"}"
    )


def stored_record(draw: Draw) -> dict:
    """The stored ``{allocation, registry, rules}`` of a draw (see ``draw_record``)."""
    return json.loads(zlib.decompress(draw.snapshot))


def export_draw(plan_id: int) -> dict:
    """The published draw file, which ``scripts/verify_draw.py`` checks on its own."""
    draw = get_draw(plan_id)
    plan = draw.plan
    record = stored_record(draw)
    return algorithm.make_export(
        plan={"id": plan.id, "name": plan.name, "level": plan.level, "kind": plan.kind, "period": plan.period,
              "category_codes": plan.category_codes, "regions": plan.regions,
              "exclusion_days": plan.exclusion_days},
        rules=algorithm.DrawRules.from_dict(record["rules"]),
        server_seed=plan.server_seed, public_entropy=draw.public_entropy, seed=draw.seed,
        registry_hash_value=draw.registry_hash, snapshot=record["registry"],
        drawn_at=draw.drawn_at.isoformat(), allocation=record["allocation"], selections=selection_rows(draw),
    )


def verify_plan_draw(plan_id: int) -> dict:
    """Recompute the stored draw from its stored snapshot and revealed seed."""
    mismatches = algorithm.verify_draw(export_draw(plan_id))
    return {"verified": not mismatches, "mismatches": mismatches}

