"""The sample life cycle over HTTP, with real tokens of every role."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from lifecycle_factory import make_world
from sqlalchemy import func, select, text

from extensions import db
from models.audit import AuditEvent
from models.samples import IdempotencyRecord, Result, ResultItem, Sample, SampleEvent
from sampling import lifecycle as lc
from sampling.draw import rank_key
from sampling.errors import InvalidInput, RuleViolation
from services import samples as sample_service

API = "/api/v1/samples"


def now():
    return datetime.now(UTC)


# Base time of a sample's story: its events follow at the offsets below (days).
OFFSET = {"sampling": 0, "refusal": 0, "receipt": 1, "result": 5, "notification": 6, "objection": 10,
          "retest-result": 20}


@pytest.fixture
def credit_calls(monkeypatch):
    """Record every grade refresh the life cycle asks for, and run the real one."""
    import services.credit as credit

    calls, real = [], credit.refresh_grades

    def refresh_grades(enterprise_ids, *args):
        calls.append(list(enterprise_ids))
        return real(enterprise_ids, *args)

    monkeypatch.setattr(credit, "refresh_grades", refresh_grades)
    return calls


class Api:
    """The world's actors with real tokens, and the requests of the life cycle."""

    def __init__(self, client, auth, world, base):
        self.client, self.world, self.base = client, world, base
        self.sup = auth.headers("supervisor")
        self.insp = auth.headers("inspector", inspector=world.team[0])
        self.insp2 = auth.headers("inspector", inspector=world.team[1])
        self.third = auth.headers("inspector", inspector=world.team[2])  # on the roster, not the team
        self.outsider = auth.headers("inspector", inspector=world.outsider)
        self.lab = auth.headers("lab", lab=world.lab)
        self.labs = {lab.code: auth.headers("lab", lab=lab) for lab in world.other_labs}

    def at(self, action, extra_days=0):
        return (self.base + timedelta(days=OFFSET[action] + extra_days)).isoformat()

    def body(self, action, verdict="fail", **over):
        """A valid body for ``action``."""
        w = self.world
        bodies = {
            "sampling": lambda: {
                "sampled_at": self.at("sampling"), "stage": "production", "product_name": "电热水壶",
                "brand": "美好", "model": "MH-17", "batch_no": "20260801", "quantity": 6,
                "reserve_quantity": "3台", "production_date": (self.base - timedelta(days=20)).date().isoformat(),
                "inspector_codes": [w.team[0].code, w.team[1].code]},
            "refusal": lambda: {"refused_at": self.at("refusal"), "reason": "企业拒绝抽样，拒绝在抽样单上签字",
                                "inspector_codes": [w.team[0].code, w.team[1].code]},
            "receipt": lambda: {"received_at": self.at("receipt")},
            "result": lambda: result_body(self.at("result"), verdict, "R-001"),
            "notification": lambda: {"notified_at": self.at("notification")},
            "objection": lambda: {"filed_at": self.at("objection"), "reason": "对检验结论有异议，申请复检"},
            "retest-result": lambda: result_body(self.at("retest-result"), verdict, "RT-001"),
            "finalize": lambda: {},
            "rectification": lambda: {"due_date": (sample_service.today() + timedelta(days=10)).isoformat(),
                                      "notes": "限期整改"},
            "recheck": lambda: {"rechecked_at": now().isoformat(), "verdict": verdict, "report_no": "RC-001"},
            "correction": lambda: {"reason": "typo"},
        }
        return {**bodies[action](), **over}

    def actor(self, code, action):
        if action in ("sampling", "refusal"):
            return self.insp
        if action in ("receipt", "result"):
            return self.lab
        if action == "retest-result":
            retest = db.session.scalar(select(Sample).where(Sample.code == code)).retest_lab
            return self.labs[retest.code] if retest else self.lab
        return self.sup

    def post(self, code, action, body=None, headers=None, **kw):
        body = self.body(action) if body is None else body
        return self.client.post(f"{API}/{code}/{action}", json=body,
                                headers=self.actor(code, action) if headers is None else headers, **kw)

    def move(self, code, action, verdict="fail", **over):
        resp = self.post(code, action, self.body(action, verdict, **over))
        assert resp.status_code == 200, (action, resp.json)
        return resp.json

    def walk(self, code, path, verdict="fail"):
        """Take the sample along ``path``; the last answer."""
        answer = None
        for action in path:
            answer = self.move(code, action, verdict)
        return answer

    def get(self, code, headers=None):
        return self.client.get(f"{API}/{code}", headers=headers or self.sup)


def result_body(tested_at, verdict, report_no):
    return {"report_no": report_no, "tested_at": tested_at, "items": [
        {"name": "标志和说明", "requirement": "GB 4706.1-2005 第7章", "measured": "符合", "verdict": "pass"},
        {"name": "泄漏电流", "requirement": "≤ 0.75", "measured": 0.92 if verdict == "fail" else 0.31,
         "unit": "mA", "verdict": verdict, "critical": True},
    ]}


@pytest.fixture
def world(factory):
    return make_world(factory)


