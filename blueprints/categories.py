"""Product categories (产品类别): the catalogue tree the plans and labs refer to."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from auth import STAFF, SUPERVISOR, actor_name, roles_required
from blueprints.common import Blueprint, SelectPage
from sampling.enums import CATEGORY_GROUPS, MONTHS
from services import registry

blp = Blueprint("categories", __name__, url_prefix="/api/v1/categories", description="Product categories")


class CategorySchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    parent_code = fields.String(allow_none=True, validate=validate.Length(max=32))
    group = fields.String(required=True, validate=validate.OneOf(CATEGORY_GROUPS))
    key_supervised = fields.Boolean(load_default=False)
    risk_level = fields.Integer(load_default=1, validate=validate.Range(min=1, max=3))
    standard = fields.String(allow_none=True, validate=validate.Length(max=200))
    season_months = fields.List(
        fields.Integer(validate=validate.OneOf(MONTHS, error="a month is 1 to 12")), allow_none=True,
        validate=validate.Length(max=12),
        metadata={"description": "季节性产品: the months of its season, e.g. [10, 11, 12, 1, 2]; absent: all year"})


class CategoryQuerySchema(Schema):
    group = fields.String(validate=validate.OneOf(CATEGORY_GROUPS))
    parent_code = fields.String()
    key_supervised = fields.Boolean()


@blp.route("")
class Categories(MethodView):
    @roles_required(*STAFF)
    @blp.arguments(CategoryQuerySchema, location="query")
    @blp.response(200, CategorySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """List categories, filtered by group, parent or the key-supervised flag."""
        return registry.list_categories(query)

    @roles_required(*SUPERVISOR)
    @blp.arguments(CategorySchema)
    @blp.response(201, CategorySchema)
    def post(self, data):
        """Add a category."""
        return registry.create_category(data, actor=actor_name())


@blp.route("/<code>")
class CategoryItem(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, CategorySchema)
    def get(self, code):
        """One category by code."""
        return registry.get_category(code)
