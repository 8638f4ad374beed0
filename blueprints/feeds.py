"""The Atom feed of publications (``/feeds/publications.atom``): list publications, their
supplements and results announcements, newest first, so a reader learns of each one."""

from datetime import UTC, datetime

from flask import Blueprint, render_template, request

from blueprints.answer_cache import kept_for
from services import public

blp = kept_for(Blueprint("feeds", __name__))

EMPTY_FEED_UPDATED = datetime(2026, 1, 1, tzinfo=UTC)  # Atom needs an <updated> even with no entry


@blp.get("/feeds/publications.atom")
def publications_feed():
    """Atom 1.0: one entry per list publication (or supplement) and per plan's results."""
    entries = public.feed_entries()
    body = render_template("publications.atom.xml", entries=entries, base=request.host_url.rstrip("/"),
                           epoch=EMPTY_FEED_UPDATED)
    return body, 200, {"Content-Type": "application/atom+xml; charset=utf-8"}