@pytest.fixture
def api(client, auth, world, credit_calls):
    return Api(client, auth, world, base=now() - timedelta(days=50))


@pytest.fixture
def code(world):
    return world.samples[0].code


def counts():
    """Rows of everything a life-cycle write touches."""
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m))
            for m in (SampleEvent, AuditEvent, Result, ResultItem, IdempotencyRecord)}


def stored(code):
    db.session.expire_all()
    return db.session.scalar(select(Sample).where(Sample.code == code))


# The paths of the diagram.

def test_a_time_without_its_offset_is_refused_saying_how_to_write_it(api, code):
    resp = api.post(code, "sampling", {**api.body("sampling"), "sampled_at": "2026-09-01T09:30:00"})
    assert resp.status_code == 422
    message = resp.json["errors"]["json.sampled_at"][0]
    assert "UTC offset" in message and "+08:00" in message and "时区" in message


def test_a_quantity_reads_back_as_it_was_meant(api, code):
    """A bare count is a number; a count with its unit is text, as the 抽样单 writes it."""
    sampled = api.move(code, "sampling", quantity="6件", reserve_quantity=3)
    assert sampled["quantity"] == "6件" and sampled["reserve_quantity"] == 3


def test_a_passing_sample_is_final_as_soon_as_it_is_notified(api, code, world, credit_calls):
    sampled = api.move(code, "sampling")
    assert sampled["status"] == "sampled"
    assert sampled["visit_inspectors"] == [world.team[0].code, world.team[1].code]
    assert sampled["quantity"] == 6 and sampled["stage"] == "production"  # a count sent as 6 reads 6
    assert api.move(code, "receipt")["status"] == "testing"
    tested = api.move(code, "result", "pass")
    assert (tested["status"], tested["verdict"]) == ("tested", "pass")
    assert tested["result"]["items"][1]["measured"] == "0.31"
    final = api.move(code, "notification", "pass")
    assert (final["status"], final["verdict"]) == ("final", "pass")
    assert final["final_at"] == final["notified_at"]
    assert final["allowed_moves"] == []
    assert [e["action"] for e in final["history"]] == ["sampling", "receipt", "result", "notification"]
    assert [e["to_status"] for e in final["history"]] == ["sampled", "testing", "tested", "final"]
    assert credit_calls == [[world.enterprise.id]]


def test_a_failing_sample_is_final_after_the_window_then_rectified_and_rechecked(api, code, world, credit_calls):
    notified = api.walk(code, ["sampling", "receipt", "result", "notification"])
    assert (notified["status"], notified["verdict"]) == ("notified", "fail")
    assert notified["critical_failed"] is True
    assert notified["failed_items"] == ["泄漏电流"]
    assert notified["allowed_moves"] == ["objection", "finalize"]
    final = api.move(code, "finalize")
    assert (final["status"], final["verdict"]) == ("final", "fail")
    names = {d["name"]: d for d in final["deadlines"]}
    assert set(names) == {"result", "objection", "rectification", "recheck"}
    assert names["objection"]["met_at"] is not None
    rectifying = api.move(code, "rectification")
    assert rectifying["status"] == "rectifying"
    assert rectifying["rectification_due"] == (sample_service.today() + timedelta(days=10)).isoformat()
    rechecked = api.move(code, "recheck", "fail")
    assert (rechecked["status"], rechecked["recheck_verdict"]) == ("rechecked", "fail")
    assert rechecked["verdict"] == "fail"
    assert credit_calls == [[world.enterprise.id], [world.enterprise.id]]  # final, recheck


def test_an_objection_sends_the_reserve_sample_to_another_lab_whose_result_is_final(api, code, world):
    api.walk(code, ["sampling", "receipt", "result", "notification"])
    objected = api.move(code, "objection")
    assert objected["status"] == "objection"
    retest_lab = objected["retest_lab"]
    assert retest_lab in {lab.code for lab in world.other_labs}
    assert objected["objection_reason"] == "对检验结论有异议，申请复检"
    final = api.move(code, "retest-result", "pass")
    assert (final["status"], final["verdict"]) == ("final", "pass")
    assert [r["kind"] for r in final["results"]] == ["initial", "retest"]
    assert final["result"]["kind"] == "retest" and final["result"]["lab"] == retest_lab
    assert final["results"][0]["verdict"] == "fail"  # the first result is kept as it was
    refused = api.post(code, "rectification")
    assert refused.status_code == 409  # a retest that passes leaves nothing to rectify


def test_a_failed_retest_is_final_and_leads_to_rectification(api, code):
    api.walk(code, ["sampling", "receipt", "result", "notification", "objection"])
    final = api.move(code, "retest-result", "fail")
    assert (final["status"], final["verdict"]) == ("final", "fail")
    assert api.walk(code, ["rectification", "recheck"], "pass")["recheck_verdict"] == "pass"


