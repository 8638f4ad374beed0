"""Plans and the draw over HTTP: create, draw once, read, verify, export, publish, who sees what."""

import json
import subprocess
import sys
import threading
import zlib
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from blueprints.plans import DrawSchema
from extensions import db
from models.audit import AuditEvent
from models.auth import User
from models.plans import Draw, Plan, Selection
from models.samples import Sample
from sampling import draw as algorithm
from sampling.credit_code import make_code
from services import draws
from tests.plans_factory import REGIONS, fix_server_seeds, plans_world

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "verify_draw.py"


@pytest.fixture(autouse=True)
def fixed_server_seeds(monkeypatch):
    fix_server_seeds(monkeypatch, "test-plan")


@pytest.fixture
def world(factory):
    return plans_world(factory)


def plan_body(**overrides):
    body = {"name": "2026年第四季度服装五金产品监督抽查", "level": "municipal", "kind": "routine",
            "period": "2026Q4", "category_codes": ["FZ-01", "WJ-01"], "sample_size": 8}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def create_plan(client, headers, **overrides):
    response = client.post("/api/v1/plans", json=plan_body(**overrides), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def counts():
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Draw, Selection, Sample))


# --- plans --------------------------------------------------------------------------------


def test_create_plan_returns_the_commitment_and_keeps_the_seed_secret(client, auth, world):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup, regions=["虎门镇", "长安镇"], risk_weighting=True)
    assert len(plan["seed_commitment"]) == 64 and int(plan["seed_commitment"], 16) >= 0
    assert plan["exclusion_days"] == 180 and plan["team_size"] == 2 and plan["drawn"] is False
    assert plan["stage"] == "production" and plan["uncovered_only"] is False and plan["window_start"] is None
    assert plan["avoid_same_region"] is True and plan["risk_weighting"] is True
    assert "server_seed" not in plan
    public = client.get(f"/api/v1/plans/{plan['id']}")
    assert public.status_code == 200 and public.get_json()["seed_commitment"] == plan["seed_commitment"]
    assert "server_seed" not in public.get_json()
    listed = client.get("/api/v1/plans")
    assert [p["id"] for p in listed.get_json()] == [plan["id"]]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1
    stored = db.session.get(Plan, plan["id"])
    assert stored.seed_commitment != stored.server_seed


@pytest.mark.parametrize("overrides, field", [
    ({"sample_size": None}, "sample_size"),
    ({"sampling_ratio": 0.1}, "sampling_ratio"),
    ({"sample_size": None, "grade_ratios": {"A": 0.1}, "sampling_ratio": 0.2}, "grade_ratios"),
    ({"sample_size": None, "grade_ratios": {"E": 0.1}}, "grade_ratios"),
    ({"sample_size": None, "sampling_ratio": 1.5}, "sampling_ratio"),
    ({"period": "2026-Q4"}, "period"),
    ({"team_size": 1}, "team_size"),
    ({"level": "county"}, "level"),
    ({"category_codes": []}, "category_codes"),
])
def test_bad_plan_bodies_are_422_on_the_field(client, auth, world, overrides, field):
    response = client.post("/api/v1/plans", json=plan_body(**overrides), headers=auth.headers("supervisor"))
    assert response.status_code == 422
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert any(field in key for key in body["errors"]), body
    assert db.session.scalar(select(func.count()).select_from(Plan)) == 0


def test_a_plan_keeps_its_stage_sampling_window_and_coverage_limit(client, auth, world):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup, stage="cross_border", window_start="2026-10-01", window_end="2027-02-28",
                       team_size=3, avoid_same_region=False)
    again = client.get(f"/api/v1/plans/{plan['id']}").get_json()
    assert create_plan(client, sup, uncovered_only=True)["uncovered_only"] is True
    for body in (plan, again):
        assert body["stage"] == "cross_border" and body["uncovered_only"] is False
        assert (body["window_start"], body["window_end"]) == ("2026-10-01", "2027-02-28")
        assert body["team_size"] == 3 and body["avoid_same_region"] is False and body["risk_weighting"] is False


