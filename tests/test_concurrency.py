"""Concurrent writers on PostgreSQL: nothing lost, duplicates refused, a plan drawn once.

Each thread uses its own test client, hence its own app context, session and connection; a
barrier releases them together. SQLite serialises writers, so these run on PostgreSQL only.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from models.audit import AuditEvent
from models.registry import Enterprise
from sampling.credit_code import make_code

pytestmark = pytest.mark.postgres  # skips by itself on SQLite


def together(app, requests: list) -> list:
    """Send ``requests`` (callables taking a client) at once from as many threads; their responses."""
    barrier = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def run(n, send):
        with app.test_client() as client:
            barrier.wait()
            answers[n] = send(client)

    threads = [threading.Thread(target=run, args=(n, send)) for n, send in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    return answers


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def enterprise_body(n: int, category: str) -> dict:
    return {"credit_code": make_code(f"91441900MA{n:07d}"), "name": f"东莞市并发{n}有限公司", "region": "南城街道",
            "category_codes": [category]}


def test_parallel_creations_of_different_enterprises_lose_none(app, auth, factory):
    category = factory.category().code
    sup = auth.headers("supervisor")
    bodies = [enterprise_body(n, category) for n in range(24)]
    answers = together(app, [lambda c, b=b: c.post("/api/v1/enterprises", json=b, headers=sup) for b in bodies])
    assert [a.status_code for a in answers] == [201] * len(bodies)
    assert count(Enterprise) == len(bodies)
    assert count(AuditEvent, AuditEvent.entity_type == "enterprise") == len(bodies)
    verified = app.test_client().get("/api/v1/audit/verify", headers=sup)
    assert verified.status_code == 200 and verified.json["verified"] is True


def test_parallel_identical_creations_give_one_201_and_409s(app, auth, factory):
    category = factory.category().code
    sup = auth.headers("supervisor")
    body = enterprise_body(1, category)
    answers = together(app, [lambda c: c.post("/api/v1/enterprises", json=body, headers=sup) for _ in range(12)])
    assert sorted(a.status_code for a in answers) == [201] + [409] * 11
    assert all(set(a.json) == {"code", "status", "message", "errors"} for a in answers if a.status_code == 409)
    assert count(Enterprise) == 1
    assert count(AuditEvent, AuditEvent.entity_type == "enterprise") == 1


def test_parallel_results_for_different_samples_lose_none(app, auth, factory):
    from lifecycle_factory import make_world

    from models.samples import Result

    world = make_world(factory)
    samples = [world.samples[0], *(world.sample() for _ in range(11))]
    insp = auth.headers("inspector", inspector=world.team[0])
    lab = auth.headers("lab", lab=world.lab)
    client = app.test_client()
    base = datetime.now(UTC) - timedelta(days=30)
    for sample in samples:
        visit = client.post(f"/api/v1/samples/{sample.code}/sampling", headers=insp, json={
            "sampled_at": base.isoformat(), "stage": "production", "product_name": "电热水壶", "quantity": 4,
            "inspector_codes": [world.team[0].code, world.team[1].code]})
        assert visit.status_code == 200, visit.json
        receipt = client.post(f"/api/v1/samples/{sample.code}/receipt", headers=lab,
                              json={"received_at": (base + timedelta(days=1)).isoformat()})
        assert receipt.status_code == 200, receipt.json

    def result(code, n):
        return lambda c: c.post(f"/api/v1/samples/{code}/result", headers={**lab, "Idempotency-Key": f"r-{n}"}, json={
            "report_no": f"R-{n:03d}", "tested_at": (base + timedelta(days=5)).isoformat(), "items": [
                {"name": "泄漏电流", "requirement": "≤ 0.75", "measured": "0.31", "unit": "mA", "verdict": "pass"}]})

    answers = together(app, [result(s.code, n) for n, s in enumerate(samples)])
    assert [a.status_code for a in answers] == [200] * len(samples), [a.json for a in answers if a.status_code != 200]
    assert count(Result) == len(samples)
    for sample in samples:
        stored = client.get(f"/api/v1/samples/{sample.code}", headers=auth.headers("supervisor")).json
        assert stored["status"] == "tested" and stored["verdict"] == "pass"


def test_two_draws_of_one_plan_at_once_give_one(app, auth, factory):
    from models.plans import Draw
    from models.samples import Sample

    categories = [factory.category(code=f"DQ-{n}") for n in range(2)]
    for n in range(30):
        factory.enterprise([categories[n % 2]], region=("南城街道", "东城街道")[n % 2])
    for n in range(9):  # load caps with slack, so that no draw can dead-end on the team rule
        factory.inspector(region=("南城街道", "东城街道", "莞城街道")[n % 3])
    factory.lab(categories, capacity=100)
    sup = auth.headers("supervisor")
    plan = app.test_client().post("/api/v1/plans", headers=sup, json={
        "name": "并发抽取", "level": "municipal", "kind": "routine", "period": "2026Q4",
        "category_codes": [c.code for c in categories], "sample_size": 10, "avoid_same_region": False})
    assert plan.status_code == 201, plan.json
    url = f"/api/v1/plans/{plan.json['id']}/draw"
    answers = together(app, [lambda c: c.post(url, json={}, headers=sup) for _ in range(4)])
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.json for a in answers]
    assert count(Draw) == 1
    assert count(Sample) == 10