def test_a_refusal_is_recorded_with_reason_and_inspectors(api, code, world, credit_calls):
    refused = api.move(code, "refusal")
    assert refused["status"] == "refused"
    assert refused["verdict"] is None  # not a tested batch
    assert refused["refusal_reason"].startswith("企业拒绝抽样")
    assert refused["visit_inspectors"] == [world.team[0].code, world.team[1].code]
    assert refused["history"][0]["data"]["reason"].startswith("企业拒绝抽样")
    assert credit_calls == [[world.enterprise.id]]
    db.session.expire_all()
    assert world.enterprise.credit_grade == "C"  # one refusal in the last 12 months, stored with it


# Forbidden moves: every state, every action the diagram does not draw from it.

PATHS = {
    "planned": [],
    "sampled": ["sampling"],
    "refused": ["refusal"],
    "testing": ["sampling", "receipt"],
    "tested": ["sampling", "receipt", "result"],
    "notified": ["sampling", "receipt", "result", "notification"],
    "objection": ["sampling", "receipt", "result", "notification", "objection"],
    "final": ["sampling", "receipt", "result", "notification", "finalize"],
    "rectifying": ["sampling", "receipt", "result", "notification", "finalize", "rectification"],
    "rechecked": ["sampling", "receipt", "result", "notification", "finalize", "rectification", "recheck"],
}


@pytest.mark.parametrize("state", list(PATHS))
def test_every_move_the_state_does_not_allow_is_refused_with_nothing_written(api, code, state):
    api.walk(code, PATHS[state])
    assert stored(code).status == state
    for action in lc.ACTIONS:
        if action in lc.allowed_moves(state, "fail" if state != "planned" else None):
            continue
        before = counts()
        resp = api.post(code, action, api.body(action))
        assert resp.status_code == 409, (state, action, resp.json)
        assert resp.json["code"] == 409 and resp.json["status"] == "Conflict"
        assert f"'{state}'" in resp.json["message"] and "allowed:" in resp.json["message"]
        assert counts() == before
        assert stored(code).status == state


def test_a_passing_final_sample_allows_no_further_move(api, code):
    api.walk(code, ["sampling", "receipt", "result", "notification"], "pass")
    for action in ("objection", "finalize", "rectification", "retest-result", "notification"):
        before = counts()
        resp = api.post(code, action, api.body(action, "pass"))
        assert resp.status_code == 409 and "'final'" in resp.json["message"], action
        assert counts() == before


# Owners: only the team, the assigned lab, the retest lab, the supervisor.

def _refused_untouched(api, code, action, headers, status=403):
    before, state = counts(), stored(code).status
    resp = api.post(code, action, api.body(action), headers=headers)
    assert resp.status_code == status, (action, resp.json)
    assert resp.json["code"] == status
    assert counts() == before and stored(code).status == state


def test_only_the_drawn_team_records_the_visit_or_the_refusal(api, code):
    for action in ("sampling", "refusal"):
        for headers in (api.outsider, api.third, api.lab, api.sup):
            _refused_untouched(api, code, action, headers)
        _refused_untouched(api, code, action, {}, status=401)
    assert api.post(code, "sampling", headers=api.insp2).status_code == 200  # the other member may


def test_only_the_assigned_lab_posts_receipt_and_result(api, code, world):
    api.walk(code, ["sampling"])
    other = api.labs[world.other_labs[0].code]
    for headers in (other, api.insp, api.sup):
        _refused_untouched(api, code, "receipt", headers)
    api.move(code, "receipt")
    for headers in (other, api.insp, api.sup):
        _refused_untouched(api, code, "result", headers)


def test_only_the_retest_lab_posts_the_retest_result(api, code, world):
    api.walk(code, ["sampling", "receipt", "result", "notification", "objection"])
    retest = stored(code).retest_lab.code
    not_retest = next(lab.code for lab in world.other_labs if lab.code != retest)
    for headers in (api.lab, api.labs[not_retest], api.insp, api.sup):
        _refused_untouched(api, code, "retest-result", headers)


def test_only_a_supervisor_notifies_objects_finalizes_orders_rectification_and_rechecks(api, code):
    api.walk(code, ["sampling", "receipt", "result"])
    for action in ("notification", "objection", "finalize", "rectification", "recheck"):
        for headers in (api.insp, api.lab):
            _refused_untouched(api, code, action, headers)


def test_a_sample_is_read_only_by_those_it_is_assigned_to(api, code, world):
    assert api.get(code, api.insp).status_code == 200
    assert api.get(code, api.outsider).status_code == 403
    assert api.get(code, api.lab).status_code == 403  # a lab learns of a sample only once it is taken
    api.walk(code, ["sampling"])
    assert api.get(code, api.lab).status_code == 200
    assert api.get(code, api.labs[world.other_labs[0].code]).status_code == 403
    assert api.client.get(f"{API}/{code}").status_code == 401
    assert api.get("NO-SUCH-SAMPLE").status_code == 404


# Bodies that break their own rules: 422, nothing written.

def _invalid(api, code, action, body, field):
    before = counts()
    resp = api.post(code, action, body)
    assert resp.status_code == 422, (action, resp.json)
    assert any(field in key for key in resp.json["errors"]), resp.json
    assert counts() == before
    return resp.json