@pytest.mark.parametrize("overrides, field", [
    ({"stage": "retail"}, "stage"),
    ({"window_start": "2026-12-01", "window_end": "2026-11-30"}, "window_end"),
    ({"window_start": "2026-13-01"}, "window_start"),
])
def test_bad_stage_or_window_is_422_with_nothing_stored(client, auth, world, overrides, field):
    response = client.post("/api/v1/plans", json=plan_body(**overrides), headers=auth.headers("supervisor"))
    assert response.status_code == 422, response.get_json()
    assert any(field in key for key in response.get_json()["errors"]), response.get_json()
    assert db.session.scalar(select(func.count()).select_from(Plan)) == 0


def test_unknown_category_code_is_422_on_that_field(client, auth, world):
    response = client.post("/api/v1/plans", json=plan_body(category_codes=["FZ-01", "NOPE"]),
                           headers=auth.headers("supervisor"))
    assert response.status_code == 422
    assert "NOPE" in json.dumps(response.get_json()["errors"]["category_codes"])


def test_only_supervisors_create_plans(client, auth, world):
    assert client.post("/api/v1/plans", json=plan_body()).status_code == 401
    insp = auth.headers("inspector", inspector=world["inspectors"][0])
    assert client.post("/api/v1/plans", json=plan_body(), headers=insp).status_code == 403
    assert client.get("/api/v1/plans/999").status_code == 404


# --- the draw -------------------------------------------------------------------------------


def test_draw_stores_selections_and_planned_samples(client, auth, world):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup, risk_weighting=True)
    response = client.post(f"/api/v1/plans/{plan['id']}/draw", json={"public_entropy": "双色球 03 11 19"},
                           headers=sup)
    assert response.status_code == 201, response.get_json()
    drawn = response.get_json()
    assert drawn["seed_commitment"] == plan["seed_commitment"]
    assert drawn["public_entropy"] == "双色球 03 11 19"
    assert len(drawn["selections"]) == 8 and sum(drawn["allocation"].values()) == 8
    assert len({s["credit_code"] for s in drawn["selections"]}) == 8
    region_of = {i.code: i.region for i in world["inspectors"]}
    samples = {s.code: s for s in db.session.scalars(select(Sample))}
    for sel in drawn["selections"]:
        region = sel["stratum"].split("|")[0]
        assert len(sel["inspectors"]) == 2 and all(region_of[c] != region for c in sel["inspectors"])
        sample = samples[sel["sample_code"]]
        assert sample.status == "planned" and sample.period == "2026Q4" and sample.level == "municipal"
        assert sample.enterprise.credit_code == sel["credit_code"] and sample.lab.code == sel["lab"]
        assert sorted(i.code for i in sample.team) == sorted(sel["inspectors"])
        assert sample.category.code == sel["stratum"].split("|")[1]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "draw")) == 1
    # the stored record is canonical JSON, its registry the one the hash covers
    stored = zlib.decompress(db.session.scalar(select(Draw.snapshot)))
    record = json.loads(stored)
    assert stored == algorithm.canonical_json(record)
    assert algorithm.registry_hash(record["registry"]) == drawn["registry_hash"]
    assert record["allocation"] == drawn["allocation"] and record["rules"]["risk_weighting"] is True
    assert client.get(f"/api/v1/plans/{plan['id']}").get_json()["drawn"] is True


def test_the_draw_answers_from_what_it_computed_without_reading_it_back(client, auth, world):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        response = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert response.status_code == 201, response.get_json()
    stored = next(n for n, s in enumerate(statements) if s.startswith("INSERT INTO draws"))
    after = [s for s in statements[stored:] if s.startswith("SELECT")]
    # after the draw row: reserving ids and the audit chain's last hash, nothing read back
    assert not [s for s in after if any(f"FROM {t}" in s for t in ("draws", "plans", "samples ", "selections "))
                and "max(id)" not in s], after
    # every row of the draw goes in with one statement per table, whatever the number of selections
    # (on PostgreSQL by COPY, which the driver sends without SQLAlchemy seeing a statement)
    inserts = Counter(s.split()[2] for s in statements if s.startswith("INSERT"))
    assert inserts["draws"] == inserts["audit_events"] == 1
    assert all(inserts[table] <= 1 for table in ("selections", "samples", "sample_team")) and len(inserts) <= 5
    assert response.get_json() == client.get(f"/api/v1/plans/{plan['id']}/draw", headers=sup).get_json()
    # written without marshmallow for speed, yet exactly what the documented schema gives
    supervisor = db.session.scalar(select(User).where(User.role == "supervisor"))
    assert response.get_json() == DrawSchema().dump(draws.draw_view(plan["id"], supervisor))


