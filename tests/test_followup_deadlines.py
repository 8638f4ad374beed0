"""What a final failure calls for, opened where the verdict becomes final: an interview (约谈)
within 30 days for a serious failure (a failed critical item, a second failure within 12
months, a failed recheck) or a refusal; the overdue report and the partner feed show them."""

from datetime import timedelta

import pytest
from followup_factory import Story, now
from lifecycle_factory import make_world
from sqlalchemy import select

from extensions import db
from models.actions import FollowUpAction
from models.audit import AuditEvent
from sampling import credit
from services import calendar, samples
from services.events import feed


@pytest.fixture
def world(factory):
    return make_world(factory)


@pytest.fixture
def story(client, auth, world):
    return Story(client, auth, world)


def actions_of(code: str) -> list[FollowUpAction]:
    return db.session.scalars(select(FollowUpAction).join(FollowUpAction.sample)
                              .where(FollowUpAction.sample.has(code=code)).order_by(FollowUpAction.id)).all()


def events_of(type_: str) -> list:
    return [e for e in feed(0, 1000)["events"] if e.type == type_]


def test_a_failed_critical_item_calls_for_an_interview_within_30_days(story, world):
    code = world.samples[0].code
    final = story.final_failure(code, critical=True)
    [interview] = actions_of(code)
    final_on = calendar.local_date(interview.sample.final_at)
    assert (interview.kind, interview.basis, interview.status) == ("interview", "serious_failure", "open")
    assert interview.due_date == final_on + timedelta(days=30)
    assert interview.created_by == "supervisor:王科长" and final["status"] == "final"
    [serious] = events_of("serious_failure")
    assert serious.credit_code == world.enterprise.credit_code
    assert serious.data["sample_code"] == code and credit.REASON_CRITICAL in serious.data["reasons"]
    assert serious.data["interview_due"] == interview.due_date.isoformat()
    assert [e.data["kind"] for e in events_of("follow_up")] == ["interview"]
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "action")).all()
    assert [(a.action, a.entity_id) for a in audit] == [("action.create", str(interview.id))]


def test_a_single_general_failure_calls_for_nothing(story, world):
    code = world.samples[0].code
    story.final_failure(code, critical=False)
    assert actions_of(code) == [] and events_of("serious_failure") == []


def test_a_second_failure_within_12_months_calls_for_an_interview(story, world):
    first, second = world.samples[0].code, world.sample().code
    story.final_failure(first, critical=False)
    assert actions_of(first) == []
    story.final_failure(second, critical=False)
    [interview] = actions_of(second)
    assert interview.basis == "serious_failure"
    [serious] = events_of("serious_failure")
    assert credit.REASON_REPEAT.format(12) in serious.data["reasons"]


def test_a_refusal_calls_for_an_interview_from_the_day_it_was_refused(story, world):
    code = world.samples[0].code
    refused = story.refused(code)
    [interview] = actions_of(code)
    assert (interview.kind, interview.basis) == ("interview", "refusal")
    refused_on = calendar.local_date(interview.sample.refused_at)
    assert interview.due_date == refused_on + timedelta(days=30) and refused["status"] == "refused"
    assert interview.created_by.startswith("inspector:")
    assert events_of("serious_failure")[0].data["basis"] == "refusal"


def test_a_failed_recheck_calls_for_another_interview(story, world):
    code = world.samples[0].code
    story.final_failure(code, critical=False)
    story.post(code, "rectification", {"due_date": (calendar.today() + timedelta(days=20)).isoformat()}, story.sup)
    rechecked_at = now()
    story.post(code, "recheck", {"rechecked_at": rechecked_at.isoformat(), "verdict": "fail",
                                 "report_no": "FC-9"}, story.sup)
    [interview] = actions_of(code)
    assert interview.basis == "recheck_failed"
    assert interview.due_date == calendar.local_date(rechecked_at) + timedelta(days=30)
    assert credit.REASON_RECHECK_FAILED in events_of("serious_failure")[0].data["reasons"]


def test_the_deadline_is_a_setting(story, world, app):
    app.config["INTERVIEW_DAYS"] = 45
    try:
        story.final_failure(world.samples[0].code)
        [interview] = actions_of(world.samples[0].code)
        assert interview.due_date == calendar.local_date(interview.sample.final_at) + timedelta(days=45)
    finally:
        app.config["INTERVIEW_DAYS"] = 30