def test_a_visit_needs_two_inspectors_of_the_team(api, code, world):
    team = [i.code for i in world.team]
    one = _invalid(api, code, "sampling", api.body("sampling", inspector_codes=[team[0]]), "inspector_codes")
    assert "two" in one["message"]
    twice = api.body("sampling", inspector_codes=[team[0], team[0]])
    _invalid(api, code, "sampling", twice, "inspector_codes")
    off_team = _invalid(api, code, "refusal", api.body("refusal", inspector_codes=[team[0], world.outsider.code]),
                        "inspector_codes")
    assert world.outsider.code in off_team["errors"]["inspector_codes"][0]
    _invalid(api, code, "sampling", api.body("sampling", inspector_codes=[team[0], "NOBODY"]), "inspector_codes")
    assert stored(code).status == "planned"


def test_event_times_are_not_in_the_future_nor_before_the_previous_event(api, code, world):
    future = (now() + timedelta(days=1)).isoformat()
    _invalid(api, code, "sampling", api.body("sampling", sampled_at=future), "sampled_at")
    before_draw = (world.draw.drawn_at - timedelta(hours=1)).isoformat()
    err = _invalid(api, code, "sampling", api.body("sampling", sampled_at=before_draw), "sampled_at")
    assert "previous event" in err["message"]
    _invalid(api, code, "sampling", api.body("sampling", sampled_at="2026-08-01T10:00:00"), "sampled_at")
    api.move(code, "sampling")
    before_visit = (api.base - timedelta(minutes=1)).isoformat()
    _invalid(api, code, "receipt", {"received_at": before_visit}, "received_at")
    api.move(code, "receipt", received_at=api.at("sampling"))  # the same moment is not earlier


def test_a_result_needs_valid_items(api, code):
    api.walk(code, ["sampling", "receipt"])
    body = api.body("result")
    _invalid(api, code, "result", {**body, "items": []}, "items")
    bad = {**body, "items": [{**body["items"][0], "verdict": "unclear"}]}
    _invalid(api, code, "result", bad, "items")
    _invalid(api, code, "result", {**body, "tested_at": (now() + timedelta(days=2)).isoformat()}, "tested_at")


def test_a_rectification_is_due_within_60_days_of_the_final_verdict(api, code):
    api.walk(code, ["sampling", "receipt", "result", "notification", "finalize"])
    too_late = (sample_service.today() + timedelta(days=61)).isoformat()
    _invalid(api, code, "rectification", {"due_date": too_late}, "due_date")
    too_early = (sample_service.today() - timedelta(days=1)).isoformat()
    _invalid(api, code, "rectification", {"due_date": too_early}, "due_date")


# Deadlines that refuse a move.

def test_an_objection_after_the_window_is_refused(api, code):
    api.walk(code, ["sampling", "receipt", "result", "notification"])
    before = counts()
    late = api.post(code, "objection", api.body("objection", filed_at=api.at("notification", 16)))
    assert late.status_code == 409
    assert "objection window" in late.json["message"]
    assert counts() == before
    on_last_day = api.body("objection", filed_at=api.at("notification", 15))
    assert api.post(code, "objection", on_last_day).status_code == 200


def test_finalize_before_the_window_has_passed_is_refused(client, auth, world, credit_calls, code):
    recent = Api(client, auth, world, base=now() - timedelta(days=8))  # notified two days ago
    recent.walk(code, ["sampling", "receipt", "result", "notification"])
    before = counts()
    early = recent.post(code, "finalize")
    assert early.status_code == 409 and "objection window is open" in early.json["message"]
    assert counts() == before


def test_the_job_finalizes_failing_results_once_the_window_has_passed(client, auth, world, credit_calls, code):
    from jobs.overdue import finalize_expired

    old = Api(client, auth, world, base=now() - timedelta(days=50))
    old.walk(code, ["sampling", "receipt", "result", "notification"])
    fresh = world.sample()
    Api(client, auth, world, base=now() - timedelta(days=8)).walk(
        fresh.code, ["sampling", "receipt", "result", "notification"])
    assert finalize_expired() == [code]
    assert finalize_expired() == []
    assert stored(code).status == "final" and stored(fresh.code).status == "notified"


# The retest lab.

def test_the_retest_lab_is_the_first_ranked_other_accredited_lab_with_capacity(factory, client, auth, credit_calls):
    world = make_world(factory, lab_capacity=1)
    code = world.samples[0].code
    ranked = sorted(world.other_labs, key=lambda lab: rank_key(
        world.draw.seed, world.plan.id, world.enterprise.credit_code, lab.code))
    full = ranked[0]
    busy = world.sample(enterprise=factory.enterprise([world.category]), lab=full)  # full's one slot
    api = Api(client, auth, world, base=now() - timedelta(days=50))
    api.walk(code, ["sampling", "receipt", "result", "notification"])
    assert api.move(code, "objection")["retest_lab"] == ranked[1].code
    assert busy.lab_id == full.id


