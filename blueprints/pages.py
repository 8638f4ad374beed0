"""Public pages (公开页面): the home page and the red/black lists, in Chinese, no script, no CDN.

Jinja2 autoescapes every value; nothing here marks text safe.
"""

from flask import Blueprint, abort, render_template, request

from blueprints.answer_cache import kept_while_unchanged
from sampling.credit import PERIOD_RE
from sampling.errors import NotFound
from services import lists, public

blp = Blueprint("pages", __name__)

@blp.get("/")
def index():
    """Home: links to every public page, the latest plans, results, lists and public draws."""
    return public.public_cache.get_or_make(("html", "/"), lambda: render_template("index.html", home=public.home()))


@blp.get("/lists")
@kept_while_unchanged(by_caller=False)
def lists_page():
    """Every published period's red and black lists."""
    return render_template("lists.html", publications=lists.publication_index())


@blp.get("/lists/<period>")
def list_period_page(period):
    """One period's red and black lists and supplements; ``q`` searches within the cached period."""
    if not PERIOD_RE.match(period):
        abort(404)
    q = request.args.get("q", "").strip()[:100]
    try:
        view = lists.cached_period_view(period)
    except NotFound:
        abort(404)
    if q:
        return render_period(lists.search_view(view, q, standing_only=True), q)
    return lists.published_cache.get_or_make(
        ("page", period), lambda: render_period(lists.search_view(view, None, standing_only=True), ""))


def render_period(view: dict, q: str) -> str:
    """The period page of a (searched) view."""
    return render_template("lists_period.html", view=view, q=q)
