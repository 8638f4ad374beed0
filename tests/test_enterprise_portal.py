"""The enterprise's own token (issue 13): what it sees, its objection, its rectification report."""

import hashlib
import io
from datetime import timedelta

import pytest
from lifecycle_factory import make_world
from sqlalchemy import func, select
from test_samples_api import API, Api, now

from extensions import db
from models.audit import AuditEvent
from models.samples import RectificationReport, Sample, SampleEvent

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


@pytest.fixture
def world(factory):
    return make_world(factory)


def _counts():
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m))
            for m in (SampleEvent, AuditEvent, RectificationReport)}


def _codes(resp):
    assert resp.status_code == 200, resp.json
    return {s["sample_code"] for s in resp.json}


def test_an_enterprise_sees_its_own_samples_once_visited_and_nothing_else(client, auth, factory, world):
    api = Api(client, auth, world, base=now() - timedelta(days=20))
    ours = world.enterprise
    other = factory.enterprise([world.category])
    planned = world.samples[0]
    sampled = world.sample()
    theirs = world.sample(enterprise=other)
    made_by_us = world.sample(enterprise=other)  # sold by the other, made by us
    theirs_planned = world.sample(enterprise=other)
    api.walk(sampled.code, ["sampling"])
    api.walk(theirs.code, ["sampling"])
    api.move(made_by_us.code, "sampling", producer={"credit_code": ours.credit_code, "name": ours.name})
    me = auth.headers("enterprise", enterprise=ours)

    assert _codes(client.get(API, headers=me)) == {sampled.code, made_by_us.code}
    assert _codes(client.get(f"{API}?status=planned", headers=me)) == set()
    unknown = client.get(f"{API}/NO-SUCH-SAMPLE", headers=me)
    for code in (planned.code, theirs_planned.code):  # drawn but not visited: as if it did not exist
        hidden = client.get(f"{API}/{code}", headers=me)
        assert hidden.status_code == 404
        assert {k: v for k, v in hidden.json.items() if k != "message"} == \
            {k: v for k, v in unknown.json.items() if k != "message"}
        assert code in hidden.json["message"]  # the message names only the code asked for
    assert client.get(f"{API}/{theirs.code}", headers=me).status_code == 403
    assert client.get(f"{API}/{made_by_us.code}", headers=me).json["producer"]["credit_code"] == ours.credit_code
    assert client.get(f"{API}/{sampled.code}", headers=me).json["status"] == "sampled"
    assert client.get("/api/v1/reports/overdue", headers=me).status_code == 200
    assert client.get(API, headers=auth.headers("partner")).status_code == 403  # partners read events only

    api.walk(planned.code, ["sampling"])  # visited now: it may learn of it
    assert planned.code in _codes(client.get(API, headers=me))


def test_an_enterprise_objects_with_its_own_token_within_the_window(client, auth, factory, world):
    api = Api(client, auth, world, base=now() - timedelta(days=8))  # notified two days ago
    code = world.samples[0].code
    api.walk(code, ["sampling", "receipt", "result", "notification"])
    stranger = auth.headers("enterprise", enterprise=factory.enterprise([world.category]))
    body = {"filed_at": now().isoformat(), "reason": "企业对检验结论有异议"}
    before = _counts()
    assert client.post(f"{API}/{code}/objection", json=body, headers=stranger).status_code == 403
    assert _counts() == before
    me = auth.headers("enterprise", enterprise=world.enterprise, name="东莞某企业")
    filed = client.post(f"{API}/{code}/objection", json=body, headers=me)
    assert filed.status_code == 200, filed.json
    assert filed.json["status"] == "objection" and filed.json["retest_lab"] is not None
    assert filed.json["history"][-1]["actor"] == "enterprise:东莞某企业"
    assert client.post(f"{API}/{code}/finalize", headers=me).status_code == 403  # a supervisor's move


def test_an_enterprise_cannot_back_date_its_objection_into_a_closed_window(client, auth, world):
    api = Api(client, auth, world, base=now() - timedelta(days=50))  # notified 44 days ago
    code = world.samples[0].code
    api.walk(code, ["sampling", "receipt", "result", "notification"])
    back_dated = {"filed_at": api.at("notification", 3), "reason": "逾期提出的异议"}
    me = auth.headers("enterprise", enterprise=world.enterprise)
    before = _counts()
    late = client.post(f"{API}/{code}/objection", json=back_dated, headers=me)
    assert late.status_code == 409 and "objection window" in late.json["message"]
    assert _counts() == before
    # A supervisor recording a paper objection filed in time still may.
    assert client.post(f"{API}/{code}/objection", json=back_dated, headers=api.sup).status_code == 200


