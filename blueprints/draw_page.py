"""The public page of a published draw: ``/draws/<plan_id>`` (Chinese, no script, autoescaped)."""

from flask import Blueprint, render_template

from extensions import db
from models.plans import Plan
from services import draws

blp = Blueprint("draw_page", __name__)


@blp.get("/draws/<int:plan_id>")
def draw_page(plan_id):
    """A published draw: commitment, seeds, registry hash, selections and how to verify them."""
    plan = db.session.get(Plan, plan_id)
    if plan is None or plan.draw is None or not draws.is_public(plan.draw):
        return render_template("draw.html", plan=None, plan_id=plan_id), 404
    return render_template("draw.html", plan=plan, plan_id=plan_id, draw=draws.draw_view(plan.draw))