def test_a_second_draw_is_409_and_changes_nothing(client, auth, world):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)
    first = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup)
    assert first.status_code == 201
    before = counts()
    second = client.post(f"/api/v1/plans/{plan['id']}/draw", json={"public_entropy": "again"}, headers=sup)
    assert second.status_code == 409
    assert second.get_json()["code"] == 409 and "already" in second.get_json()["message"]
    assert counts() == before
    again = client.get(f"/api/v1/plans/{plan['id']}/draw", headers=sup).get_json()
    assert again["public_entropy"] == "" and again["selections"] == first.get_json()["selections"]


@pytest.mark.parametrize("overrides, setup, rule", [
    ({"regions": ["松山湖"]}, None, "eligible_enterprises"),
    ({"sample_size": 31}, None, "sample_size"),
    ({"team_size": 11}, None, "avoid_same_region"),
    ({"sample_size": 30}, "one_lab", "lab_capacity"),
])
def test_unsatisfiable_rules_are_409_naming_the_rule_with_nothing_stored(client, auth, world, overrides, setup,
                                                                         rule):
    sup = auth.headers("supervisor")
    if setup == "one_lab":
        world["labs"][0].active = False
        db.session.commit()
    plan = create_plan(client, sup, **overrides)
    before_events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup)
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["errors"]["rule"] == [rule]
    assert counts() == (0, 0, 0)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before_events


def test_no_accredited_lab_names_the_enterprise_and_stratum(client, auth, world):
    sup = auth.headers("supervisor")
    for lab in world["labs"]:
        lab.active = False
    db.session.commit()
    plan = create_plan(client, sup, sample_size=3)
    body = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup).get_json()
    assert body["code"] == 409 and body["errors"]["rule"] == ["lab_accreditation"]
    assert body["errors"]["credit_code"][0] in body["message"]
    assert body["errors"]["stratum"][0].split("|")[0] in REGIONS


def test_exclusion_window_and_last_team_shape_the_next_draw(client, auth, world):
    sup = auth.headers("supervisor")
    first = create_plan(client, sup, sample_size=10, category_codes=["FZ-01"])
    drawn = client.post(f"/api/v1/plans/{first['id']}/draw", json={}, headers=sup).get_json()
    first_codes = {s["credit_code"] for s in drawn["selections"]}
    # the enterprises were visited 10 days ago: inside the 180-day window, and the team is recorded
    visited = datetime.now(UTC) - timedelta(days=10)
    for sample in db.session.scalars(select(Sample)):
        sample.status, sample.sampled_at = "sampled", visited
    db.session.commit()
    second = create_plan(client, sup, sample_size=10, category_codes=["FZ-01"])
    drawn2 = client.post(f"/api/v1/plans/{second['id']}/draw", json={}, headers=sup).get_json()
    assert "selections" in drawn2, drawn2
    assert {s["credit_code"] for s in drawn2["selections"]}.isdisjoint(first_codes)
    # with no window, the same enterprises may come back, never with the team that visited them
    third = create_plan(client, sup, sample_size=12, category_codes=["FZ-01"], exclusion_days=0)
    response = client.post(f"/api/v1/plans/{third['id']}/draw", json={}, headers=sup)
    assert response.status_code == 201, response.get_json()
    last_team = {s["credit_code"]: set(s["inspectors"]) for s in drawn["selections"]}
    for sel in response.get_json()["selections"]:
        assert not set(sel["inspectors"]) & last_team.get(sel["credit_code"], set())


