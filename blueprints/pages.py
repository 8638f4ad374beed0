"""Public pages (公开页面): the home page and the red/black lists, in Chinese, no script, no CDN.

Jinja2 autoescapes every value; nothing here marks text safe.
"""

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from extensions import db
from models.lists import Publication
from sampling.credit import PERIOD_RE
from services import lists, public

blp = Blueprint("pages", __name__)

LIST_NAMES = {"red": "红榜", "black": "黑榜"}
SEVERITY_LABELS = {"general": "一般失信", "serious": "严重失信"}
VERDICT_LABELS = {"pass": "合格", "fail": "不合格", "refused": "拒绝抽样"}


@blp.get("/")
def index():
    """Home: links to every public page, the latest plans, results, lists and public draws."""
    return render_template("index.html", home=public.home())


@blp.get("/lists")
def lists_page():
    """Every published period's red and black lists."""
    publications = db.session.scalars(select(Publication).order_by(Publication.period.desc())).all()
    return render_template("lists.html", publications=publications, list_names=LIST_NAMES)


@blp.get("/lists/<period>")
def list_period_page(period):
    """One period's red and black tables, searchable by name or credit code."""
    if not PERIOD_RE.match(period):
        abort(404)
    q = request.args.get("q", "").strip()[:100]

    def render():
        publication = lists.get_publication(period)
        if publication is None:
            abort(404)
        return render_template(
            "lists_period.html", view=lists.publication_view(publication, q or None, standing_only=True), q=q,
            list_names=LIST_NAMES, severity_labels=SEVERITY_LABELS, verdict_labels=VERDICT_LABELS,
        )

    return lists.published_cache.get_or_make(("page", period, q), render)
