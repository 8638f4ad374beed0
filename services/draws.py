"""A plan's one 双随机 draw: run it, store it, and show, export, verify and publish it.

A draw is stored in one transaction (the draw, its selections and one ``planned`` sample per
selection, plus the audit event) or not at all. The unique ``draws.plan_id`` makes a second
draw of a plan fail even when two arrive at the same moment. The answer to a draw is built
from what was just computed, without reading anything back.

Who sees a draw: supervisors always; everyone once it is public (published by a supervisor,
or no sample of its plan still ``planned``).
"""

import json
import logging
import time
import zlib
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from extensions import db
from models.auth import User
from models.plans import Draw, Plan, Selection
from models.registry import Category, Enterprise, Lab
from models.samples import Sample, sample_team
from sampling import draw as algorithm
from sampling.enums import ROLES
from sampling.errors import DomainError, Forbidden, NotFound, RuleViolation
from services.audit import record_event
from services.bulk import insert_tuples
from services.eligibility import draw_registry
from services.plans import draw_rules, get_plan

log = logging.getLogger(__name__)

SUPERVISOR = "supervisor"
assert SUPERVISOR in ROLES, "roles are named in sampling.enums.ROLES"


class NotPublicYet(DomainError):
    """The draw is not public and no token was given (401)."""

    status = 401


# --- the draw -----------------------------------------------------------------------------


def draw_plan(plan_id: int, public_entropy: str, actor: str, now: datetime,
              progress: Callable[[str, int, int], object] | None = None) -> dict:
    """Draw the plan: freeze the registry, pick enterprises, teams and labs, store it all at once.

    Returns the draw as ``GET /plans/{id}/draw`` shows it, built from what was computed.
    ``progress(stage, done, total)`` is told each stage the draw enters (a background task shows it).
    """
    progress = progress or (lambda *_: None)
    plan = get_plan(plan_id)
    if plan.draw is not None:
        raise already_drawn(plan_id)
    public_entropy = public_entropy or ""
    laps = [time.perf_counter()]
    registry = draw_registry(plan, now)
    progress("drawing", 1, 3)
    laps.append(time.perf_counter())
    rules = draw_rules(plan)
    seed = algorithm.effective_seed(plan.server_seed, public_entropy)
    result = algorithm.draw_from_snapshot(seed, plan.id, registry.snapshot, rules, algorithm.ALGORITHM)
    progress("writing", 2, 3)
    laps.append(time.perf_counter())
    allocation = result.allocation
    draw = Draw(
        plan_id=plan.id, public_entropy=public_entropy, seed=seed, registry_hash=result.registry_hash,
        algorithm=result.algorithm, allocation=allocation, snapshot=draw_record(result, rules), drawn_by=actor,
        drawn_at=now,
    )
    try:
        db.session.add(draw)
        db.session.flush()  # a concurrent draw of the same plan fails here or at commit
        rows = _store_selections(plan, draw, result.selections, registry)
        record_event("draw", "plan", plan.id, actor=actor, after={
            "seed_commitment": plan.seed_commitment, "registry_hash": draw.registry_hash,
            "public_entropy": public_entropy, "selections": len(rows), "shortfalls": result.shortfalls,
        })
        answer = _view(plan, draw, allocation, rows, public=not rows)  # before the commit expires them
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise already_drawn(plan_id) from None
    progress("done", 3, 3)
    laps.append(time.perf_counter())
    log.info("plan %s drawn: %d eligible enterprises read in %.1f s, %d selections drawn in %.1f s, "
             "stored in %.1f s", plan_id, registry.enterprises, laps[1] - laps[0], len(rows), laps[2] - laps[1],
             laps[3] - laps[2])
    return answer


def already_drawn(plan_id: int) -> RuleViolation:
    """The 409 of a second draw (also a queued draw task's, ``services.tasks``)."""
    return RuleViolation(f"plan {plan_id} has already been drawn; a draw is final (已抽取，不可重抽)",
                         {"plan_id": ["already drawn"]})


