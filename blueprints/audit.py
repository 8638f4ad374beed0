"""The audit trail: every write, hash-chained; list it and verify the chain."""

from datetime import UTC, datetime, time

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields

from auth import SUPERVISOR, roles_required
from blueprints.answer_cache import kept_a_while
from blueprints.common import Blueprint, PlainText, SelectPage
from services.audit import events_query, published_anchors, verify_chain
from services.calendar import timezone

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="The audit trail and its published anchors")


class Since(fields.Field):
    """A date (its start in the regulator's calendar) or an ISO 8601 timestamp."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValidationError("must be a date YYYY-MM-DD or an ISO 8601 timestamp") from None
        if len(str(value)) == 10:  # a bare date
            parsed = datetime.combine(parsed.date(), time.min)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone())
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # within hours of year 1 or 9999: no event is earlier, or later
            return (datetime.min if parsed.year == 1 else datetime.max).replace(tzinfo=UTC)


class AuditQuerySchema(Schema):
    since = Since(metadata={"type": "string", "description": "a date or ISO 8601 timestamp"})
    entity_type = PlainText()
    entity_id = PlainText()
    action = PlainText()


class AuditEventSchema(Schema):
    id = fields.Integer()
    occurred_at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class MismatchSchema(Schema):
    event_id = fields.Integer(allow_none=True)
    problem = fields.String()


class VerifySchema(Schema):
    verified = fields.Boolean()
    events = fields.Integer()
    mismatches = fields.List(fields.Nested(MismatchSchema))


class AnchorSchema(Schema):
    day = fields.Date(metadata={"description": "the day the anchor was published"})
    events = fields.Integer(metadata={"description": "how many events the trail had then"})
    hash = fields.String(metadata={"description": "the keyed hash of the newest of them (the chain's head)"})
    published_at = fields.DateTime()


@blp.route("/audit")
class AuditEvents(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """Audit events in the order they were written, from ``since`` on."""
        return events_query(**query)


@blp.route("/audit/verify")
class AuditVerify(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.response(200, VerifySchema)
    def get(self):
        """Recompute the keyed hash chain and hold it against its head and the published anchors:
        an edited, inserted or deleted event (the newest included) or a chain recomputed without
        the key is reported."""
        return verify_chain()


@blp.route("/public/audit-anchors")
class AuditAnchors(MethodView):
    @kept_a_while  # public, like the feed that carries the same anchors
    @blp.response(200, AnchorSchema(many=True))
    def get(self):
        """The audit trail's head as published each day (public): keep one, and the trail up to
        it can later be proved unchanged."""
        return published_anchors()
