"""Background tasks (issue 15): a draw or an import too large for a request runs as a task with
progress, its status readable and its result (or its error) what the request would have answered.

The tests run each task as the web process does, in a thread of its own with its own app context
and connection, and wait for it (``TASKS_WAIT`` in the testing settings), so they are
deterministic; with ``TASKS_IN_PROCESS`` off a task stays queued for the scheduler's pickup.
"""

import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update
from test_plans_api import create_plan

from extensions import db
from jobs import tasks as tasks_job
from models.audit import AuditEvent
from models.plans import Draw, Selection
from models.registry import Enterprise
from models.samples import Sample, sample_team
from models.tasks import Task
from scripts.benchmarks.importer import CATEGORIES, make_csv
from services import calendar, draws
from services import tasks as task_service
from tests.plans_factory import fix_server_seeds, plans_world

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture(autouse=True)
def fixed_server_seeds(monkeypatch):
    fix_server_seeds(monkeypatch, "task-plan")


@pytest.fixture
def world(factory):
    return plans_world(factory)


def _seed_categories(factory):
    for code in CATEGORIES:
        factory.category(code=code)


def _task(client, headers, location):
    response = client.get(location, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _upload(client, headers, data: bytes, extra=None):
    return client.post("/api/v1/enterprises/import", data={"file": (io.BytesIO(data), "e.csv")},
                       headers={**headers, **(extra or {})}, content_type="multipart/form-data")


@pytest.fixture
def upload_folder(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "TASK_UPLOAD_FOLDER", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


@pytest.fixture
def queued_only(app, monkeypatch):
    """The web process leaves its tasks queued, as if it had died before its thread began."""
    monkeypatch.setitem(app.config, "TASKS_IN_PROCESS", False)


def _forget_draw(plan_id):
    """Remove a plan's draw and its rows, so the same plan can be drawn again from the same registry."""
    draw_id = db.session.scalar(select(Draw.id).where(Draw.plan_id == plan_id))
    samples = select(Sample.id).where(Sample.plan_id == plan_id)
    db.session.execute(delete(sample_team).where(sample_team.c.sample_id.in_(samples)))
    db.session.execute(delete(Sample).where(Sample.plan_id == plan_id))
    db.session.execute(delete(Selection).where(Selection.draw_id == draw_id))
    db.session.execute(delete(Draw).where(Draw.id == draw_id))
    db.session.commit()
    db.session.expire_all()


# --- draws ----------------------------------------------------------------------------------


def test_a_draw_asked_async_answers_202_and_gives_the_draw_a_sync_draw_gives(client, auth, world):
    sup = auth.headers("supervisor", name="张科长")
    plan = create_plan(client, sup)
    response = client.post(f"/api/v1/plans/{plan['id']}/draw", json={"public_entropy": "福彩3D 518"},
                           headers={**sup, **ASYNC})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/tasks/{body['id']}"
    assert response.headers["Preference-Applied"] == "respond-async"
    assert body["kind"] == "draw" and body["status"] == "queued" and body["plan_id"] == plan["id"]
    assert body["result"] is None and body["error"] is None

    task = _task(client, sup, response.headers["Location"])
    assert task["status"] == "succeeded" and task["status_label"] == "已完成"
    assert task["stage"] == "done" and task["stage_label"] == "已结束"
    assert task["progress"] == {"done": 3, "total": 3}
    assert task["started_at"] and task["finished_at"] and task["created_by"] == "supervisor:张科长"
    assert task["links"]["result"] == f"/api/v1/plans/{plan['id']}/draw"
    drawn = client.get(task["links"]["result"], headers=sup).get_json()
    assert task["result"] == {"plan_id": plan["id"], "selections": 8, "seed": drawn["seed"],
                              "registry_hash": drawn["registry_hash"]}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "draw"))
    assert event.actor == "supervisor:张科长"  # the task draws in the name of who asked

    _forget_draw(plan["id"])
    sync = client.post(f"/api/v1/plans/{plan['id']}/draw", json={"public_entropy": "福彩3D 518"}, headers=sup)
    assert sync.status_code == 201
    expected = sync.get_json()
    assert len(expected["selections"]) == 8
    for field in ("seed", "registry_hash", "algorithm", "allocation", "selections", "public_entropy"):
        assert drawn[field] == expected[field], field