def test_an_objection_with_no_lab_left_for_the_retest_is_refused(factory, client, auth, credit_calls):
    world = make_world(factory, lab_capacity=1)
    code = world.samples[0].code
    for lab in world.other_labs:
        world.sample(enterprise=factory.enterprise([world.category]), lab=lab)
    api = Api(client, auth, world, base=now() - timedelta(days=50))
    api.walk(code, ["sampling", "receipt", "result", "notification"])
    before = counts()
    resp = api.post(code, "objection")
    assert resp.status_code == 409 and "retest_lab" in resp.json["errors"]
    assert counts() == before and stored(code).status == "notified"


# Idempotency-Key.

def test_a_repeated_result_with_its_key_returns_the_first_answer(api, code):
    api.walk(code, ["sampling", "receipt"])
    body = api.body("result")
    key = {"Idempotency-Key": "lab-report-R-001"}
    first = api.client.post(f"{API}/{code}/result", json=body, headers={**api.lab, **key})
    assert first.status_code == 200
    after_first = counts()
    again = api.client.post(f"{API}/{code}/result", json=body, headers={**api.lab, **key})
    assert again.status_code == 200 and again.json == first.json
    assert counts() == after_first
    other = {**body, "report_no": "R-002"}
    clash = api.client.post(f"{API}/{code}/result", json=other, headers={**api.lab, **key})
    assert clash.status_code == 409 and "Idempotency-Key" in clash.json["errors"]
    no_key = api.client.post(f"{API}/{code}/result", json=body, headers=api.lab)
    assert no_key.status_code == 409  # without the key a repeat is a move the state refuses
    assert counts() == after_first


def test_a_repeated_retest_result_with_its_key_returns_the_first_answer(api, code):
    api.walk(code, ["sampling", "receipt", "result", "notification", "objection"])
    lab = api.actor(code, "retest-result")
    body, key = api.body("retest-result", "pass"), {"Idempotency-Key": "rt-1"}
    first = api.client.post(f"{API}/{code}/retest-result", json=body, headers={**lab, **key})
    again = api.client.post(f"{API}/{code}/retest-result", json=body, headers={**lab, **key})
    assert first.status_code == again.status_code == 200 and first.json == again.json
    assert db.session.scalar(select(func.count()).select_from(Result).where(Result.kind == "retest")) == 1


def test_another_lab_cannot_replay_a_key_it_does_not_own(api, code, world):
    api.walk(code, ["sampling", "receipt"])
    key = {"Idempotency-Key": "k1"}
    assert api.client.post(f"{API}/{code}/result", json=api.body("result"),
                           headers={**api.lab, **key}).status_code == 200
    other = api.labs[world.other_labs[0].code]
    assert api.client.post(f"{API}/{code}/result", json=api.body("result"),
                           headers={**other, **key}).status_code == 403


@pytest.mark.postgres
def test_concurrent_posts_with_one_key_store_one_result(app, api, code):
    api.walk(code, ["sampling", "receipt"])
    body, headers = api.body("result"), {**api.lab, "Idempotency-Key": "concurrent-1"}
    answers, barrier = [], threading.Barrier(8)

    def post():
        with app.test_client() as client:
            barrier.wait()
            resp = client.post(f"{API}/{code}/result", json=body, headers=headers)
            answers.append((resp.status_code, resp.json))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in answers] == [200] * 8
    assert all(answer == answers[0][1] for _, answer in answers)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Result)) == 1
    assert db.session.scalar(select(func.count()).select_from(SampleEvent).where(
        SampleEvent.action == "result")) == 1


@pytest.mark.postgres
def test_concurrent_results_under_different_keys_record_one_and_refuse_the_rest(app, api, code):
    api.walk(code, ["sampling", "receipt"])
    answers, barrier = [], threading.Barrier(6)

    def post(n):
        body = {**api.body("result"), "report_no": f"R-{n}"}
        with app.test_client() as client:
            barrier.wait()
            resp = client.post(f"{API}/{code}/result", json=body, headers={**api.lab, "Idempotency-Key": f"k{n}"})
            answers.append(resp.status_code)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200] + [409] * 5
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Result)) == 1
    assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


# Corrections: a new recorded event, never an overwrite.

def test_a_final_result_is_corrected_by_a_new_event_and_never_overwritten(api, code):
    api.walk(code, ["sampling", "receipt", "result", "notification", "finalize"])
    first = stored(code).results[0]
    items = [dict(i) for i in api.body("result")["items"]]
    items[0]["measured"] = "符合（更正）"
    resp = api.post(code, "correction", {"reason": "录入错误，更正检验值", "items": items}, headers=api.lab)
    assert resp.status_code == 200, resp.json
    answer = resp.json
    assert [r["kind"] for r in answer["results"]] == ["initial", "correction"]
    assert answer["result"]["items"][0]["measured"] == "符合（更正）"
    assert answer["result"]["correction_reason"] == "录入错误，更正检验值"
    assert answer["results"][0]["items"][0]["measured"] == "符合"  # the original stands as it was
    assert answer["status"] == "final" and answer["verdict"] == "fail"
    assert answer["history"][-1]["action"] == "correction"
    db.session.expire_all()
    assert db.session.get(Result, first.id).items[0].measured == "符合"