def visited_days_ago(days: int) -> None:
    """Every planned sample visited ``days`` ago, by its drawn team."""
    for sample in db.session.scalars(select(Sample).where(Sample.status == "planned")):
        sample.status, sample.sampled_at = "sampled", datetime.now(UTC) - timedelta(days=days)
    db.session.commit()


def drawn_codes(response) -> set[str]:
    assert response.status_code == 201, response.get_json()
    return {s["credit_code"] for s in response.get_json()["selections"]}


def test_only_a_check_of_the_same_or_a_higher_level_keeps_an_enterprise_out(client, auth, world):
    sup = auth.headers("supervisor")

    def draw(level, size):
        plan = create_plan(client, sup, level=level, sample_size=size, category_codes=["FZ-01"])
        return client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup)

    municipal = drawn_codes(draw("municipal", 10))
    visited_days_ago(10)
    # a municipal check does not keep anyone out of a provincial one: all 30 can be drawn
    provincial = drawn_codes(draw("provincial", 30))
    assert municipal < provincial
    visited_days_ago(5)
    # the provincial check keeps every enterprise out of a municipal and a provincial draw ...
    for level in ("municipal", "provincial"):
        refused = draw(level, 1)
        assert refused.status_code == 409 and refused.get_json()["errors"]["rule"] == ["eligible_enterprises"]
    # ... but not out of a national one
    assert len(drawn_codes(draw("national", 30))) == 30


def test_a_plan_naming_a_parent_category_draws_the_enterprises_of_its_children(client, auth, factory, world):
    sup = auth.headers("supervisor")
    parent = factory.category(code="JD", name="家用电器")
    kettle = factory.category(code="JD-01", name="电水壶", parent=parent)
    heater = factory.category(code="JD-02", name="电暖器", parent=parent)
    grandchild = factory.category(code="JD-02-1", name="油汀", parent=heater)
    members = [factory.enterprise([(kettle, heater, grandchild)[i % 3]], region=REGIONS[i % 3],
                                  credit_code=make_code(f"91441900{900 + i:09d}")) for i in range(9)]
    factory.lab([parent], code="LAB-JD")  # accredited for the parent: it may test every child
    plan = create_plan(client, sup, category_codes=["JD"], sample_size=None, sampling_ratio=1)
    response = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup)
    assert drawn_codes(response) == {e.credit_code for e in members}
    selections = response.get_json()["selections"]
    assert {s["category_code"] for s in selections} == {"JD-01", "JD-02", "JD-02-1"}
    assert {s["lab"] for s in selections} == {"LAB-JD"}
    assert all(s["stratum"].endswith("|" + s["category_code"]) for s in selections)
    verdict = client.get(f"/api/v1/plans/{plan['id']}/draw/verify", headers=sup).get_json()
    assert verdict == {"verified": True, "mismatches": []}


@pytest.mark.parametrize("stage, kind", [("production", "producer"), ("distribution", "seller"),
                                         ("online", "online_shop"), ("cross_border", "importer")])
def test_a_plan_draws_the_kind_of_enterprise_its_stage_names(client, auth, factory, world, stage, kind):
    sup = auth.headers("supervisor")
    fz = world["categories"][0]
    others = {
        "seller": [factory.enterprise([fz], kinds=["seller"], region=REGIONS[i % 3]) for i in range(4)],
        "online_shop": [factory.enterprise([fz], kinds=["online_shop"], platform="淘宝", shop_id=f"S{i}",
                                           region=REGIONS[i % 3]) for i in range(3)],
        "importer": [factory.enterprise([fz], kinds=["importer", "seller"], region=REGIONS[i % 3]) for i in range(2)],
    }
    expected = {
        "producer": {e.credit_code for e in world["enterprises"]},
        "seller": {e.credit_code for e in others["seller"] + others["importer"]},
        "online_shop": {e.credit_code for e in others["online_shop"]},
        "importer": {e.credit_code for e in others["importer"]},
    }[kind]
    plan = create_plan(client, sup, stage=stage, category_codes=["FZ-01"], sample_size=None, sampling_ratio=1)
    assert drawn_codes(client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup)) == expected


