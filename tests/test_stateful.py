"""schemathesis run over a real world (issue 16): the operations are reached with real codes.

The stateless run (test_schemathesis.py) sends generated path parameters, so the life-cycle
operations mostly answer 404 (no such sample) and never get past the first check. Here a world is
built first (registry, a plan with its draw, and one sample at each state of the life cycle, walked
there through the API), then every operation of the OpenAPI document is sent:

- a scenario step where one exists: the valid request of the life cycle, as a schemathesis case,
  so its 2xx answer is checked against the documented schema;
- schemathesis-generated requests (valid by the schema) whose path parameters are REAL: the sample
  at the state the operation moves from, the plan's id, the registry's codes, the period.

The requests are generated first (no database involved, so hypothesis never sees state change
between examples) and then sent one after another. Every answer must be below 500 and match the
schema documented for its status. The figures (requests, operations reached with a 2xx, 5xx
answers) are printed and written to ``bench-out/stateful.json``.

schemathesis' own state machine (``as_state_machine``) was tried before: the database persisting
between its examples made hypothesis report inconsistent data generation and the run took
minutes; this seeded run is bounded and deterministic.
"""

import json
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from lifecycle_factory import make_world
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import select
from test_samples_api import Api, now

from app import create_app
from extensions import db
from models.plans import Plan
from models.samples import RectificationReport, Sample
from sampling.credit_code import make_code

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = 6
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CHECKS = [not_a_server_error, response_schema_conformance]
METHODS = ("get", "post", "put", "patch", "delete")

# The walk that brings a fresh sample to the state each life-cycle operation moves from.
TO = ["sampling", "receipt", "result"]
BEFORE = {
    "sampling": [], "refusal": [], "receipt": TO[:1], "result": TO[:2], "notification": TO,
    "objection": TO + ["notification"], "finalize": TO + ["notification"],
    "retest-result": TO + ["notification", "objection"], "rectification": TO + ["notification", "finalize"],
    "recheck": TO + ["notification", "finalize", "rectification"], "correction": TO,
    "rectification-report": TO + ["notification", "finalize", "rectification"],
    "actions": TO + ["notification", "finalize"],
}

# Read from an app of its own at import; every request goes to the session's ``app``.
schema = schemathesis.openapi.from_wsgi(
    "/api/openapi.json", create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
)


def generated(operation, path_parameters: dict) -> list:
    """``EXAMPLES`` schemathesis cases of ``operation`` with the given real path parameters."""
    cases = []

    @given(operation.as_strategy(path_parameters=path_parameters or None))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    def collect(case):
        cases.append(case)

    collect()
    return cases


def test_every_operation_reached_with_real_codes(app, client, auth, factory):
    world = make_world(factory)
    api = Api(client, auth, world, base=now() - timedelta(days=50))
    plan = real_draw(client, api, factory, world.category)

    def fresh_at(action: str) -> str:
        code = world.sample().code
        api.walk(code, BEFORE[action])
        return code

    run = Run(app)
    send = run.send
    report_params = {"code": world.samples[0].code, "report_id": 0}
    for path, ops in schema.raw_schema["paths"].items():
        for method in (m for m in METHODS if m in ops):
            operation = schema[path][method]
            label = f"{method.upper()} {path}"
            params: dict = {}
            action = path.split("/")[5] if path.startswith("/api/v1/samples/{code}/") else None
            if action in BEFORE:
                params["code"] = fresh_at(action)
                if action in api_bodies(api):
                    valid = fresh_at(action)
                    case = operation.Case(path_parameters={"code": valid}, body=api.body(action),
                                          media_type="application/json")
                    send("scenario", label, case, api.actor(valid, action))
            params = {**real_parameters(path, world, plan), **params}
            params.update(upload_or_draw(label, operation, client, api, world, fresh_at, send, report_params))
            if "{report_id}" in path:
                params.update(report_params)
            for case in generated(operation, params):
                code = params.get("code")
                headers = api.actor(code, action) if action in BEFORE else api.sup
                send("generated", label, case, headers)

    figures, statuses, failures = run.figures, run.statuses, run.failures
    summary = write_figures(figures, statuses)
    assert summary["5xx"] == 0 and not failures, "\n".join(failures[:20])
    # The life-cycle operations are reached: none answers only 404 to a real sample.
    only_404 = [label for label, counts in statuses.items()
                if "/samples/{code}/" in label and "{report_id}" not in label and set(counts) == {404}]
    assert not only_404
    # Every scenario step of the life cycle succeeded (and its 2xx matched the documented schema).
    assert figures["scenario"]["2xx"] == figures["scenario"]["requests"] > 0
    db.session.expire_all()
    assert db.session.scalar(select(Sample).where(Sample.status == "rechecked").limit(1)) is not None


