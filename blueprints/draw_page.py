"""The public page of a published draw: ``/draws/<plan_id>`` (Chinese, no script, autoescaped)."""

from flask import Blueprint, render_template

from services import draws

blp = Blueprint("draw_page", __name__)


@blp.get("/draws/<int:plan_id>")
def draw_page(plan_id):
    """A published draw: commitment, seeds, registry hash, selections and how to verify them."""
    shown = draws.public_draw(plan_id)
    if shown is None:
        return render_template("draw.html", plan=None, plan_id=plan_id), 404
    return render_template("draw.html", plan=shown["plan"], plan_id=plan_id, draw=shown["draw"])
