"""Inspectors (执法检查人员) who can be drawn onto sampling teams."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from auth import STAFF, SUPERVISOR, actor_name, roles_required
from blueprints.common import Blueprint, SelectPage
from services import registry

blp = Blueprint("inspectors", __name__, url_prefix="/api/v1/inspectors", description="Inspectors")


class InspectorSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    region = fields.String(required=True, validate=validate.Length(min=1, max=64))
    unit = fields.String(allow_none=True, validate=validate.Length(max=200))
    active = fields.Boolean(load_default=True)


class InspectorQuerySchema(Schema):
    region = fields.String()
    active = fields.Boolean()


@blp.route("")
class Inspectors(MethodView):
    @roles_required(*STAFF)
    @blp.arguments(InspectorQuerySchema, location="query")
    @blp.response(200, InspectorSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """List inspectors, by region or active flag."""
        return registry.list_inspectors(query)

    @roles_required(*SUPERVISOR)
    @blp.arguments(InspectorSchema)
    @blp.response(201, InspectorSchema)
    def post(self, data):
        """Register an inspector."""
        return registry.create_inspector(data, actor=actor_name())


@blp.route("/<code>")
class InspectorItem(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, InspectorSchema)
    def get(self, code):
        """One inspector by code."""
        return registry.get_inspector(code)
