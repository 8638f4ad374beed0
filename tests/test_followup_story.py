"""Must-show (issue 13): the life of a failing sample, from notification through the objection
filed with the enterprise's own token, the retest that makes the failure final, the interview
it calls for, the rectification report the enterprise uploads, to the passing recheck; every
step in the audit trail, the partner feed and the public results announcement."""

import hashlib
import io
from datetime import timedelta

from followup_factory import API, Story, items, now
from lifecycle_factory import make_world
from sqlalchemy import select

from extensions import db
from models.actions import FollowUpAction
from models.audit import AuditEvent
from services import calendar

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_the_life_of_a_failing_sample(client, auth, factory):
    world = make_world(factory)
    story = Story(client, auth, world, days_ago=12)  # notified 6 days ago: the window is open
    code = world.samples[0].code
    own = auth.headers("enterprise", enterprise=world.enterprise, name="美好电器")
    partner = auth.headers("partner", name="发改委信用平台")

    # Tested and notified: failed, open to objection; not yet on the public announcement.
    notified = story.notified(code, "fail", critical=True)
    assert notified["status"] == "notified" and notified["verdict"] == "fail"
    assert client.get(f"/api/v1/public/results?plan_id={world.plan.id}").json == []

    # The enterprise sees its sample and objects with its own token, inside the window.
    mine = client.get(f"{API}/{code}", headers=own)
    assert mine.status_code == 200 and mine.json["status"] == "notified"
    objection = client.post(f"{API}/{code}/objection", headers=own,
                            json={"filed_at": story.at(10), "reason": "对泄漏电流检验结论有异议，申请复检"})
    assert objection.status_code == 200, objection.json
    assert objection.json["status"] == "objection" and objection.json["retest_lab"] is not None

    # The retest lab confirms the failure: final, and a failed safety item calls for an interview.
    retest_lab = next(lab for lab in world.other_labs if lab.code == objection.json["retest_lab"])
    final = story.post(code, "retest-result", {"report_no": "RT-2026-031", "tested_at": story.at(11),
                                               "items": items("fail", critical=True)}, story.retest_labs[retest_lab.id])
    assert final["status"] == "final" and final["verdict"] == "fail"
    listed = client.get("/api/v1/actions?kind=interview", headers=story.sup).json
    [interview] = [a for a in listed if a["sample_code"] == code]
    final_on = calendar.local_date(db.session.get(FollowUpAction, interview["id"]).sample.final_at)
    assert interview["basis"] == "serious_failure" and interview["status"] == "open"
    assert interview["due_date"] == (final_on + timedelta(days=30)).isoformat()

    # The interview is held; the enterprise is ordered to rectify and uploads its report.
    held = story.patch(interview["id"], {"held_at": story.at(11.5), "person": "李总经理",
                                         "notes": "约谈企业负责人，责令召回并整改"})
    assert held["status"] == "done"
    story.post(code, "rectification", {"due_date": (calendar.today() + timedelta(days=10)).isoformat(),
                                       "notes": "限期整改"}, story.sup)
    upload = client.post(f"{API}/{code}/rectification-report", headers=own, content_type="multipart/form-data",
                         data={"submitted_at": now().isoformat(),
                               "file": (io.BytesIO(PDF), "整改报告.pdf", "application/pdf")})
    assert upload.status_code == 200, upload.json
    public = client.get(f"/api/v1/public/results?plan_id={world.plan.id}").json
    assert [r["follow_up"] for r in public] == ["已约谈、已整改"]

    # The recheck passes.
    rechecked = story.post(code, "recheck", {"rechecked_at": now().isoformat(), "verdict": "pass",
                                             "report_no": "FC-2026-007"}, story.sup)
    assert rechecked["status"] == "rechecked" and rechecked["recheck_verdict"] == "pass"

    # Every step is in the audit trail, each by who did it, and the trail verifies.
    trail = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity_id.in_([code, str(interview["id"])])).order_by(AuditEvent.id)).all()
    steps = [(e.action, e.actor.split(":")[0]) for e in trail]
    for step in [("sample.sampling", "inspector"), ("sample.receipt", "lab"), ("sample.result", "lab"),
                 ("sample.notification", "supervisor"), ("sample.objection", "enterprise"),
                 ("sample.retest-result", "lab"), ("action.create", "lab"), ("action.update", "supervisor"),
                 ("sample.rectification", "supervisor"), ("sample.recheck", "supervisor")]:
        assert step in steps, (step, steps)
    order = [action for action, _ in steps]
    assert order.index("sample.objection") < order.index("sample.retest-result") < order.index("action.create") \
        < order.index("action.update") < order.index("sample.recheck")
    sha = hashlib.sha256(PDF).hexdigest()
    assert any(sha in str(e.after) and e.actor.startswith("enterprise:") for e in trail), "report's sha256 audited"
    assert client.get("/api/v1/audit/verify", headers=story.sup).json["verified"] is True

    # Partners read the serious failure and the follow-up, in order, under the enterprise's code.
    feed = client.get("/api/v1/partner/events?after=0", headers=partner).json["events"]
    mine = [(e["type"], e["data"].get("status")) for e in feed if e["credit_code"] == world.enterprise.credit_code
            and e["type"] in ("serious_failure", "follow_up")]
    assert mine == [("follow_up", "open"), ("serious_failure", None), ("follow_up", "done")]

    # The public results announcement says what was done.
    public = client.get(f"/api/v1/public/results?plan_id={world.plan.id}").json
    assert [(r["sample_code"], r["verdict"], r["follow_up"]) for r in public] == [
        (code, "fail", "已约谈、已整改、复查合格")]
    page = client.get(f"/results?plan_id={world.plan.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert world.enterprise.name in html and "处理情况" in html and "已约谈、已整改、复查合格" in html
