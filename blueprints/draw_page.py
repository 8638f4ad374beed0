"""The public page of a published draw: ``/draws/<plan_id>`` (Chinese, no script, autoescaped),
and the standalone verifier it offers for download."""

from pathlib import Path

from flask import Blueprint, render_template, send_file

from blueprints.answer_cache import kept_while_unchanged
from blueprints.public_pages import page_number
from services import draws

blp = Blueprint("draw_page", __name__)

PAGE_SIZE = 50
VERIFIER = Path(__file__).resolve().parent.parent / "scripts" / "verify_draw.py"


@blp.get("/draws/<int:plan_id>")
@kept_while_unchanged(by_caller=False)
def draw_page(plan_id):
    """A published draw: commitment, seeds, registry hash, the drawn enterprises and how to verify them."""
    shown = draws.public_draw(plan_id, page_number(), PAGE_SIZE)
    if shown is None:
        return render_template("draw.html", plan=None, plan_id=plan_id), 404
    return render_template("draw.html", plan_id=plan_id, **shown)


@blp.get("/draws/verify_draw.py")
def verifier():
    """``scripts/verify_draw.py``, the standard-library-only verifier of a draw file."""
    return send_file(VERIFIER, mimetype="text/x-python", as_attachment=True, download_name="verify_draw.py")