def test_a_correction_cannot_change_the_verdict_or_come_from_another_lab(api, code, world):
    api.walk(code, ["sampling", "receipt", "result", "notification", "finalize"])
    passing = api.body("result", "pass")["items"]
    before = counts()
    flip = api.post(code, "correction", {"reason": "x", "items": passing}, headers=api.sup)
    assert flip.status_code == 409 and "verdict" in flip.json["message"]
    other = api.labs[world.other_labs[0].code]
    assert api.post(code, "correction", {"reason": "x"}, headers=other).status_code == 403
    assert api.post(code, "correction", {"reason": "x"}, headers=api.insp).status_code == 403
    assert counts() == before


def test_a_sample_without_result_has_nothing_to_correct(api, code):
    resp = api.post(code, "correction", {"reason": "x"}, headers=api.sup)
    assert resp.status_code == 409 and "'planned'" in resp.json["message"]


# Lists per role.

def _codes(resp):
    assert resp.status_code == 200, resp.json
    return {s["sample_code"] for s in resp.json}


def test_each_role_lists_its_own_samples(factory, api, code, world, auth):
    other_team = world.sample(team=[world.team[2], world.outsider])
    other_lab = world.other_labs[0]
    at_other_lab = world.sample(lab=other_lab)
    api.walk(code, ["sampling"])
    api.walk(at_other_lab.code, ["sampling"])
    everything = {code, other_team.code, at_other_lab.code}
    assert _codes(api.client.get(API, headers=api.sup)) == everything
    assert _codes(api.client.get(API, headers=api.insp)) == {code, at_other_lab.code}
    assert _codes(api.client.get(API, headers=api.outsider)) == {other_team.code}
    assert _codes(api.client.get(API, headers=api.lab)) == {code}  # planned ones stay hidden
    assert _codes(api.client.get(API, headers=api.labs[other_lab.code])) == {at_other_lab.code}
    assert _codes(api.client.get(f"{API}?status=planned", headers=api.sup)) == {other_team.code}
    assert _codes(api.client.get(f"{API}?lab={other_lab.code}", headers=api.sup)) == {at_other_lab.code}
    assert _codes(api.client.get(f"{API}?inspector={world.outsider.code}", headers=api.sup)) == {other_team.code}
    assert _codes(api.client.get(f"{API}?plan_id={world.plan.id}", headers=api.sup)) == everything
    assert _codes(api.client.get(f"{API}?plan_id={world.plan.id + 1}", headers=api.sup)) == set()
    resp = api.client.get(f"{API}?page_size=2", headers=api.sup)
    assert len(resp.json) == 2 and '"total": 3' in resp.headers["X-Pagination"]
    assert api.client.get(API).status_code == 401


def test_a_lab_lists_the_samples_it_retests(api, code):
    api.walk(code, ["sampling", "receipt", "result", "notification", "objection"])
    retest = stored(code).retest_lab.code
    assert _codes(api.client.get(API, headers=api.labs[retest])) == {code}
    assert api.get(code, api.labs[retest]).json["retest_lab"] == retest


def test_a_sample_shows_its_team_lab_deadlines_and_history(api, code, world):
    api.walk(code, ["sampling", "receipt"])
    sample = api.get(code).json
    assert sample["inspectors"] == sorted(i.code for i in world.team[:2])
    assert sample["lab"] == world.lab.code and sample["retest_lab"] is None
    assert sample["credit_code"] == world.enterprise.credit_code
    assert sample["category_code"] == world.category.code and sample["plan_id"] == world.plan.id
    [deadline] = sample["deadlines"]
    received = datetime.fromisoformat(sample["received_at"])
    assert deadline["name"] == "result"
    assert deadline["due"] == (sample_service.deadline_rules().local_date(received) + timedelta(days=20)).isoformat()
    assert deadline["overdue"] is True  # received 49 days ago, no result
    assert [e["action"] for e in sample["history"]] == ["sampling", "receipt"]
    assert sample["history"][0]["actor"].startswith("inspector:")


# Overdue: the report and the job.

def test_overdue_samples_are_reported_and_flagged_once(api, code, world, auth):
    from jobs.overdue import flag_overdue

    api.walk(code, ["sampling", "receipt"])
    on_time = world.sample()
    Api(api.client, auth, world, base=now() - timedelta(days=3)).walk(on_time.code, ["sampling", "receipt"])
    report = api.client.get("/api/v1/reports/overdue", headers=api.sup)
    assert report.status_code == 200
    assert [(r["sample_code"], r["deadline"]) for r in report.json] == [(code, "result")]
    assert report.json[0]["days_overdue"] > 0
    assert api.client.get("/api/v1/reports/overdue", headers=api.outsider).json == []
    before = counts()
    assert flag_overdue() == 1
    assert flag_overdue() == 0
    after = counts()
    assert after["SampleEvent"] == before["SampleEvent"] + 1
    assert after["AuditEvent"] == before["AuditEvent"] + 1
    assert stored(code).overdue == [{"deadline": "result", "due": report.json[0]["due"]}]
    later = (date.today() + timedelta(days=30)).isoformat()
    in_a_month = api.client.get(f"/api/v1/reports/overdue?as_of={later}", headers=api.sup)
    assert {r["sample_code"] for r in in_a_month.json} == {code, on_time.code}


