"""Accredited labs (检验机构) and the categories they may test."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from auth import STAFF, SUPERVISOR, actor_name, roles_required
from blueprints.common import Blueprint, SelectPage
from services import registry

blp = Blueprint("labs", __name__, url_prefix="/api/v1/labs", description="Accredited labs")


class LabSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    accreditation = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                  metadata={"description": "CMA/CNAS accreditation number"})
    category_codes = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    capacity = fields.Integer(load_default=100, validate=validate.Range(min=0),
                              metadata={"description": "samples per plan"})
    active = fields.Boolean(load_default=True)


class LabQuerySchema(Schema):
    category = fields.String(metadata={"description": "accredited for this category code"})


@blp.route("")
class Labs(MethodView):
    @roles_required(*STAFF)
    @blp.arguments(LabQuerySchema, location="query")
    @blp.response(200, LabSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """List labs, optionally those accredited for a category."""
        return registry.list_labs(query)

    @roles_required(*SUPERVISOR)
    @blp.arguments(LabSchema)
    @blp.response(201, LabSchema)
    def post(self, data):
        """Register a lab."""
        return registry.create_lab(data, actor=actor_name())


@blp.route("/<code>")
class LabItem(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, LabSchema)
    def get(self, code):
        """One lab by code."""
        return registry.get_lab(code)