def _store_selections(plan: Plan, draw: Draw, selections, registry) -> list[dict]:
    """One selection row, one ``planned`` sample and its team rows per drawn enterprise: ids
    reserved in one statement, then one statement per table (COPY on PostgreSQL). Returns the published rows."""
    selection_ids, sample_ids = reserve_ids((Selection.__table__, Sample.__table__), len(selections))
    published, selection_rows, sample_rows, team_rows = [], [], [], []
    fixed = (plan.id, plan.period, plan.level, plan.kind, "draw", "planned", draw.drawn_at)
    inspector_ids, enterprise_ids = registry.inspector_ids, registry.enterprise_ids
    for position, (chosen, selection_id, sample_id) in enumerate(
            zip(selections, selection_ids, sample_ids, strict=True), start=1):
        enterprise_id = enterprise_ids[chosen.credit_code]
        category_id, lab_id = registry.category_ids[chosen.category], registry.lab_ids[chosen.lab]
        code = sample_code(plan, position)
        selection_rows.append((selection_id, draw.id, position, enterprise_id, chosen.credit_code, category_id,
                               chosen.stratum, chosen.ticket, list(chosen.inspectors), lab_id))
        sample_rows.append((sample_id, code, selection_id, enterprise_id, category_id, lab_id, *fixed))
        team_rows.extend((sample_id, inspector_ids[i]) for i in chosen.inspectors)
        published.append({**chosen.to_dict(), "sample_code": code, "category_code": chosen.category})
    insert_tuples(Selection.__table__, SELECTION_COLUMNS, selection_rows)
    insert_tuples(Sample.__table__, SAMPLE_COLUMNS, sample_rows)
    insert_tuples(sample_team, ["sample_id", "inspector_id"], team_rows)
    return published


SELECTION_COLUMNS = ["id", "draw_id", "position", "enterprise_id", "credit_code", "category_id", "stratum", "ticket",
                     "inspector_codes", "lab_id"]
SAMPLE_COLUMNS = ["id", "code", "selection_id", "enterprise_id", "category_id", "lab_id", "plan_id", "period", "level",
                  "kind", "source", "status", "drawn_at"]


def reserve_ids(tables, count: int) -> list[list[int]]:
    """``count`` new primary keys for each of ``tables``, in one statement.

    PostgreSQL takes them from the tables' sequences; SQLite, whose writer holds the database
    lock once the transaction has written, continues from each table's largest id.
    """
    if count == 0:
        return [[] for _ in tables]
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        columns = ", ".join(f"nextval(pg_get_serial_sequence('{t.name}', 'id'))" for t in tables)
        rows = connection.execute(text(f"SELECT {columns} FROM generate_series(1, :n)"), {"n": count}).all()
        return [[row[n] for row in rows] for n in range(len(tables))]
    columns = ", ".join(f"(SELECT coalesce(max(id), 0) FROM {t.name})" for t in tables)
    tops = connection.execute(text(f"SELECT {columns}")).one()
    return [list(range(top + 1, top + 1 + count)) for top in tops]


def sample_code(plan: Plan, position: int) -> str:
    """The unique sample (抽样单) code of a plan's ``position``-th selection, e.g. ``2026Q4-P0007-00012``."""
    return f"{plan.period}-P{plan.id:04d}-{position:05d}"


def draw_record(result: algorithm.DrawResult, rules: algorithm.DrawRules) -> bytes:
    """What ``Draw.snapshot`` keeps, zlib-compressed canonical JSON: ``{allocation, registry, rules}``.

    The registry is the frozen eligible registry (its hash is ``Draw.registry_hash``), the rules
    are those the draw ran under (the risk weights of that day included). The registry's
    canonical text is reused as it is, not serialised a second time.
    """
    compressor = zlib.compressobj()
    pieces = (b'{"allocation":', algorithm.canonical_json(result.allocation), b',"registry":', result.snapshot_json,
              b',"rules":', algorithm.canonical_json(rules.to_dict()), b"}")
    return b"".join(map(compressor.compress, pieces)) + compressor.flush()


