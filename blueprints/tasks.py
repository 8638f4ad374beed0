"""Background tasks (后台任务): a draw or an enterprise import too large for one request runs as a
task; the request answers ``202 Accepted`` with it and ``Location: /api/v1/tasks/{id}``.

A client asks for that with ``Prefer: respond-async`` (RFC 7240); a draw over more than
``DRAW_SYNC_MAX_CANDIDATES`` candidates, or an upload larger than ``IMPORT_SYNC_MAX_BYTES``, is
queued anyway. Supervisors read a task's status, stage and progress, then its result (or the
error the synchronous request would have answered, in the same shape).
"""

from flask import jsonify, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from auth import SUPERVISOR, roles_required
from blueprints.common import Blueprint, SelectPage
from sampling.enums import LABELS, TASK_KINDS, TASK_STAGES, TASK_STATUSES
from services import tasks

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="Background tasks (draws, imports)")

PREFER_ASYNC_DOC = {
    "parameters": [{
        "in": "header", "name": "Prefer", "required": False, "schema": {"type": "string"},
        "description": "respond-async (RFC 7240): answer 202 with a task at once, GET /api/v1/tasks/{id} follows it",
    }],
}
LOCATION_HEADER = {"Location": {"description": "/api/v1/tasks/{id}", "schema": {"type": "string"}}}


def prefers_async() -> bool:
    """Whether the request's ``Prefer`` header asks for ``respond-async``."""
    preferences = ",".join(request.headers.getlist("Prefer"))
    return any(part.split(";")[0].split("=")[0].strip().lower() == "respond-async"
               for part in preferences.split(","))


def task_links(task) -> dict:
    found = {"self": f"/api/v1/tasks/{task.id}"}
    if task.kind == "draw" and task.status == "succeeded":
        found["result"] = f"/api/v1/plans/{task.plan_id}/draw"
    return found


class ProgressSchema(Schema):
    done = fields.Integer()
    total = fields.Integer(allow_none=True, metadata={"description": "null while not known"})


class TaskSchema(Schema):
    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(TASK_KINDS))
    kind_label = fields.Function(lambda t: LABELS["task_kind"][t.kind])
    status = fields.String(validate=validate.OneOf(TASK_STATUSES),
                           metadata={"description": "queued, running, succeeded or failed"})
    status_label = fields.Function(lambda t: LABELS["task_status"][t.status])
    stage = fields.String(allow_none=True, metadata={"description": f"{', '.join(TASK_STAGES)}; null while queued"})
    stage_label = fields.Function(lambda t: LABELS["task_stage"].get(t.stage))
    progress = fields.Function(lambda t: {"done": t.progress_done, "total": t.progress_total},
                               metadata={"description": "{done, total}: a draw counts its 3 stages, an import rows"})
    plan_id = fields.Integer(allow_none=True)
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    started_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    result = fields.Dict(allow_none=True, metadata={
        "description": "draw: {plan_id, selections, seed, registry_hash}; the draw itself is at links.result "
                       "(GET /api/v1/plans/{id}/draw); import: {created, updated}"})
    error = fields.Dict(allow_none=True, metadata={
        "description": "a failed task's error, the body the synchronous request would have answered: "
                       "{code, status, message, errors}"})
    links = fields.Function(task_links, metadata={"description": "self; result: where a finished draw is read"})


class TaskQuerySchema(Schema):
    kind = fields.String(validate=validate.OneOf(TASK_KINDS))
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))


def accepted(task):
    """``202 Accepted`` with the task, where to follow it, and the preference applied (if asked)."""
    response = jsonify(TaskSchema().dump(task))
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/tasks/{task.id}"
    if prefers_async():
        response.headers["Preference-Applied"] = "respond-async"
    return response


@blp.route("")
class Tasks(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """Background tasks, newest first, by kind or status."""
        return tasks.list_tasks(query.get("kind"), query.get("status"))


@blp.route("/<int:task_id>")
class TaskItem(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.response(200, TaskSchema)
    def get(self, task_id):
        """One task: status, stage, progress, then its result or its error."""
        return tasks.get_task(task_id)