def test_an_uncovered_only_plan_draws_the_producers_of_key_categories_not_sampled_yet(client, auth, world):
    sup = auth.headers("supervisor")
    fz, wj = world["categories"]
    fz.key_supervised = True  # WJ-01 is not a key category
    db.session.commit()
    first = create_plan(client, sup, category_codes=["FZ-01"], sample_size=10)
    covered = drawn_codes(client.post(f"/api/v1/plans/{first['id']}/draw", json={}, headers=sup))
    visited_days_ago(300)  # outside the 180-day exclusion window, inside the 2-year coverage window
    plan = create_plan(client, sup, category_codes=["FZ-01", "WJ-01"], sample_size=None, sampling_ratio=1,
                       uncovered_only=True)
    response = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup)
    expected = {e.credit_code for e in world["enterprises"]} - covered
    assert drawn_codes(response) == expected and len(expected) == 20
    assert {s["category_code"] for s in response.get_json()["selections"]} == {"FZ-01"}
    assert client.get(f"/api/v1/plans/{plan['id']}/draw/verify", headers=sup).get_json()["verified"] is True
    # without the limit the covered producers are drawable again (their check was 300 days ago), while
    # the 20 just drawn are inside the exclusion window
    every = create_plan(client, sup, category_codes=["FZ-01"], sample_size=None, sampling_ratio=1)
    assert drawn_codes(client.post(f"/api/v1/plans/{every['id']}/draw", json={}, headers=sup)) == covered


def test_uncovered_only_is_for_production_plans(client, auth, world):
    response = client.post("/api/v1/plans", json=plan_body(uncovered_only=True, stage="distribution"),
                           headers=auth.headers("supervisor"))
    assert response.status_code == 422 and "uncovered_only" in response.get_json()["errors"]


def post_signals(client, sup, enterprise, n, category="FZ-01", on=None):
    for _ in range(n):
        response = client.post("/api/v1/signals", headers=sup, json={
            "date": (on or date.today() - timedelta(days=30)).isoformat(), "credit_code": enterprise.credit_code,
            "category_code": category, "source": "complaint", "summary": "消费者投诉"})
        assert response.status_code == 201, response.get_json()


def test_risk_signals_raise_the_weight_and_the_draw_verifies_from_its_file(client, auth, world, tmp_path):
    sup = auth.headers("supervisor")
    many, two, stale, elsewhere = world["enterprises"][:4]
    post_signals(client, sup, many, 7)  # capped at 5: the weight doubles
    post_signals(client, sup, two, 2)
    post_signals(client, sup, stale, 3, on=date.today() - timedelta(days=400))  # older than 12 months
    post_signals(client, sup, elsewhere, 3, category="WJ-01")  # not a plan category
    plan = create_plan(client, sup, category_codes=["FZ-01"], sample_size=10, risk_weighting=True)
    drawn = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup).get_json()
    export = client.get(f"/api/v1/plans/{plan['id']}/draw/export", headers=sup).get_json()
    signals = {code: int(digit) for row in export["registry"]["strata"]
               for code, digit in zip(row[2], row[4], strict=True)}
    assert signals[many.credit_code] == 5 and signals[two.credit_code] == 2
    assert signals[stale.credit_code] == 0 and signals[elsewhere.credit_code] == 0
    assert sum(signals.values()) == 7
    grade = {e.credit_code: e.credit_grade for e in world["enterprises"]}
    weights = export["rules"]["risk_weights"]
    for sel in drawn["selections"]:
        weight = weights[grade[sel["credit_code"]]] * (1 + signals[sel["credit_code"]] / 5)
        assert sel["ticket"] == algorithm.ticket(drawn["seed"], plan["id"], sel["credit_code"], weight)
    path = tmp_path / "weighted.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", str(SCRIPT), str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    # one signal digit changed in the file: the registry hash no longer holds
    export["registry"]["strata"][0][4] = "5" * len(export["registry"]["strata"][0][2])
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    assert subprocess.run([sys.executable, "-I", str(SCRIPT), str(path)], capture_output=True).returncode == 1