def test_the_job_that_closes_the_window_opens_the_follow_up_once(story, world):
    code = world.samples[0].code
    story.notified(code, "fail", critical=True)
    assert samples.finalize_expired(calendar.today(), calendar.now()) == [code]
    assert samples.finalize_expired(calendar.today(), calendar.now()) == []
    [interview] = actions_of(code)
    assert interview.created_by == "system" and len(events_of("serious_failure")) == 1


def test_an_overdue_interview_is_in_the_overdue_report_for_supervisors(story, world, client):
    code = world.samples[0].code
    story.final_failure(code)
    [interview] = actions_of(code)
    late = (interview.due_date + timedelta(days=3)).isoformat()
    report = client.get(f"/api/v1/reports/overdue?as_of={late}&deadline=interview", headers=story.sup)
    assert report.status_code == 200
    assert [(r["sample_code"], r["deadline"], r["due"], r["days_overdue"], r["action_id"]) for r in report.json] == [
        (code, "interview", interview.due_date.isoformat(), 3, interview.id)]
    every = client.get(f"/api/v1/reports/overdue?as_of={late}", headers=story.sup).json
    assert [r["action_id"] for r in every if r["deadline"] == "interview"] == [interview.id]
    on_time = client.get(f"/api/v1/reports/overdue?as_of={interview.due_date.isoformat()}&deadline=interview",
                         headers=story.sup)
    assert on_time.json == []
    inspector = client.get(f"/api/v1/reports/overdue?as_of={late}", headers=story.insp)
    assert inspector.status_code == 200 and all(r["deadline"] != "interview" for r in inspector.json)
    held = story.patch(interview.id, {"held_at": now().isoformat()})
    assert held["status"] == "done"
    assert client.get(f"/api/v1/reports/overdue?as_of={late}&deadline=interview", headers=story.sup).json == []


def test_a_failure_of_a_producer_registered_elsewhere_calls_for_a_referral_within_10_days(story, world):
    code = world.samples[0].code
    story.tested(code, "fail", critical=True,
                 producer={"name": "佛山市某电器有限公司", "address": "佛山市顺德区北滘镇"})
    story.post(code, "notification", {"notified_at": story.at(6)}, story.sup)
    assert actions_of(code) == []  # not final yet: open to objection
    story.post(code, "finalize", {}, story.sup)
    [referral] = actions_of(code)
    final_on = calendar.local_date(referral.sample.final_at)
    assert (referral.kind, referral.basis, referral.status) == ("referral", "producer_elsewhere", "open")
    assert referral.due_date == final_on + timedelta(days=10)
    assert referral.to_authority == "标称生产者所在地市场监督管理部门（佛山市某电器有限公司，佛山市顺德区北滘镇）"
    [sent] = events_of("follow_up")
    assert sent.data["kind"] == "referral" and sent.data["due_date"] == referral.due_date.isoformat()
    late = (referral.due_date + timedelta(days=1)).isoformat()
    rows = story.client.get(f"/api/v1/reports/overdue?as_of={late}&deadline=referral", headers=story.sup).json
    assert [(r["sample_code"], r["days_overdue"]) for r in rows] == [(code, 1)]
    done = story.patch(referral.id, {"to_authority": "佛山市顺德区市场监督管理局", "completed_at": now().isoformat()})
    assert done["status"] == "done" and done["to_authority"] == "佛山市顺德区市场监督管理局"


def test_a_failure_of_a_registered_producer_found_at_a_seller_is_filed_under_the_producer(story, world, factory):
    producer = factory.enterprise([world.category], name="东莞市美好电器制造有限公司")
    code = world.samples[0].code
    story.tested(code, "fail", critical=True, producer={"credit_code": producer.credit_code, "name": producer.name})
    story.post(code, "notification", {"notified_at": story.at(6)}, story.sup)
    story.post(code, "finalize", {}, story.sup)
    [interview] = actions_of(code)
    assert interview.basis == "serious_failure"
    assert [e.credit_code for e in events_of("serious_failure")] == [producer.credit_code]
    assert [e.credit_code for e in events_of("follow_up")] == [producer.credit_code]
