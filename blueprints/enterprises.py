"""Enterprises (企业), keyed by unified social credit code, and their CSV import."""

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import or_, select

from auth import STAFF, SUPERVISOR, roles_required
from blueprints.common import Blueprint, SelectPage, get_or_404
from models.registry import CREDIT_GRADES, ENTERPRISE_STATUSES, SCALES, Category, Enterprise
from sampling.credit_code import problem as credit_code_problem
from services import registry

blp = Blueprint("enterprises", __name__, url_prefix="/api/v1/enterprises", description="Enterprises")


class EnterpriseUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    region = fields.String(validate=validate.Length(min=1, max=64))
    address = fields.String(allow_none=True, validate=validate.Length(max=300))
    scale = fields.String(validate=validate.OneOf(SCALES))
    category_codes = fields.List(fields.String(), validate=validate.Length(min=1))
    status = fields.String(validate=validate.OneOf(ENTERPRISE_STATUSES))


class EnterpriseSchema(EnterpriseUpdateSchema):
    id = fields.Integer(dump_only=True)
    credit_code = fields.String(required=True, metadata={"example": "91350100M000100Y43"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    region = fields.String(required=True, validate=validate.Length(min=1, max=64))
    scale = fields.String(load_default="small", validate=validate.OneOf(SCALES))
    category_codes = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    status = fields.String(load_default="active", validate=validate.OneOf(ENTERPRISE_STATUSES))
    credit_grade = fields.String(dump_only=True, validate=validate.OneOf(CREDIT_GRADES))

    @validates("credit_code")
    def check_credit_code(self, value, **_):
        wrong = credit_code_problem(value)
        if wrong:
            raise ValidationError(wrong)


class EnterpriseQuerySchema(Schema):
    region = fields.String()
    category = fields.String(metadata={"description": "category code"})
    status = fields.String(validate=validate.OneOf(ENTERPRISE_STATUSES))
    grade = fields.String(validate=validate.OneOf(CREDIT_GRADES))
    q = fields.String(metadata={"description": "part of the name or credit code"})


class ImportFileSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportResultSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()


@blp.route("")
class Enterprises(MethodView):
    @roles_required(*STAFF)
    @blp.arguments(EnterpriseQuerySchema, location="query")
    @blp.response(200, EnterpriseSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """List enterprises by region, category, status, grade or a search term."""
        stmt = select(Enterprise).order_by(Enterprise.credit_code)
        for field in ("region", "status"):
            if field in query:
                stmt = stmt.where(getattr(Enterprise, field) == query[field])
        if "grade" in query:
            stmt = stmt.where(Enterprise.credit_grade == query["grade"])
        if "category" in query:
            stmt = stmt.where(Enterprise.categories.any(Category.code == query["category"]))
        if query.get("q"):
            term = f"%{query['q']}%"
            stmt = stmt.where(or_(Enterprise.name.like(term), Enterprise.credit_code.like(term)))
        return stmt

    @roles_required(*SUPERVISOR)
    @blp.arguments(EnterpriseSchema)
    @blp.response(201, EnterpriseSchema)
    def post(self, data):
        """Register an enterprise; its credit code's check character is verified."""
        return registry.create_enterprise(data)


@blp.route("/<credit_code>")
class EnterpriseItem(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, EnterpriseSchema)
    def get(self, credit_code):
        """One enterprise, with its current credit grade."""
        return get_or_404(Enterprise, credit_code=credit_code)

    @roles_required(*SUPERVISOR)
    @blp.arguments(EnterpriseUpdateSchema)
    @blp.response(200, EnterpriseSchema)
    def patch(self, data, credit_code):
        """Change any writable field."""
        return registry.update_enterprise(get_or_404(Enterprise, credit_code=credit_code), data)


@blp.route("/import")
class EnterpriseImport(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(200, ImportResultSchema)
    def post(self, files):
        """Upsert enterprises from a CSV file, all or nothing; errors are keyed by row number."""
        return registry.import_enterprises(registry.decode_upload(files["file"].read()))
