"""Answers served again without being made again, three ways.

- ``kept_for(blp)`` (``kept_a_while`` for one view): the open data, the public pages, the feed
  and the audit anchors are read far more than written, so each process keeps a successful
  GET's answer, keyed by its URL, for ``LISTS_CACHE_SECONDS`` (0 in the tests). A new result
  shows within that time; nothing private is ever kept, since only public views use this.
- ``kept_once_public``: what anyone may read of a published draw never changes (its plan, seeds,
  selections and sample codes are fixed at the draw; its verification and file are stored once
  by the draw service; a public draw stays public, since a sample never goes back to
  ``planned``), so each process keeps it for good, with no query at all.
- ``kept_while_unchanged``: a view's successful GET answer kept per process while the data
  stamp (``services.stamp.data_stamp``: the latest audit event and the latest sample) is
  unchanged, keyed by its URL, the caller's access scope and the day. Every write moves the
  stamp, so a write shows at once in its own worker and, in the others, as soon as the
  database's notification arrives (well under a millisecond on one host); a repeat costs no
  query at all on PostgreSQL and the stamp's one small statement on SQLite, instead of the
  queries and the serialization. Authentication and the role check run before it on every
  request.
"""

import functools
import threading
from collections.abc import Callable

from flask import Blueprint, current_app, make_response, request

from auth import current_principal, request_stamp
from services import calendar, public, reports

KEPT_HEADERS = ("Content-Type", "X-Pagination", "Content-Disposition")
# A bigger answer (a page of 1,000 rows, a big draw's file) is made each time: with at most
# AnswerCache.MAX_ENTRIES answers a process keeps, this bounds the store's memory.
MAX_KEPT_BYTES = 512 * 1024


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
        kept = (response.get_data(), 200, kept_headers(response))
        public.keep_answer(("answer", request.host, request.full_path), kept)
    return response


def kept_headers(response) -> dict:
    """The headers of an answer that belong to its content (the rest are added on every answer)."""
    return {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}


def kept_for(blp: Blueprint) -> Blueprint:
    """Serve ``blp``'s GET answers from the per-process store while they are fresh."""
    blp.before_request(serve_kept)
    blp.after_request(keep)
    return blp


def kept_a_while(view):
    """One view's GET answer kept for ``LISTS_CACHE_SECONDS``, as ``kept_for`` keeps a whole
    public blueprint's (for a public view in a blueprint that has private ones too)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        kept = serve_kept()
        if kept is not None:
            body, status, headers = kept
            return current_app.response_class(body, status=status, headers=headers)
        return keep(make_response(view(*args, **kwargs)))

    return wrapper


def access_scope() -> tuple | None:
    """What decides which rows the caller may see: the role and the record its token is bound to
    (``services.samples.access.visible_to`` and the role checks read nothing else). Asking for it
    authenticates the request: a bad token is a 401 before anything is served."""
    user = current_principal()
    if user is None:
        return None
    return user.role, user.inspector_id, user.lab_id, user.enterprise_id


def view_answers() -> reports.AnswerCache:
    """This app's store of view answers kept against the data stamp."""
    return current_app.extensions.setdefault("view_answers", reports.AnswerCache())


def kept_while_unchanged(view=None, *, by_caller: bool | Callable[[], bool] = True):
    """Serve the view's successful GET answer again while the data stamp is unchanged.

    The key is the host and the URL with its query, today (some answers say what is overdue or
    lapsed today) and, ``by_caller``, the caller's access scope; ``by_caller=False`` is for a
    view whose answer is the same for everyone and which reads no token (a bad one is ignored
    there, as before); a function decides per request (a report is the same for everyone unless
    it names enterprises). Only a 200 that is not streamed and has at most
    ``MAX_KEPT_BYTES`` is kept; an error is made again each time. Put it under
    ``roles_required`` and above flask-smorest's decorators, so what is kept is the finished
    answer (body and pagination header).
    """
    if view is None:
        return functools.partial(kept_while_unchanged, by_caller=by_caller)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.method != "GET":
            return view(*args, **kwargs)
        scope = access_scope() if (by_caller() if callable(by_caller) else by_caller) else "everyone"
        key = ("view", request.host, request.full_path, scope, calendar.today())
        made = []

        def make():
            response = make_response(view(*args, **kwargs))
            made.append(response)
            if response.status_code != 200 or response.is_streamed or response.direct_passthrough:
                return None
            body = response.get_data()
            return (body, kept_headers(response)) if len(body) <= MAX_KEPT_BYTES else None

        kept = view_answers().get_or_make(key, make, request_stamp())
        if made:  # made now: the answer itself, whatever it was
            return made[0]
        if kept is None:  # an error, or an answer too big to keep, made earlier at this stamp: make it again
            return view(*args, **kwargs)
        body, headers = kept
        return current_app.response_class(body, status=200, headers=headers)

    return wrapper


_FOR_GOOD_LOCK = threading.Lock()
MAX_FOR_GOOD = 256  # answers kept for good per process; all are forgotten when full


def kept_once_public(view=None, *, final=None):
    """Keep for good, per process, the answer to a request without a token that succeeded: only a
    published draw's is a 200 without a token, and it never changes; ``final(response)``, when
    given, says whether this answer is final yet (the draw's own view names when it was
    published, which a supervisor may still do after it became public). A request with a token
    is made afresh (a supervisor reads a draw before it is public, and a token is checked)."""
    if view is None:
        return functools.partial(kept_once_public, final=final)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.method != "GET" or "Authorization" in request.headers:
            return view(*args, **kwargs)
        kept_answers = current_app.extensions.setdefault("published_answers", {})
        key = (request.host, request.full_path)
        kept = kept_answers.get(key)
        if kept is not None:
            body, headers = kept
            return current_app.response_class(body, status=200, headers=headers)
        response = make_response(view(*args, **kwargs))
        if (response.status_code == 200 and not response.is_streamed and not response.direct_passthrough
                and (final is None or judged_final(key, response, final))):
            body = response.get_data()
            if len(body) <= MAX_KEPT_BYTES:
                with _FOR_GOOD_LOCK:
                    if len(kept_answers) >= MAX_FOR_GOOD:
                        kept_answers.clear()
                    kept_answers[key] = (body, kept_headers(response))
        return response

    return wrapper


def judged_final(key, response, final) -> bool:
    """``final(response)``, judged once per answer: a draw public but not yet published is served
    from ``kept_while_unchanged``'s store as the same body object each time, so the verdict on it
    is kept beside it instead of parsing the answer again on every request."""
    body = response.get_data()
    verdicts = current_app.extensions.setdefault("final_verdicts", {})
    judged = verdicts.get(key)
    if judged is not None and judged[0] is body:
        return judged[1]
    verdict = final(response)
    with _FOR_GOOD_LOCK:
        if len(verdicts) >= MAX_FOR_GOOD:
            verdicts.clear()
        verdicts[key] = (body, verdict)
    return verdict
