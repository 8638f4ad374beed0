"""The partner feed (联合奖惩): credit events for other departments, in commit order."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from auth import roles_required
from blueprints.common import Blueprint
from sampling.enums import EVENT_TYPES
from services import events

blp = Blueprint("partner", __name__, url_prefix="/api/v1/partner",
                description="Credit events for partner departments (联合奖惩)")

PARTNER = ("partner",)


class FeedQuerySchema(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1),
                           metadata={"description": "the cursor: `next` of the previous answer (0: from the start)"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=events.MAX_LIMIT))


class PartnerEventSchema(Schema):
    id = fields.Integer()
    type = fields.String(metadata={"description": "one of " + ", ".join(EVENT_TYPES)})
    credit_code = fields.String()
    at = fields.AwareDateTime(format="iso", metadata={"description": "when the reported change happened"})
    data = fields.Dict()


class FeedSchema(Schema):
    events = fields.List(fields.Nested(PartnerEventSchema))
    next = fields.Integer(metadata={"description": "pass it back as `after` to get what follows"})


@blp.route("/events")
class PartnerEvents(MethodView):
    @roles_required(*PARTNER)
    @blp.arguments(FeedQuerySchema, location="query")
    @blp.response(200, FeedSchema)
    def get(self, query):
        """Credit events after the cursor, in commit order: polling with `next` misses nothing
        and sees nothing twice."""
        return events.feed(query["after"], query["limit"])