def test_a_plan_with_more_candidates_than_the_setting_is_drawn_by_a_task(app, client, auth, world, monkeypatch):
    sup = auth.headers("supervisor")
    monkeypatch.setitem(app.config, "DRAW_SYNC_MAX_CANDIDATES", 30)  # the world's 30 enterprises: still sync
    plan = create_plan(client, sup)
    assert client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup).status_code == 201

    monkeypatch.setitem(app.config, "DRAW_SYNC_MAX_CANDIDATES", 29)
    plan = create_plan(client, sup, regions=[])
    response = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup)
    assert response.status_code == 202 and "Preference-Applied" not in response.headers
    task = _task(client, sup, response.headers["Location"])
    assert task["status"] == "succeeded", task
    assert client.get(f"/api/v1/plans/{plan['id']}/draw", headers=sup).status_code == 200


def test_a_second_draw_while_one_is_queued_is_409_and_the_scheduler_runs_it(app, client, auth, world, queued_only):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)
    url = f"/api/v1/plans/{plan['id']}/draw"
    first = client.post(url, json={}, headers={**sup, **ASYNC})
    assert first.status_code == 202
    task_id = first.get_json()["id"]
    for headers in ({**sup, **ASYNC}, sup):
        again = client.post(url, json={}, headers=headers)
        assert again.status_code == 409 and again.get_json()["errors"] == {"plan_id": ["draw in progress"]}
        assert f"task {task_id}" in again.get_json()["message"]
    assert _task(client, sup, f"/api/v1/tasks/{task_id}")["status"] == "queued"
    assert db.session.scalar(select(func.count()).select_from(Task)) == 1

    assert tasks_job.run_tasks(app) == {"ran": [task_id]}
    assert _task(client, sup, f"/api/v1/tasks/{task_id}")["status"] == "succeeded"
    assert tasks_job.run_tasks(app) == {}  # nothing left: a task runs once
    sync_409 = client.post(url, json={}, headers=sup)
    async_409 = client.post(url, json={}, headers={**sup, **ASYNC})
    assert sync_409.status_code == async_409.status_code == 409
    assert sync_409.get_json() == async_409.get_json() and sync_409.get_json()["errors"] == {
        "plan_id": ["already drawn"]}


def test_a_task_whose_plan_was_drawn_meanwhile_fails_with_the_409_of_a_second_draw(app, client, auth, world,
                                                                                  queued_only):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)
    task_id = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers={**sup, **ASYNC}).get_json()["id"]
    draws.draw_plan(plan["id"], "", actor="cli", now=calendar.now())  # e.g. from the command line
    second = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup)
    tasks_job.run_tasks(app)
    task = _task(client, sup, f"/api/v1/tasks/{task_id}")
    assert task["status"] == "failed" and task["result"] is None and "result" not in task["links"]
    assert task["error"] == second.get_json() and task["error"]["code"] == 409


def test_a_draw_that_breaks_inside_fails_its_task_with_a_500_body_never_the_request(client, auth, world,
                                                                                   monkeypatch):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(draws, "draw_plan", broken)
    response = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers={**sup, **ASYNC})
    assert response.status_code == 202
    task = _task(client, sup, response.headers["Location"])
    assert task["status"] == "failed" and task["error"]["code"] == 500
    assert set(task["error"]) == {"code", "status", "message", "errors"}
    # the plan can be drawn again: its failed task holds nothing
    monkeypatch.undo()
    assert client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers=sup).status_code == 201


def test_progress_is_written_while_the_draw_runs(app, client, auth, world, monkeypatch):
    """Each stage is stored as the draw reaches it (read back through another connection)."""
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)
    seen = []
    write = task_service.Reporter.write

    def watched(self, **values):
        written = write(self, **values)
        with db.engine.connect() as connection:
            row = connection.execute(select(Task.stage, Task.progress_done, Task.progress_total, Task.status)
                                     .where(Task.id == self.task_id)).one()
        seen.append((written, tuple(row)))
        return written

    monkeypatch.setattr(task_service.Reporter, "write", watched)
    response = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers={**sup, **ASYNC})
    assert [row for written, row in seen if written] == [
        ("reading", 0, 3, "running"), ("drawing", 1, 3, "running"), ("writing", 2, 3, "running"),
        ("done", 3, 3, "running")]
    assert _task(client, sup, response.headers["Location"])["status"] == "succeeded"