@pytest.fixture
def rectifying(client, auth, world):
    api = Api(client, auth, world, base=now() - timedelta(days=50))
    code = world.samples[0].code
    api.walk(code, ["sampling", "receipt", "result", "notification", "finalize", "rectification"])
    return api, code


def _upload(client, code, headers, content, name="整改报告.pdf", submitted_at=None):
    data = {"submitted_at": (submitted_at or now()).isoformat(), "file": (io.BytesIO(content), name)}
    return client.post(f"{API}/{code}/rectification-report", data=data, headers=headers,
                       content_type="multipart/form-data")


def test_an_enterprise_uploads_its_rectification_report_with_its_hash_in_the_trail(client, auth, world, rectifying):
    api, code = rectifying
    me = auth.headers("enterprise", enterprise=world.enterprise)
    resp = _upload(client, code, me, PDF)
    assert resp.status_code == 200, resp.json
    digest = hashlib.sha256(PDF).hexdigest()
    [report] = resp.json["rectification_reports"]
    assert (report["content_type"], report["size"], report["sha256"]) == ("application/pdf", len(PDF), digest)
    assert report["uploaded_by"].startswith("enterprise:")
    assert resp.json["status"] == "rectifying"  # a report is no move
    assert resp.json["history"][-1]["action"] == "rectification-report"
    assert resp.json["history"][-1]["data"]["sha256"] == digest
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "sample.rectification-report"))
    assert audit.after["sha256"] == digest and audit.actor.startswith("enterprise:")
    fetched = client.get(f"{API}/{code}/rectification-reports/{report['id']}", headers=api.sup)
    assert fetched.status_code == 200 and fetched.data == PDF
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert client.get(f"{API}/{code}/rectification-reports/{report['id']}", headers=me).data == PDF
    assert client.get(f"{API}/{code}/rectification-reports/{report['id'] + 1}", headers=me).status_code == 404
    assert client.get(f"{API}/{code}/rectification-reports/{report['id']}", headers=api.insp).status_code == 403
    by_supervisor = _upload(client, code, api.sup, PNG, name="现场照片.png")
    assert by_supervisor.status_code == 200
    assert [r["content_type"] for r in by_supervisor.json["rectification_reports"]] == ["application/pdf",
                                                                                         "image/png"]
    assert api.move(code, "recheck", "pass")["status"] == "rechecked"


def test_a_report_that_is_not_a_pdf_or_image_or_too_large_is_refused(app, client, auth, world, rectifying,
                                                                    monkeypatch):
    api, code = rectifying
    me = auth.headers("enterprise", enterprise=world.enterprise)
    before = _counts()
    for content in (b"", b"MZ\x90\x00 an executable named like a report", b"<html>%PDF-</html>"):
        resp = _upload(client, code, me, content)
        assert resp.status_code == 422 and "file" in resp.json["errors"], content
    monkeypatch.setitem(app.config, "RECTIFICATION_REPORT_MAX_BYTES", len(PDF) - 1)
    too_large = _upload(client, code, me, PDF)
    assert too_large.status_code == 422 and "at most" in too_large.json["errors"]["file"][0]
    future = _upload(client, code, me, PDF, submitted_at=now() + timedelta(days=1))
    assert future.status_code == 422 and "submitted_at" in future.json["errors"]
    assert _counts() == before


def test_only_the_samples_enterprise_or_a_supervisor_uploads_and_only_while_rectifying(client, auth, factory,
                                                                                       world, rectifying):
    api, code = rectifying
    before = _counts()
    stranger = auth.headers("enterprise", enterprise=factory.enterprise([world.category]))
    assert _upload(client, code, stranger, PDF).status_code == 403
    assert _upload(client, code, api.insp, PDF).status_code == 403
    assert _upload(client, code, api.lab, PDF).status_code == 403
    assert _upload(client, code, {}, PDF).status_code == 401
    assert _counts() == before
    fresh = world.sample()
    me = auth.headers("enterprise", enterprise=world.enterprise)
    assert _upload(client, fresh.code, me, PDF).status_code == 404  # planned: unknown to it
    api.walk(fresh.code, ["sampling"])
    before = _counts()
    early = _upload(client, fresh.code, me, PDF)
    assert early.status_code == 409 and "'sampled'" in early.json["message"]
    assert _counts() == before
    assert db.session.get(Sample, fresh.id).status == "sampled"