# --- visibility, verification, export -----------------------------------------------------------


def test_the_draw_is_for_supervisors_until_published(client, auth, world):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)
    url = f"/api/v1/plans/{plan['id']}/draw"
    assert client.get(url, headers=sup).status_code == 404
    client.post(url, json={}, headers=sup)
    lab = auth.headers("lab", lab=world["labs"][0])
    for path in ("", "/verify", "/export"):
        assert client.get(url + path).status_code == 401
        assert client.get(url + path, headers=lab).status_code == 403
        assert client.get(url + path, headers=sup).status_code == 200
    assert client.get(f"/draws/{plan['id']}").status_code == 404
    assert client.post(url + "/publish", headers=lab).status_code == 403
    published = client.post(url + "/publish", headers=sup)
    assert published.status_code == 200 and published.get_json()["public"] is True
    again = client.post(url + "/publish", headers=sup).get_json()
    assert again["published_at"] == published.get_json()["published_at"]
    for path in ("", "/verify", "/export"):
        assert client.get(url + path).status_code == 200
    assert client.get(url).get_json()["server_seed"]


def test_the_draw_becomes_public_once_no_sample_is_planned(client, auth, world):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup, sample_size=3)
    client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup)
    samples = db.session.scalars(select(Sample)).all()
    for sample in samples[:-1]:
        sample.status = "sampled"
    db.session.commit()
    assert client.get(f"/api/v1/plans/{plan['id']}/draw").status_code == 401
    samples[-1].status = "refused"
    db.session.commit()
    assert client.get(f"/api/v1/plans/{plan['id']}/draw").status_code == 200


def test_verify_recomputes_the_stored_draw_and_catches_an_edit(client, auth, world):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup, sample_size=None, grade_ratios={"A": 0.5, "D": 0.5})
    first = client.post(f"/api/v1/plans/{plan['id']}/draw", json={"public_entropy": "7 7 7"}, headers=sup)
    assert first.status_code == 201, first.get_json()
    verdict = client.get(f"/api/v1/plans/{plan['id']}/draw/verify", headers=sup).get_json()
    assert verdict == {"verified": True, "mismatches": []}
    # someone edits a stored team behind the service's back: verification says so
    selection = db.session.scalars(select(Selection).order_by(Selection.position)).first()
    selection.inspector_codes = list(reversed(selection.inspector_codes))
    db.session.commit()
    verdict = client.get(f"/api/v1/plans/{plan['id']}/draw/verify", headers=sup).get_json()
    assert verdict["verified"] is False and "inspectors" in verdict["mismatches"][0]


def test_a_draw_made_with_version_1_still_verifies_and_an_edited_team_does_not(client, auth, world, monkeypatch,
                                                                                tmp_path):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup, sample_size=12, risk_weighting=True)
    monkeypatch.setattr(algorithm, "ALGORITHM", algorithm.ALGORITHM_V1)  # a draw made before version 2
    drawn = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup).get_json()
    monkeypatch.undo()
    assert drawn["algorithm"] == "sha256-exp-tickets/1"
    assert db.session.scalar(select(Draw.algorithm)) == "sha256-exp-tickets/1"
    url = f"/api/v1/plans/{plan['id']}/draw"
    assert client.get(url + "/verify", headers=sup).get_json() == {"verified": True, "mismatches": []}
    export = client.get(url + "/export", headers=sup).get_json()
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", str(SCRIPT), str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    # someone gives the first selection another team behind the service's back
    selection = db.session.scalars(select(Selection).order_by(Selection.position)).first()
    selection.inspector_codes = [c for c in (i.code for i in world["inspectors"])
                                 if c not in selection.inspector_codes][:2]
    db.session.commit()
    verdict = client.get(url + "/verify", headers=sup).get_json()
    assert verdict["verified"] is False and "inspectors" in verdict["mismatches"][0]