# --- what a dead process left behind ----------------------------------------------------------


def test_a_stale_running_task_is_run_again_once_then_failed(app, client, auth, world, queued_only):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)
    task_id = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers={**sup, **ASYNC}).get_json()["id"]
    long_ago = calendar.now() - timedelta(seconds=app.config["TASK_STALE_SECONDS"] + 60)
    recently = calendar.now() - timedelta(seconds=10)

    def left_running(attempts, heartbeat):
        db.session.execute(update(Task).where(Task.id == task_id).values(
            status="running", stage="drawing", attempts=attempts, started_at=heartbeat, heartbeat_at=heartbeat))
        db.session.commit()

    left_running(1, recently)  # still beating: someone is running it
    assert tasks_job.run_tasks(app) == {}
    assert _task(client, sup, f"/api/v1/tasks/{task_id}")["status"] == "running"

    left_running(1, long_ago)  # its process died once: run again, to the end
    assert tasks_job.run_tasks(app) == {"requeued": [task_id], "ran": [task_id]}
    task = _task(client, sup, f"/api/v1/tasks/{task_id}")
    assert task["status"] == "succeeded" and task["result"]["selections"] == 8

    other = create_plan(client, sup)
    task_id = client.post(f"/api/v1/plans/{other['id']}/draw", json={}, headers={**sup, **ASYNC}).get_json()["id"]
    left_running(2, long_ago)  # died twice: failed, saying so
    assert tasks_job.run_tasks(app) == {"failed": [task_id]}
    task = _task(client, sup, f"/api/v1/tasks/{task_id}")
    assert task["status"] == "failed" and task["error"]["code"] == 500
    assert "stopped twice" in task["error"]["message"] and task["finished_at"]
    assert client.post(f"/api/v1/plans/{other['id']}/draw", json={}, headers=sup).status_code == 201


def test_a_run_swept_as_stale_writes_nothing_over_the_run_that_replaced_it(app, client, auth, world, queued_only):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)
    task_id = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers={**sup, **ASYNC}).get_json()["id"]
    assert task_service.claim(task_id, calendar.now() - timedelta(hours=1))  # a run that then went silent
    assert tasks_job.run_tasks(app) == {"requeued": [task_id], "ran": [task_id]}
    late = {"status": "failed", "error": {"code": 500, "status": "Internal Server Error", "message": "late",
                                          "errors": {}}}
    assert task_service.finish(task_id, 1, late, calendar.now()) is False  # the first run, finishing late
    reporter = task_service.Reporter(task_id, 1, db.engine, calendar.now, 30)
    reporter.write(stage="drawing")
    task = _task(client, sup, f"/api/v1/tasks/{task_id}")
    assert task["status"] == "succeeded" and task["stage"] == "done" and task["error"] is None


# --- imports ----------------------------------------------------------------------------------


def test_an_async_import_with_a_bad_row_fails_with_the_422_of_the_sync_import(client, auth, factory,
                                                                            upload_folder):
    _seed_categories(factory)
    sup = auth.headers("supervisor")
    lines = make_csv(120, seed=3).decode().splitlines()
    lines[50] = lines[50].replace(",active", ",dormant")  # row 51
    data = ("\n".join(lines) + "\n").encode()
    sync = _upload(client, sup, data)
    assert sync.status_code == 422 and list(sync.get_json()["errors"]) == ["51"]

    response = _upload(client, sup, data, ASYNC)
    assert response.status_code == 202 and response.get_json()["kind"] == "enterprise_import"
    task = _task(client, sup, response.headers["Location"])
    assert task["status"] == "failed" and task["error"] == sync.get_json()
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0
    assert list(upload_folder.iterdir()) == []  # the saved upload is gone with its task