def test_a_failing_samples_whole_life_with_the_enterprises_own_token(client, auth, world):
    """Notification, the enterprise's own objection, a failed retest, the interview, rectification,
    the enterprise's report, the recheck: each step in the audit trail and on the public results."""
    api = Api(client, auth, world, base=now() - timedelta(days=10))
    code = world.samples[0].code
    me = auth.headers("enterprise", enterprise=world.enterprise, name="东莞某企业")
    api.walk(code, ["sampling", "receipt", "result", "notification"])  # notified four days ago
    filed = client.post(f"{API}/{code}/objection", headers=me,
                        json={"filed_at": (now() - timedelta(days=3)).isoformat(), "reason": "申请复检"})
    assert filed.status_code == 200, filed.json
    retest_lab = api.labs[filed.json["retest_lab"]]
    final = client.post(f"{API}/{code}/retest-result", headers=retest_lab,
                        json={**api.body("retest-result"), "tested_at": (now() - timedelta(days=2)).isoformat()})
    assert (final.json["status"], final.json["verdict"]) == ("final", "fail")

    interviews = client.get("/api/v1/actions?kind=interview", headers=api.sup).json  # a critical failure
    if not interviews:
        interviews = [client.post(f"{API}/{code}/actions", headers=api.sup,
                                  json={"kind": "interview", "person": "张经理"}).json]
    held = client.patch(f"/api/v1/actions/{interviews[0]['id']}", headers=api.sup,
                        json={"held_at": now().isoformat(), "completed_at": now().isoformat()})
    assert held.status_code == 200, held.json
    api.move(code, "rectification")
    uploaded = _upload(client, code, me, PDF)
    assert uploaded.status_code == 200, uploaded.json
    rechecked = api.move(code, "recheck", "pass")
    assert rechecked["status"] == "rechecked" and rechecked["recheck_verdict"] == "pass"

    trail = client.get("/api/v1/audit?entity_type=sample", headers=api.sup).json
    steps = [(e["action"], e["actor"].split(":")[0]) for e in trail if e["entity_id"] == code]
    assert steps == [("sample.sampling", "inspector"), ("sample.receipt", "lab"), ("sample.result", "lab"),
                     ("sample.notification", "supervisor"), ("sample.objection", "enterprise"),
                     ("sample.retest-result", "lab"), ("sample.rectification", "supervisor"),
                     ("sample.rectification-report", "enterprise"), ("sample.recheck", "supervisor")]
    actions = client.get("/api/v1/audit?entity_type=action", headers=api.sup).json
    assert [e["action"] for e in actions][-1] == "action.update"
    assert client.get("/api/v1/audit/verify", headers=api.sup).json["verified"] is True

    public = client.get(f"/api/v1/public/results?plan_id={world.plan.id}").json
    [row] = [r for r in public if r["sample_code"] == code]
    assert row["verdict"] == "fail" and row["report_no"] == "RT-001"
    assert "已约谈" in row["follow_up"] and "复查合格" in row["follow_up"]


def test_an_enterprise_reads_its_own_credit_record_and_no_other(client, auth, factory, world):
    """DESIGN.md: the enterprise sees its own credit record; another's is a 403, like its samples."""
    mine, other = factory.enterprise([world.category]), factory.enterprise([world.category])
    headers = auth.headers("enterprise", enterprise=mine)
    own = client.get(f"/api/v1/enterprises/{mine.credit_code}/credit", headers=headers)
    assert own.status_code == 200 and own.json["credit_code"] == mine.credit_code
    assert client.get(f"/api/v1/enterprises/{other.credit_code}/credit", headers=headers).status_code == 403
    unknown = "91441900000000000X"
    assert client.get(f"/api/v1/enterprises/{unknown}/credit", headers=headers).status_code == 403
    partner = auth.headers("partner")
    assert client.get(f"/api/v1/enterprises/{mine.credit_code}/credit", headers=partner).status_code == 403
