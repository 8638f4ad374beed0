"""Follow-up actions (后处理) after a final failure or refusal: interview, stop-sale, recall,
case, referral; their deadlines, the overdue report and job, the 处理情况 summary, and the
partner events they write."""

from datetime import timedelta

import pytest
from followup_factory import Story, now
from lifecycle_factory import make_world
from sqlalchemy import func, select

from extensions import db
from models.actions import FollowUpAction
from models.audit import AuditEvent
from services import actions, calendar
from services.events import feed

ACTIONS = "/api/v1/actions"


@pytest.fixture
def world(factory):
    return make_world(factory)


@pytest.fixture
def story(client, auth, world):
    return Story(client, auth, world)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def partner_events(type_=None) -> list:
    return [e for e in feed(0, 1000)["events"] if type_ in (None, e.type)]


def test_an_action_needs_a_final_failure_or_refusal(story, world):
    planned = world.samples[0].code
    body = {"kind": "interview", "person": "张经理"}
    conflict = story.action(planned, body, status=409)
    assert set(conflict) == {"code", "status", "message", "errors"} and "planned" in conflict["message"]
    notified = world.sample().code
    story.notified(notified)  # failed, but still open to objection
    assert "notified" in story.action(notified, body, status=409)["message"]
    passed = world.sample().code
    story.notified(passed, "pass")  # a pass is final once notified
    story.action(passed, body, status=409)
    assert count(FollowUpAction) == 0 and partner_events("follow_up") == []


def test_an_interview_on_a_final_failure(story, world):
    code = world.samples[0].code
    story.final_failure(code, critical=False)
    due = (calendar.today() + timedelta(days=20)).isoformat()
    created = story.action(code, {"kind": "interview", "person": "张经理", "due_date": due, "notes": "约谈负责人"})
    assert created["kind"] == "interview" and created["kind_name"] == "约谈"
    assert created["status"] == "open" and created["due_date"] == due and created["basis"] is None
    assert created["sample_code"] == code and created["credit_code"] == world.enterprise.credit_code
    assert created["created_by"] == "supervisor:王科长" and created["overdue"] is False
    held = story.patch(created["id"], {"held_at": now().isoformat(), "notes": "已约谈，企业承诺整改"})
    assert held["status"] == "done" and held["completed_at"] == held["held_at"]
    trail = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "action")
                               .order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor) for e in trail] == [("action.create", "supervisor:王科长"),
                                                    ("action.update", "supervisor:王科长")]
    assert trail[1].before["status"] == "open" and trail[1].after["status"] == "done"
    sent = partner_events("follow_up")
    assert [(e.credit_code, e.data["status"]) for e in sent] == [(world.enterprise.credit_code, "open"),
                                                                 (world.enterprise.credit_code, "done")]
    assert "notes" not in sent[0].data and "person" not in sent[0].data


def test_each_kind_takes_its_own_fields(story, world, client):
    code = world.samples[0].code
    story.final_failure(code)
    before = count(FollowUpAction), count(AuditEvent, AuditEvent.entity_type == "action")
    wrong = story.action(code, {"kind": "interview", "case_no": "东市监立〔2026〕12号"}, status=422)
    assert list(wrong["errors"]) == ["json.case_no"]
    bad_kind = story.action(code, {"kind": "warning"}, status=422)
    assert "json.kind" in bad_kind["errors"]
    assert (count(FollowUpAction), count(AuditEvent, AuditEvent.entity_type == "action")) == before
    case = story.action(code, {"kind": "case", "case_no": "东市监立〔2026〕12号"})
    assert case["case_no"] == "东市监立〔2026〕12号" and case["status"] == "open"
    decided = story.patch(case["id"], {"penalty": "没收违法所得，罚款2万元", "completed_at": now().isoformat()})
    assert decided["penalty"] == "没收违法所得，罚款2万元" and decided["status"] == "done"
    story.patch(case["id"], {"to_authority": "公安机关"}, status=422)
    referral = story.action(code, {"kind": "referral", "to_authority": "东莞市公安局（两法衔接）"})
    assert referral["to_authority"] == "东莞市公安局（两法衔接）"
    stop = story.action(code, {"kind": "stop_sale", "completed_at": now().isoformat()})
    assert stop["status"] == "done"


def test_a_recall_counts_what_came_back(story, world):
    code = world.samples[0].code
    story.final_failure(code)
    recall = story.action(code, {"kind": "recall", "quantity_out": 1200})
    too_many = story.patch(recall["id"], {"recovered_qty": 1201}, status=422)
    assert list(too_many["errors"]) == ["recovered_qty"]
    story.patch(recall["id"], {"recovered_qty": -1}, status=422)
    partial = story.patch(recall["id"], {"recovered_qty": 800})
    assert partial["recovered_qty"] == 800 and partial["status"] == "open"
    done = story.patch(recall["id"], {"recovered_qty": 1150, "completed_at": now().isoformat()})
    assert (done["quantity_out"], done["recovered_qty"], done["status"]) == (1200, 1150, "done")


def test_dates_may_not_be_in_the_future_nor_before_the_failure(story, world):
    code = world.samples[0].code
    story.final_failure(code, critical=False)
    future = story.action(code, {"kind": "interview", "held_at": (now() + timedelta(days=2)).isoformat()},
                          status=422)
    assert list(future["errors"]) == ["held_at"]
    early = story.action(code, {"kind": "interview", "due_date": (calendar.today() - timedelta(days=3)).isoformat()},
                         status=422)
    assert list(early["errors"]) == ["due_date"]
    assert count(FollowUpAction) == 0