class Run:
    """Sends the cases, checks each answer, and counts."""

    def __init__(self, app):
        self.app = app
        self.figures: dict[str, Counter] = defaultdict(Counter)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.failures: list[str] = []

    def send(self, kind, label, case, headers):
        resp = case.call(app=self.app, headers=headers)
        try:
            case.validate_response(resp, checks=CHECKS, headers=headers)
        except Exception as exc:  # a check failed: record it, keep going, fail at the end
            self.failures.append(f"{label} [{kind}] body={case.body!r}: {str(exc)[:600]}")
        self.figures[kind]["requests"] += 1
        self.figures[kind][f"{resp.status_code // 100}xx"] += 1
        self.statuses[label][resp.status_code] += 1
        if 200 <= resp.status_code < 300:
            self.figures[f"operations with a 2xx ({kind})"][label] += 1


def write_figures(figures, statuses) -> dict:
    """The run's figures: printed, and written to bench-out/stateful.json."""
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    summary = {
        "requests generated": figures["generated"]["requests"],
        "scenario requests": figures["scenario"]["requests"],
        "5xx": figures["generated"]["5xx"] + figures["scenario"]["5xx"],
        "operations": len(statuses),
        "operations reached with a 2xx (generated)": len(figures["operations with a 2xx (generated)"]),
        "operations reached with a 2xx (generated or scenario)": len(
            set(figures["operations with a 2xx (generated)"]) | set(figures["operations with a 2xx (scenario)"])),
        "by kind": {k: dict(v) for k, v in figures.items() if not k.startswith("operations")},
        "statuses by operation": {k: {str(s): n for s, n in sorted(v.items())} for k, v in statuses.items()},
    }
    (out / "stateful.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "statuses by operation"}, ensure_ascii=False))

    return summary


def real_parameters(path: str, world, plan) -> dict:
    """Real values for the path parameters of ``path`` (besides a life-cycle move's sample)."""
    owner = {"categories": world.category.code, "inspectors": world.team[0].code, "labs": world.lab.code}
    values = {"code": owner.get((path.split("/") + [""] * 4)[3], world.samples[0].code), "plan_id": plan.id,
              "credit_code": world.enterprise.credit_code, "sample_code": world.samples[0].code,
              "period": plan.period, "action_id": 1, "entry_id": 1, "report_id": 1}
    return {name: value for name, value in values.items() if "{" + name + "}" in path}


def upload_or_draw(label, operation, client, api, world, fresh_at, send, report_params) -> dict:
    """The scenario steps of a draw and of a report upload; the path parameters their generated cases use."""
    if label == "POST /api/v1/plans/{plan_id}/draw":
        case = operation.Case(path_parameters={"plan_id": new_plan(client, api, world.category)},
                              body={"public_entropy": "双色球 03 11 19"}, media_type="application/json")
        send("scenario", label, case, api.sup)
        return {"plan_id": new_plan(client, api, world.category)}
    if label == "POST /api/v1/samples/{code}/rectification-report":
        valid = fresh_at("rectification-report")
        case = operation.Case(path_parameters={"code": valid}, media_type="multipart/form-data",
                              body={"submitted_at": now().isoformat(), "file": PDF})
        send("scenario", label, case, api.sup)
        report = db.session.scalar(select(RectificationReport).order_by(RectificationReport.id.desc()))
        report_params.update(code=valid, report_id=report.id)
    return {}


def new_plan(client, api, category) -> int:
    """A plan made through the API, not drawn yet."""
    resp = client.post("/api/v1/plans", headers=api.sup, json={
        "name": "2026年第三季度监督抽查", "level": "municipal", "kind": "routine", "period": "2026Q3",
        "category_codes": [category.code], "sample_size": 4})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def real_draw(client, api, factory, category):
    """A plan made and drawn through the API (its draw has a real snapshot to verify and export)."""
    for i in range(12):
        factory.enterprise([category], credit_code=make_code(f"91441900{i + 500:09d}"))
    for _ in range(6):
        factory.inspector()
    plan_id = new_plan(client, api, category)
    resp = client.post(f"/api/v1/plans/{plan_id}/draw", headers=api.sup, json={"public_entropy": "双色球 03 11 19"})
    assert resp.status_code == 201, resp.get_json()
    db.session.expire_all()
    return db.session.get(Plan, plan_id)


def api_bodies(api) -> set[str]:
    """The life-cycle actions the scenario has a valid body for."""
    return {"sampling", "refusal", "receipt", "result", "notification", "objection", "finalize", "retest-result",
            "rectification", "recheck", "correction"}