def stored_record(draw: Draw) -> dict:
    """The stored ``{allocation, registry, rules}`` of a draw (see ``draw_record``)."""
    return json.loads(zlib.decompress(draw.snapshot))


# --- reading a draw -----------------------------------------------------------------------


def get_draw(plan_id: int) -> Draw:
    """The plan's draw, or a 404."""
    draw = get_plan(plan_id).draw
    if draw is None:
        raise NotFound(f"plan {plan_id} has not been drawn yet (尚未抽取)", {"plan_id": ["not drawn"]})
    return draw


def is_public(draw: Draw) -> bool:
    """A draw is public once a supervisor published it or no sample of its plan is still planned."""
    if draw.published_at is not None:
        return True
    planned = select(func.count()).select_from(Sample).where(Sample.plan_id == draw.plan_id,
                                                              Sample.status == "planned")
    return db.session.scalar(planned) == 0


def visible_draw(plan_id: int, viewer: User | None) -> tuple[Draw, bool]:
    """The plan's draw and whether it is public, if ``viewer`` may see it: anyone once public,
    else supervisors only (401 without a token, 403 for another role)."""
    draw = get_draw(plan_id)
    public = is_public(draw)
    if not public:
        if viewer is None:
            raise NotPublicYet("The draw is not public yet; a supervisor token is required (抽取结果尚未公开)")
        if viewer.role != SUPERVISOR:
            raise Forbidden("The draw is not public yet (抽取结果尚未公开)")
    return draw, public


def selection_rows(draw: Draw) -> list[dict]:
    """The published selections, in ticket order, with the lab code and the sample code."""
    stmt = (
        select(Selection.credit_code, Selection.stratum, Selection.ticket, Selection.inspector_codes, Lab.code,
               Sample.code, Category.code)
        .join(Lab, Lab.id == Selection.lab_id)
        .join(Category, Category.id == Selection.category_id)
        .outerjoin(Sample, Sample.selection_id == Selection.id)
        .where(Selection.draw_id == draw.id)
        .order_by(Selection.position)
    )
    return [
        {"credit_code": code, "stratum": stratum, "ticket": ticket, "inspectors": list(inspectors), "lab": lab,
         "sample_code": sample, "category_code": category}
        for code, stratum, ticket, inspectors, lab, sample, category in db.session.execute(stmt)
    ]


def _view(plan: Plan, draw: Draw, allocation: dict, selections: list[dict], public: bool) -> dict:
    return {
        "plan_id": plan.id, "seed_commitment": plan.seed_commitment, "server_seed": plan.server_seed,
        "public_entropy": draw.public_entropy, "seed": draw.seed, "registry_hash": draw.registry_hash,
        "algorithm": draw.algorithm, "drawn_at": draw.drawn_at, "published_at": draw.published_at,
        "public": public, "allocation": allocation, "selections": selections,
    }


def draw_view(plan_id: int, viewer: User | None) -> dict:
    """The draw as ``GET /plans/{id}/draw`` shows it, if ``viewer`` may see it."""
    draw, public = visible_draw(plan_id, viewer)
    return _view(draw.plan, draw, draw.allocation, selection_rows(draw), public)


def publish_draw(plan_id: int, actor: str, now: datetime) -> dict:
    """Make a draw public now (idempotent: publishing twice keeps the first time)."""
    draw = get_draw(plan_id)
    if draw.published_at is None:
        draw.published_at = now
        record_event("publish", "draw", plan_id, after={"published_at": now}, actor=actor)
        db.session.commit()
    return _view(draw.plan, draw, draw.allocation, selection_rows(draw), True)