def test_a_large_upload_is_imported_by_a_task(app, client, auth, factory, upload_folder, monkeypatch):
    _seed_categories(factory)
    sup = auth.headers("supervisor")
    data = make_csv(300, seed=9)
    monkeypatch.setitem(app.config, "IMPORT_SYNC_MAX_BYTES", len(data))
    assert _upload(client, sup, make_csv(200, seed=9)).get_json() == {"created": 200, "updated": 0}  # small: 200

    monkeypatch.setitem(app.config, "IMPORT_SYNC_MAX_BYTES", len(data) - 1)
    response = _upload(client, sup, data)
    assert response.status_code == 202, response.get_json()
    task = _task(client, sup, response.headers["Location"])
    assert task["status"] == "succeeded", task
    assert task["result"] == {"created": 100, "updated": 200} and "result" not in task["links"]
    assert task["progress"] == {"done": 300, "total": 300}
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 300
    assert list(upload_folder.iterdir()) == []


def test_a_queued_import_waits_for_the_scheduler_with_its_upload(app, client, auth, factory, upload_folder,
                                                                queued_only):
    _seed_categories(factory)
    sup = auth.headers("supervisor")
    data = make_csv(50, seed=4)
    task_id = _upload(client, sup, data, ASYNC).get_json()["id"]
    saved = upload_folder / f"task-{task_id}.csv"
    assert saved.read_bytes() == data
    assert tasks_job.run_tasks(app) == {"ran": [task_id]}
    assert _task(client, sup, f"/api/v1/tasks/{task_id}")["result"] == {"created": 50, "updated": 0}
    assert not saved.exists()


# --- reading tasks ------------------------------------------------------------------------------


def test_tasks_are_listed_newest_first_for_supervisors_only(app, client, auth, world, factory, upload_folder,
                                                            queued_only):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)
    draw_task = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers={**sup, **ASYNC}).get_json()
    import_task = _upload(client, sup, make_csv(5, seed=1), ASYNC).get_json()
    listed = client.get("/api/v1/tasks", headers=sup)
    assert [t["id"] for t in listed.get_json()] == [import_task["id"], draw_task["id"]]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 2
    only = client.get("/api/v1/tasks?kind=draw&status=queued", headers=sup).get_json()
    assert [t["id"] for t in only] == [draw_task["id"]] and only[0]["kind_label"] == "抽取"

    inspector = auth.headers("inspector", inspector=world["inspectors"][0])
    for url in ("/api/v1/tasks", f"/api/v1/tasks/{draw_task['id']}"):
        assert client.get(url).status_code == 401
        assert client.get(url, headers=inspector).status_code == 403
    forbidden = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers={**inspector, **ASYNC})
    assert forbidden.status_code == 403
    missing = client.get("/api/v1/tasks/999999", headers=sup)
    assert missing.status_code == 404 and set(missing.get_json()) == {"code", "status", "message", "errors"}


@pytest.mark.parametrize("header, wanted", [
    ("respond-async", True), ("respond-async, wait=10", True), ("wait=5; foo, RESPOND-ASYNC", True),
    ("return=minimal", False), ("", False),
])
def test_the_prefer_header_is_read_as_rfc_7240_writes_it(app, header, wanted):
    from blueprints.tasks import prefers_async

    with app.test_request_context(headers={"Prefer": header} if header else {}):
        assert prefers_async() is wanted


def test_the_cli_lists_tasks_and_runs_the_queued_ones(app, client, auth, world, queued_only):
    sup = auth.headers("supervisor")
    plan = create_plan(client, sup)
    task_id = client.post(f"/api/v1/plans/{plan['id']}/draw", json={}, headers={**sup, **ASYNC}).get_json()["id"]
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["tasks", "list"])
    assert listed.exit_code == 0 and f"{task_id}\tdraw\tqueued" in listed.output
    ran = runner.invoke(args=["tasks", "run"])
    assert ran.exit_code == 0, ran.output
    assert f"ran: {task_id}" in ran.output
    assert f"{task_id}\tdraw\tsucceeded\tdone\t3/3" in runner.invoke(args=["tasks", "list"]).output