def test_the_export_verifies_with_the_standalone_script_and_fails_when_edited(client, auth, world, tmp_path):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup, sample_size=None, sampling_ratio=0.2, risk_weighting=True)
    client.post(f"/api/v1/plans/{plan['id']}/draw", json={"public_entropy": "福彩3D 5 2 8"}, headers=sup)
    response = client.get(f"/api/v1/plans/{plan['id']}/draw/export", headers=sup)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    export = response.get_json()
    assert export["seed_commitment"] == plan["seed_commitment"]
    assert all(s["sample_code"] for s in export["selections"])

    def run(document):
        path = tmp_path / "draw.json"
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        return subprocess.run([sys.executable, "-I", str(SCRIPT), str(path)], capture_output=True, text=True)

    ok = run(export)
    assert ok.returncode == 0, ok.stdout
    edited = json.loads(json.dumps(export))
    edited["selections"][0]["lab"] = "LAB-B" if edited["selections"][0]["lab"] == "LAB-A" else "LAB-A"
    assert run(edited).returncode == 1
    edited = json.loads(json.dumps(export))
    edited["registry"]["strata"][0][2] = edited["registry"]["strata"][0][2][1:]
    edited["registry"]["strata"][0][3] = edited["registry"]["strata"][0][3][1:]
    assert run(edited).returncode == 1


def test_a_public_draw_is_verified_and_exported_once_then_served_from_storage(client, auth, world, monkeypatch):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup, sample_size=10, risk_weighting=True)
    url = f"/api/v1/plans/{plan['id']}/draw"
    client.post(url, json={}, headers=sup)
    recomputed = []
    real_verify, real_export = algorithm.verify_draw, algorithm.make_export
    monkeypatch.setattr(algorithm, "verify_draw", lambda export: recomputed.append("verify") or real_verify(export))
    monkeypatch.setattr(algorithm, "make_export", lambda **kw: recomputed.append("export") or real_export(**kw))
    client.get(url + "/verify", headers=sup)
    client.get(url + "/verify", headers=sup)
    assert recomputed.count("verify") == 2  # before publication a supervisor's check is always recomputed
    client.post(url + "/publish", headers=sup)
    recomputed.clear()
    answers = [client.get(url + "/verify").get_json() for _ in range(3)]
    assert answers == [{"verified": True, "mismatches": []}] * 3
    assert recomputed.count("verify") == 1
    recomputed.clear()
    files = [client.get(url + "/export") for _ in range(3)]
    assert {f.status_code for f in files} == {200} and len({f.get_data() for f in files}) == 1
    assert recomputed == ["export"]
    assert files[0].get_json()["seed_commitment"] == plan["seed_commitment"]
    assert "attachment" in files[0].headers["Content-Disposition"]
    stored = db.session.scalar(select(Draw))
    assert stored.verification == answers[0] and zlib.decompress(stored.export_file) == files[0].get_data()