def export_file(plan_id: int, viewer: User | None) -> bytes:
    """The draw file (UTF-8 JSON), which ``scripts/verify_draw.py`` checks on its own.

    A public draw never changes: its file is made once, kept with the draw, and served from there.
    """
    draw, public = visible_draw(plan_id, viewer)
    if public and draw.export_file is not None:
        return zlib.decompress(draw.export_file)
    text = json.dumps(_export(draw), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if public:
        draw.export_file = zlib.compress(text)
        db.session.commit()
    return text


def _export(draw: Draw) -> dict:
    plan = draw.plan
    record = stored_record(draw)
    return algorithm.make_export(
        plan={"id": plan.id, "name": plan.name, "level": plan.level, "kind": plan.kind, "period": plan.period,
              "stage": plan.stage, "category_codes": plan.category_codes, "regions": plan.regions,
              "exclusion_days": plan.exclusion_days, "uncovered_only": plan.uncovered_only},
        rules=algorithm.DrawRules.from_dict(record["rules"]),
        server_seed=plan.server_seed, public_entropy=draw.public_entropy, seed=draw.seed,
        registry_hash_value=draw.registry_hash, snapshot=record["registry"],
        drawn_at=draw.drawn_at.isoformat(), allocation=record["allocation"], selections=selection_rows(draw),
        algorithm=draw.algorithm,
    )


def verify_plan_draw(plan_id: int, viewer: User | None) -> dict:
    """Recompute the stored draw from its stored snapshot and revealed seed, if ``viewer`` may see it.

    A public draw is recomputed once and its verification kept with it: a public request can
    no longer make the server redo the whole draw (anyone can still redo it with the script).
    """
    draw, public = visible_draw(plan_id, viewer)
    if public and draw.verification is not None:
        return draw.verification
    result = verification(draw)
    if public:
        draw.verification = result
        db.session.commit()
    return result


def verify_stored_draw(plan_id: int) -> dict:
    """The verification of a plan's draw for the system itself (CLI, benchmark), whoever may see it."""
    return verification(get_draw(plan_id))


def verification(draw: Draw) -> dict:
    """``{verified, mismatches}``: the draw recomputed from its stored snapshot and revealed seed."""
    mismatches = algorithm.verify_draw(_export(draw))
    return {"verified": not mismatches, "mismatches": mismatches}


def public_draw(plan_id: int, page: int, page_size: int) -> dict | None:
    """The public page's draw of ``plan_id``: the plan, the draw and one page of its selections with
    the names a citizen reads (enterprise, category, lab; inspectors by code only, never by name).
    None when there is no draw or it is not public yet."""
    plan = db.session.scalar(select(Plan).where(Plan.id == plan_id).options(joinedload(Plan.draw)))
    if plan is None or plan.draw is None or not is_public(plan.draw):
        return None
    draw = plan.draw
    total = db.session.scalar(select(func.count()).select_from(Selection).where(Selection.draw_id == draw.id))
    stmt = (
        select(Selection.position, Selection.credit_code, Selection.stratum, Selection.ticket,
               Selection.inspector_codes, Enterprise.name, Category.code, Category.name, Lab.name, Sample.code)
        .join(Enterprise, Enterprise.id == Selection.enterprise_id)
        .join(Category, Category.id == Selection.category_id)
        .join(Lab, Lab.id == Selection.lab_id)
        .outerjoin(Sample, Sample.selection_id == Selection.id)
        .where(Selection.draw_id == draw.id)
        .order_by(Selection.position)
        .offset((page - 1) * page_size).limit(page_size)
    )
    selections = []
    for row in db.session.execute(stmt):
        parts = row.stratum.split(algorithm.STRATUM_SEPARATOR)  # region|category[|grade]
        selections.append({
            "position": row.position, "credit_code": row.credit_code, "enterprise_name": row[5], "region": parts[0],
            "category_code": row[6], "category_name": row[7], "grade": parts[2] if len(parts) > 2 else None,
            "ticket": row.ticket, "inspectors": list(row.inspector_codes), "lab_name": row[8], "sample_code": row[9],
        })
    return {"plan": plan, "draw": _view(plan, draw, draw.allocation, [], True), "selections": selections,
            "total": total, "page": page, "page_size": page_size}
