"""Public answers served again for a few seconds: the open data, the public pages and the feed are
read far more than written, so each process keeps a successful GET's answer, keyed by its URL, for
``LISTS_CACHE_SECONDS`` (0 in the tests). A new result shows within that time; nothing private is
ever kept, since only the public blueprints use this.
"""

from flask import Blueprint, request

from services import public

KEPT_HEADERS = ("Content-Type", "X-Pagination", "Content-Disposition")


def serve_kept():
    """Answer a GET from what is kept for its URL, before any parsing or query."""
    if request.method != "GET":
        return None
    kept = public.kept_answer(("answer", request.host, request.full_path))
    if kept is None:
        return None
    body, status, headers = kept
    return body, status, headers


def keep(response):
    """Keep a successful GET's answer for its URL."""
    if request.method == "GET" and response.status_code == 200 and not response.is_streamed:
        headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
        public.keep_answer(("answer", request.host, request.full_path), (response.get_data(), 200, headers))
    return response


def kept_for(blp: Blueprint) -> Blueprint:
    """Serve ``blp``'s GET answers from the per-process store while they are fresh."""
    blp.before_request(serve_kept)
    blp.after_request(keep)
    return blp