def test_public_draw_page_shows_the_published_draw_escaped(client, auth, world):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup, name="<script>alert(1)</script>抽查")
    client.post(f"/api/v1/plans/{plan['id']}/draw", json={"public_entropy": "<b>骰子</b> 4 6"}, headers=sup)
    hidden = client.get(f"/draws/{plan['id']}")
    assert hidden.status_code == 404 and "尚未公开" in hidden.get_data(as_text=True)
    client.post(f"/api/v1/plans/{plan['id']}/draw/publish", headers=sup)
    page = client.get(f"/draws/{plan['id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;骰子&lt;/b&gt;" in html
    assert plan["seed_commitment"] in html and "verify_draw.py" in html
    draw = client.get(f"/api/v1/plans/{plan['id']}/draw").get_json()
    assert draw["server_seed"] in html and draw["registry_hash"] in html
    assert all(s["credit_code"] in html for s in draw["selections"])
    assert f"/api/v1/plans/{plan['id']}/draw/export" in html
    assert client.get("/draws/999").status_code == 404


def test_public_draw_page_names_enterprises_and_labs_but_never_inspectors(client, auth, world):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup, sample_size=None, sampling_ratio=1, category_codes=["FZ-01"])
    drawn = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup).get_json()
    client.post(f"/api/v1/plans/{plan['id']}/draw/publish", headers=sup)
    stored = db.session.scalar(select(Draw))
    stored.drawn_at = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 2027-01-01 00:30 in Dongguan
    db.session.commit()
    first = client.get(f"/draws/{plan['id']}").get_data(as_text=True)
    second = client.get(f"/draws/{plan['id']}?page=2").get_data(as_text=True)
    assert "2027-01-01 00:30" in first and "(UTC)" not in first and "2026-12-31" not in first
    assert "2026年第四季度" in first and "市级" in first
    names = {e.credit_code: e.name for e in world["enterprises"]}
    on_first = [s for s in drawn["selections"] if s["credit_code"] in first]
    on_second = [s for s in drawn["selections"] if s["credit_code"] in second]
    assert len(on_first) == 30 and on_second == []  # 30 drawn: one page of 50
    for sel in drawn["selections"]:
        region = sel["stratum"].split("|")[0]
        assert names[sel["credit_code"]] in first
        assert f"{region} · 服装" in first
    assert "|FZ-01" not in first
    assert all(lab.name in first for lab in world["labs"] if lab.code in {s["lab"] for s in drawn["selections"]})
    assert not [i.name for i in world["inspectors"] if i.name in first]  # inspectors by code only
    assert all(code in first for s in drawn["selections"] for code in s["inspectors"])
    with client.get("/draws/verify_draw.py") as script:
        assert script.status_code == 200 and "attachment" in script.headers["Content-Disposition"]
        assert script.get_data() == SCRIPT.read_bytes()
    assert 'href="/draws/verify_draw.py"' in first and f'href="/api/v1/plans/{plan["id"]}/draw/export"' in first


def test_public_draw_page_is_paginated(client, auth, factory, world):
    sup = auth.headers("supervisor")
    extra = factory.category(code="FZ-09", name="童装")
    factory.lab([extra], code="LAB-C")
    for i in range(60):
        factory.enterprise([extra], region=REGIONS[i % 3], credit_code=make_code(f"91441900{500 + i:09d}"))
    plan = create_plan(client, sup, sample_size=None, sampling_ratio=1, category_codes=["FZ-09"])
    drawn = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup).get_json()["selections"]
    client.post(f"/api/v1/plans/{plan['id']}/draw/publish", headers=sup)
    pages = [client.get(f"/draws/{plan['id']}?page={n}").get_data(as_text=True) for n in (1, 2)]
    assert "共 60 家" in pages[0] and "第 1 / 2 页" in pages[0] and "第 2 / 2 页" in pages[1]
    assert [s["credit_code"] in pages[0] for s in drawn] == [True] * 50 + [False] * 10
    assert [s["credit_code"] in pages[1] for s in drawn] == [False] * 50 + [True] * 10


def test_cli_draws_a_plan(app, client, auth, world):
    plan = create_plan(client, auth.headers("supervisor"), sample_size=4)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["plans", "draw", str(plan["id"]), "--entropy", "1 2 3"])
    assert result.exit_code == 0, result.output
    assert "4 enterprise(s)" in result.output
    assert db.session.scalar(select(Draw.public_entropy)) == "1 2 3"
    again = runner.invoke(args=["plans", "draw", str(plan["id"])])
    assert again.exit_code != 0 and "already been drawn" in again.output
    created = runner.invoke(args=["plans", "create", "--name", "专项", "--period", "2027Q1", "--category", "FZ-01",
                                  "--sample-size", "2"])
    assert created.exit_code == 0, created.output
    assert "seed_commitment" in created.output


@pytest.mark.postgres
def test_two_simultaneous_draws_make_one_draw(app, client, auth, world):
    plan = create_plan(client, auth.headers("supervisor"), sample_size=8)
    headers = auth.headers("supervisor")
    barrier = threading.Barrier(2)
    statuses = []

    def attempt():
        with app.test_client() as c:
            barrier.wait()
            statuses.append(c.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=headers).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409]
    db.session.expire_all()
    assert counts() == (1, 8, 8)