# The audit trail.

def test_every_write_is_audited_and_an_edit_of_history_is_detected(api, code):
    api.walk(code, ["sampling", "receipt", "result"])
    events = api.client.get("/api/v1/audit?entity_type=sample", headers=api.sup)
    assert events.status_code == 200
    assert [e["action"] for e in events.json] == ["sample.sampling", "sample.receipt", "sample.result"]
    assert events.json[1]["before"]["status"] == "sampled" and events.json[1]["after"]["status"] == "testing"
    assert events.json[1]["actor"].startswith("lab:")
    assert api.client.get("/api/v1/audit", headers=api.lab).status_code == 403
    ok = api.client.get("/api/v1/audit/verify", headers=api.sup).json
    assert ok["verified"] is True and ok["events"] >= 3
    with db.engine.begin() as conn:  # someone edits history in the database, behind the app's back
        conn.execute(text("UPDATE audit_events SET actor = 'supervisor:nobody' WHERE id = :id"),
                     {"id": events.json[1]["id"]})
    bad = api.client.get("/api/v1/audit/verify", headers=api.sup).json
    assert bad["verified"] is False
    assert [m["event_id"] for m in bad["mismatches"]] == [events.json[1]["id"]]


def test_the_audit_list_starts_where_asked(api, code):
    api.walk(code, ["sampling"])
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    assert api.client.get(f"/api/v1/audit?since={tomorrow}", headers=api.sup).json == []
    assert len(api.client.get("/api/v1/audit?since=2020-01-01", headers=api.sup).json) >= 1
    assert api.client.get("/api/v1/audit?since=yesterday", headers=api.sup).status_code == 422


def test_text_with_nul_and_an_overlong_key_are_invalid(api, code):
    _invalid(api, code, "sampling", api.body("sampling", product_name="水壶\x00"), "product_name")
    api.walk(code, ["sampling", "receipt"])
    before = counts()
    resp = api.client.post(f"{API}/{code}/result", json=api.body("result"),
                           headers={**api.lab, "Idempotency-Key": "k" * 201})
    assert resp.status_code == 422 and "Idempotency-Key" in resp.json["errors"]
    assert counts() == before


def test_the_jobs_run_from_the_command_line(app, api, code):
    api.walk(code, ["sampling", "receipt", "result", "notification"])
    runner = app.test_cli_runner()
    out = runner.invoke(args=["samples", "finalize-expired"])
    assert out.exit_code == 0 and f"1 sample(s) made final: {code}" in out.output
    assert runner.invoke(args=["samples", "finalize-expired"]).output.startswith("0 sample(s)")
    later = (date.today() + timedelta(days=200)).isoformat()
    flagged = runner.invoke(args=["samples", "flag-overdue", "--on", later])
    assert flagged.exit_code == 0 and flagged.output.startswith("2 new")  # rectification, recheck
    assert runner.invoke(args=["samples", "flag-overdue", "--on", later]).output.startswith("0 new")


def test_the_objection_window_follows_the_setting(app, api, code, monkeypatch):
    api.walk(code, ["sampling", "receipt", "result", "notification"])
    monkeypatch.setitem(app.config, "OBJECTION_DAYS", 60)  # notified 44 days ago
    early = api.post(code, "finalize")
    assert early.status_code == 409 and "objection window is open" in early.json["message"]
    monkeypatch.setitem(app.config, "OBJECTION_DAYS", 30)
    assert api.post(code, "objection", api.body("objection", filed_at=api.at("notification", 20))).status_code == 200


# The layers: one table-driven move view, services that take who and when.

def test_the_openapi_document_describes_every_move_with_its_body(client):
    doc = client.get("/api/openapi.json").json
    schemas = doc["components"]["schemas"]
    required = {"sampling": "sampled_at", "refusal": "refused_at", "receipt": "received_at", "result": "items",
                "notification": "notified_at", "objection": "filed_at", "retest-result": "items",
                "rectification": "due_date", "recheck": "rechecked_at"}
    for action in lc.ACTIONS:
        post = doc["paths"][f"{API}/{{code}}/{action}"]["post"]
        assert {"200", "401", "403", "409"} <= set(post["responses"]), action
        assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Sample")
        if action == "finalize":
            assert "requestBody" not in post
            continue
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert required[action] in schemas[ref]["required"], action
    keyed = [a for a in lc.ACTIONS if any(p["name"] == "Idempotency-Key" for p in
                                          doc["paths"][f"{API}/{{code}}/{a}"]["post"].get("parameters", []))]
    assert keyed == ["result", "retest-result"]


def test_a_keyed_repeat_gets_the_first_answer_even_after_later_moves(api, code):
    api.walk(code, ["sampling", "receipt"])
    body, headers = api.body("result"), {**api.lab, "Idempotency-Key": "late-retry"}
    first = api.client.post(f"{API}/{code}/result", json=body, headers=headers)
    assert first.status_code == 200 and first.json["status"] == "tested"
    api.move(code, "notification")
    again = api.client.post(f"{API}/{code}/result", json=body, headers=headers)
    assert again.status_code == 200 and again.json == first.json  # the first answer, not today's state
    assert api.get(code).json["status"] == "notified"


