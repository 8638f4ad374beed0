"""Enterprises (企业), keyed by unified social credit code, and their CSV import."""

import os

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates

from auth import STAFF, SUPERVISOR, actor_name, roles_required
from blueprints.answer_cache import kept_while_unchanged
from blueprints.common import Blueprint, SelectPage
from blueprints.tasks import LOCATION_HEADER, PREFER_ASYNC_DOC, TaskSchema, accepted, prefers_async
from sampling.credit_code import problem as credit_code_problem
from sampling.enums import (
    DEFAULT_ENTERPRISE_KINDS,
    DEFAULT_SCALE,
    DEFAULT_STATUS,
    ENTERPRISE_KINDS,
    ENTERPRISE_STATUSES,
    GRADES,
    SCALES,
)
from services import calendar, enterprise_import, registry, tasks, uploads

blp = Blueprint("enterprises", __name__, url_prefix="/api/v1/enterprises", description="Enterprises")


class EnterpriseUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    region = fields.String(validate=validate.Length(min=1, max=64))
    address = fields.String(allow_none=True, validate=validate.Length(max=300))
    scale = fields.String(validate=validate.OneOf(SCALES))
    category_codes = fields.List(fields.String(), validate=validate.Length(min=1))
    status = fields.String(validate=validate.OneOf(ENTERPRISE_STATUSES))
    kinds = fields.List(fields.String(validate=validate.OneOf(ENTERPRISE_KINDS)), validate=validate.Length(min=1),
                        metadata={"description": "producer (生产企业), seller (销售者), online_shop (网店), "
                                                 "importer (跨境电商/进口商); one or more"})
    platform = fields.String(allow_none=True, validate=validate.Length(max=64),
                             metadata={"description": "an online shop's platform (电商平台); required for online_shop"})
    shop_id = fields.String(allow_none=True, validate=validate.Length(max=64),
                            metadata={"description": "the shop's id on its platform; required for online_shop"})


class EnterpriseSchema(EnterpriseUpdateSchema):
    id = fields.Integer(dump_only=True)
    credit_code = fields.String(required=True, metadata={"example": "91350100M000100Y43"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    region = fields.String(required=True, validate=validate.Length(min=1, max=64))
    scale = fields.String(load_default=DEFAULT_SCALE, validate=validate.OneOf(SCALES))
    category_codes = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    status = fields.String(load_default=DEFAULT_STATUS, validate=validate.OneOf(ENTERPRISE_STATUSES))
    kinds = fields.List(fields.String(validate=validate.OneOf(ENTERPRISE_KINDS)), validate=validate.Length(min=1),
                        load_default=lambda: list(DEFAULT_ENTERPRISE_KINDS),
                        metadata={"description": "one or more of producer, seller, online_shop, importer"})
    credit_grade = fields.String(dump_only=True, validate=validate.OneOf(GRADES))

    @validates("credit_code")
    def check_credit_code(self, value, **_):
        wrong = credit_code_problem(value)
        if wrong:
            raise ValidationError(wrong)


class EnterpriseQuerySchema(Schema):
    region = fields.String()
    category = fields.String(metadata={"description": "category code"})
    status = fields.String(validate=validate.OneOf(ENTERPRISE_STATUSES))
    grade = fields.String(validate=validate.OneOf(GRADES))
    kind = fields.String(validate=validate.OneOf(ENTERPRISE_KINDS),
                         metadata={"description": "enterprises of this kind"})
    q = fields.String(metadata={"description": "part of the name or credit code"})


class ImportFileSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportResultSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()


@blp.route("")
class Enterprises(MethodView):
    @roles_required(*STAFF)
    @kept_while_unchanged
    @blp.arguments(EnterpriseQuerySchema, location="query")
    @blp.response(200, EnterpriseSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """List enterprises by region, category, status, grade, kind or a search term."""
        return registry.list_enterprises(query)

    @roles_required(*SUPERVISOR)
    @blp.arguments(EnterpriseSchema)
    @blp.response(201, EnterpriseSchema)
    def post(self, data):
        """Register an enterprise; its credit code's check character is verified."""
        return registry.create_enterprise(data, actor=actor_name())


@blp.route("/<credit_code>")
class EnterpriseItem(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, EnterpriseSchema)
    def get(self, credit_code):
        """One enterprise, with its current credit grade."""
        return registry.get_enterprise(credit_code)

    @roles_required(*SUPERVISOR)
    @blp.arguments(EnterpriseUpdateSchema)
    @blp.response(200, EnterpriseSchema)
    def patch(self, data, credit_code):
        """Change any writable field."""
        return registry.update_enterprise(credit_code, data, actor=actor_name())


@blp.route("/import")
class EnterpriseImport(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(ImportFileSchema, location="files")
    @blp.doc(**PREFER_ASYNC_DOC)
    @blp.response(200, ImportResultSchema)
    @blp.alt_response(202, schema=TaskSchema, headers=LOCATION_HEADER, success=True,
                      description="Queued as a task (Prefer: respond-async, or a file larger than "
                                  "IMPORT_SYNC_MAX_BYTES): follow GET /api/v1/tasks/{id}")
    def post(self, files):
        """Upsert enterprises from a CSV file, all or nothing; errors are keyed by row number. A large
        file, or one sent with ``Prefer: respond-async``, is imported by a task: 202 and its Location."""
        stream = files["file"].stream
        size = stream.seek(0, os.SEEK_END)
        stream.seek(0)
        config = current_app.config
        if not prefers_async() and size <= config["IMPORT_SYNC_MAX_BYTES"]:
            return enterprise_import.import_enterprises(uploads.open_csv(stream), actor=actor_name())
        folder = config["TASK_UPLOAD_FOLDER"] or os.path.join(current_app.instance_path, "uploads")
        task = tasks.queue_import(stream, actor=actor_name(), now=calendar.now(), folder=folder)
        response = accepted(task)
        tasks.start(task.id)
        return response
