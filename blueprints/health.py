"""Liveness and database reachability."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services.health import database_reachable

blp = Blueprint("health", __name__, description="Service health")


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    database = fields.String(metadata={"example": "ok"})


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="The database is unreachable")
    def get(self):
        """Say whether the service and its database answer."""
        if not database_reachable():
            return {"status": "error", "database": "unreachable"}, 503
        return {"status": "ok", "database": "ok"}