def test_only_a_supervisor_records_follow_up(story, world, client, auth):
    code = world.samples[0].code
    story.final_failure(code, critical=False)
    body = {"kind": "interview"}
    assert client.post(f"/api/v1/samples/{code}/actions", json=body).status_code == 401
    assert client.post(f"/api/v1/samples/{code}/actions", json=body, headers=story.insp).status_code == 403
    assert client.get(ACTIONS, headers=story.lab).status_code == 403
    assert client.post("/api/v1/samples/NOPE/actions", json=body, headers=story.sup).status_code == 404
    assert client.patch(f"{ACTIONS}/999", json={"notes": "x"}, headers=story.sup).status_code == 404
    assert count(FollowUpAction) == 0


def test_the_list_filters_by_kind_status_and_overdue(story, world, client):
    first, second = world.samples[0].code, world.sample().code
    story.final_failure(first)
    story.final_failure(second, critical=False)
    soon = (calendar.today() + timedelta(days=5)).isoformat()
    a = story.action(first, {"kind": "recall", "quantity_out": 50, "due_date": soon})
    b = story.action(second, {"kind": "case", "due_date": soon})
    story.patch(b["id"], {"completed_at": now().isoformat()})

    def ids(query):
        answer = client.get(f"{ACTIONS}?{query}", headers=story.sup)
        assert answer.status_code == 200
        return [row["id"] for row in answer.json if row["sample_code"] in (first, second)]

    assert ids("kind=recall") == [a["id"]]
    assert ids("status=done") == [b["id"]]
    assert ids("overdue=true") == []
    later = (calendar.today() + timedelta(days=6)).isoformat()
    assert ids(f"overdue=true&as_of={later}") == [a["id"]]  # the done one is never overdue
    assert ids(f"overdue=false&as_of={later}&kind=case") == [b["id"]]
    assert client.get(f"{ACTIONS}?kind=warning", headers=story.sup).status_code == 422


def test_the_job_flags_overdue_actions_once(story, world):
    code = world.samples[0].code
    story.final_failure(code)
    due = calendar.today() + timedelta(days=3)
    late = story.action(code, {"kind": "stop_sale", "due_date": due.isoformat()})
    story.action(code, {"kind": "case", "due_date": (due + timedelta(days=30)).isoformat()})
    assert actions.flag_overdue_actions(due) == 0  # due that day: not yet late
    assert actions.flag_overdue_actions(due + timedelta(days=1)) == 1
    assert actions.flag_overdue_actions(due + timedelta(days=2)) == 0  # a rerun flags nothing new
    flagged = db.session.get(FollowUpAction, late["id"])
    assert flagged.overdue_since == due + timedelta(days=1)
    assert count(AuditEvent, AuditEvent.action == "action.overdue") == 1
    rows = actions.overdue_action_rows(due + timedelta(days=2))
    assert [(r["sample_code"], r["deadline"], r["due"], r["days_overdue"]) for r in rows] == [
        (code, "stop_sale", due, 2)]


def test_the_summary_says_what_was_done(story, world):
    passed, failed, refused = world.samples[0], world.sample(), world.sample()
    story.notified(passed.code, "pass")
    story.final_failure(failed.code)
    story.refused(refused.code)
    ids = [passed.id, failed.id, refused.id]
    assert actions.follow_up_summaries(ids) == {passed.id: None, failed.id: "待处理", refused.id: "待处理"}
    interview = story.action(failed.code, {"kind": "interview"})
    story.patch(interview["id"], {"held_at": now().isoformat()})
    story.action(failed.code, {"kind": "case", "case_no": "东市监立〔2026〕7号"})
    assert actions.follow_up_summaries([failed.id]) == {failed.id: "已约谈、已立案"}
    due = (calendar.today() + timedelta(days=30)).isoformat()
    story.post(failed.code, "rectification", {"due_date": due}, story.sup)
    assert actions.follow_up_summaries([failed.id]) == {failed.id: "已约谈、已立案、整改中"}
    story.post(failed.code, "recheck", {"rechecked_at": now().isoformat(), "verdict": "pass",
                                        "report_no": "FC-1"}, story.sup)
    assert actions.follow_up_summaries([failed.id]) == {failed.id: "已约谈、已立案、已整改、复查合格"}


def test_the_cli_flags_and_lists_overdue_actions(story, world, app):
    code = world.samples[0].code
    story.final_failure(code)
    [interview] = [a for a in actions.list_actions({}, calendar.today()) if a["sample_code"] == code]
    late = (interview["due_date"] + timedelta(days=1)).isoformat()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["actions", "flag-overdue", "--on", late])
    assert first.exit_code == 0 and "1 follow-up action(s) newly flagged overdue" in first.output
    again = runner.invoke(args=["actions", "flag-overdue", "--on", late])
    assert "0 follow-up action(s)" in again.output
    listed = runner.invoke(args=["actions", "list", "--kind", "interview"])
    assert listed.exit_code == 0 and f"{interview['id']}\t{code}\t" in listed.output


def test_a_patch_that_changes_nothing_writes_nothing(story, world):
    code = world.samples[0].code
    story.final_failure(code, critical=False)
    case = story.action(code, {"kind": "case", "case_no": "东市监立〔2026〕3号"})
    trail, sent = count(AuditEvent), len(partner_events())
    same = story.patch(case["id"], {"case_no": "东市监立〔2026〕3号"})
    assert same == case
    assert story.patch(case["id"], {}) == case
    assert (count(AuditEvent), len(partner_events())) == (trail, sent)
    changed = story.patch(case["id"], {"penalty": "警告"})
    assert changed["penalty"] == "警告" and count(AuditEvent) == trail + 1 and len(partner_events()) == sent + 1