def test_the_services_take_who_acts_and_when(api, code, world):
    """A service judges times by the ``now`` it is given, and names the actor it is given."""
    from models.auth import User

    inspector = db.session.scalar(select(User).where(User.inspector_id == world.team[0].id))
    body = {**api.body("sampling"), "sampled_at": api.base, "quantity": "6",
            "production_date": (api.base - timedelta(days=20)).date()}  # parsed, as the view hands it over
    with pytest.raises(InvalidInput) as caught:  # the visit is after the "now" we pass in
        sample_service.move(code, "sampling", body, inspector, now=api.base - timedelta(days=1))
    assert "sampled_at" in caught.value.errors
    db.session.rollback()
    answer = sample_service.move(code, "sampling", body, inspector, now=api.base + timedelta(hours=1))
    assert answer["status"] == "sampled" and answer["history"][0]["actor"] == f"inspector:{inspector.name}"
    notified = api.walk(code, ["receipt", "result", "notification"])
    notified_at = datetime.fromisoformat(notified["notified_at"])
    supervisor = None  # the system, as a job acts
    too_early = notified_at + timedelta(days=15)  # the window's last day, in any time zone nearby
    with pytest.raises(RuleViolation):
        sample_service.move(code, "finalize", {}, supervisor, now=too_early - timedelta(days=1))
    db.session.rollback()
    final = sample_service.move(code, "finalize", {}, supervisor, now=notified_at + timedelta(days=17))
    assert final["status"] == "final" and final["history"][-1]["actor"] == "system"
    assert final["final_at"] == (notified_at + timedelta(days=17)).isoformat()


# When a verdict became final, and who made the product.

def test_final_at_is_when_the_verdict_became_final_on_every_route(client, auth, factory, credit_calls):
    world = make_world(factory)
    api = Api(client, auth, world, base=now() - timedelta(days=50))
    passed, objected, refused, expired = (world.samples[0], world.sample(), world.sample(), world.sample())
    final = api.walk(passed.code, ["sampling", "receipt", "result", "notification"], "pass")
    assert final["final_at"] == final["notified_at"]
    api.walk(objected.code, ["sampling", "receipt", "result", "notification", "objection"])
    assert api.get(objected.code).json["final_at"] is None  # still open while the retest is pending
    retested = api.move(objected.code, "retest-result", "fail")
    assert retested["final_at"] == retested["result"]["tested_at"] == api.at("retest-result")
    refusal = api.move(refused.code, "refusal")
    assert refusal["final_at"] == refusal["refused_at"] == api.at("refusal")
    notified = api.walk(expired.code, ["sampling", "receipt", "result", "notification"])
    assert notified["final_at"] is None
    before = now()
    closed = api.move(expired.code, "finalize")
    assert before <= datetime.fromisoformat(closed["final_at"]) <= now()  # finalized after its window


def test_the_sampled_enterprise_is_the_named_producer_unless_the_visit_says_otherwise(api, code, world):
    assert api.get(code).json["producer"] is None  # nothing is known of the product before the visit
    sampled = api.move(code, "sampling", stage="distribution")
    assert sampled["stage"] == "distribution"
    assert sampled["producer"] == {"credit_code": world.enterprise.credit_code, "name": world.enterprise.name,
                                   "address": world.enterprise.address, "registered": True}
    assert sampled["purchase"] is None
    listed = api.client.get(API, headers=api.sup).json
    assert listed[0]["producer"]["credit_code"] == world.enterprise.credit_code


@pytest.mark.postgres
def test_two_objections_at_the_same_moment_never_push_a_retest_lab_over_capacity(app, factory, client, auth,
                                                                                credit_calls):
    world = make_world(factory, lab_capacity=1)
    free, full = world.other_labs
    world.sample(enterprise=factory.enterprise([world.category]), lab=full)  # full's one place taken
    first, second = world.samples[0], world.sample(enterprise=factory.enterprise([world.category]))
    api = Api(client, auth, world, base=now() - timedelta(days=50))
    for sample in (first, second):
        api.walk(sample.code, ["sampling", "receipt", "result", "notification"])
    answers, barrier = {}, threading.Barrier(2)

    def object_to(code):
        with app.test_client() as c:
            barrier.wait()
            answers[code] = c.post(f"{API}/{code}/objection", json=api.body("objection"), headers=api.sup)

    threads = [threading.Thread(target=object_to, args=(s.code,)) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers.values()) == [200, 409]
    refused = next(a for a in answers.values() if a.status_code == 409)
    assert "retest_lab" in refused.json["errors"]
    db.session.expire_all()
    load = db.session.scalar(select(func.count()).select_from(Sample).where(
        Sample.plan_id == world.plan.id, (Sample.lab_id == free.id) | (Sample.retest_lab_id == free.id)))
    assert load == free.capacity == 1
