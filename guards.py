"""What every request and every answer goes through, before and after any view.

- A JSON body is checked before any schema sees it: too big (413), nested too deep, or a
  text that no column can hold (NUL, a lone surrogate, a bidirectional control) is a 422
  naming the field (``json.items.0.name``).
- Query arguments and path segments are held to the same text rule (``query.q``, ``path.code``).
- Every answer carries the security headers; the pages a strict Content-Security-Policy
  (they load nothing from elsewhere), the Swagger UI one that allows its own inline script.
- The pages show text with bidirectional controls removed, whatever was stored before the
  input rule existed.
"""

import base64
import hashlib
import itertools
import json
import operator
import re

from flask import Flask, Response, current_app, request
from flask_smorest import abort
from markupsafe import Markup

from sampling.text import BIDI_RE, text_problem, without_bidi

STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# +1 for an opening bracket, -1 for a closing one, 0 for anything else: summed, the nesting depth.
DEPTH_STEPS = [0] * 256
DEPTH_STEPS[ord("[")] = DEPTH_STEPS[ord("{")] = 1
DEPTH_STEPS[ord("]")] = DEPTH_STEPS[ord("}")] = -1

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
DATA_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# Swagger UI (served by the app, /api/swagger-ui/) starts from one inline script, allowed by its
# hash, and sets style attributes as it draws.
DOCS_CSP = ("default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
INLINE_SCRIPT_RE = re.compile(r"<script>(.*?)</script>", re.DOTALL)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def register_guards(app: Flask) -> None:
    """Install the request checks, the answer headers and the pages' bidi filter."""
    app.before_request(check_request_text)
    app.before_request(check_json_body)
    app.after_request(add_security_headers)
    app.jinja_env.finalize = neutralise_bidi
    app.jinja_env.filters["nobidi"] = neutralise_bidi


def json_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of a JSON document nest (strings skipped)."""
    brackets = STRING_RE.sub(b"", raw)
    return max(itertools.accumulate(map(DEPTH_STEPS.__getitem__, brackets), operator.add), default=0)


def text_problems(value, path: str, found: dict) -> dict:
    """Every string (key or value) in a parsed JSON document that no text column can hold."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            found.setdefault(path, []).append(problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            # The name as it can be answered: a lone surrogate cannot be encoded in the error body.
            name = f"{path}.{key.encode('utf-8', 'replace').decode()}"
            problem = text_problem(key)
            if problem:
                found.setdefault(name, []).append(f"field name {problem}")
            text_problems(item, name, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            text_problems(item, f"{path}.{index}", found)
    return found


def check_json_body():
    """Refuse a JSON body that is too big, too deep or carries unstorable text, before any schema."""
    if not request.is_json or request.content_length == 0:
        return
    raw = request.get_data(cache=True)
    if not raw:
        return
    limit = current_app.config["MAX_JSON_BYTES"]
    if len(raw) > limit:
        abort(413, message=f"A JSON body may have at most {limit} bytes (请求体过大)")
    deepest = current_app.config["MAX_JSON_DEPTH"]
    if json_depth(raw) > deepest:
        abort(422, message="Invalid input (输入有误)",
              errors={"json": [f"nested deeper than {deepest} levels (嵌套层数过多)"]})
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return  # not JSON: the schema's parser answers 400
    problems = text_problems(document, "json", {})
    if problems:
        abort(422, message="Invalid input (输入有误)", errors=problems)


def check_request_text():
    """Query arguments and path segments follow the text rule too (422, or 404 for a path)."""
    problems = {}
    for name, value in request.args.items(multi=True):
        problem = text_problem(value) or text_problem(name)
        if problem:
            problems.setdefault(f"query.{name}", []).append(problem)
    if problems:
        abort(422, message="Invalid input (输入有误)", errors=problems)
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and text_problem(value):
            abort(404, message="Not found (未找到)")


def add_security_headers(response: Response) -> Response:
    """The security headers of every answer; the Content-Security-Policy by kind of answer."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype != "text/html":
        response.headers.setdefault("Content-Security-Policy", DATA_CSP)
    elif request.path.rstrip("/") == current_app.config["OPENAPI_URL_PREFIX"] + current_app.config[
            "OPENAPI_SWAGGER_UI_PATH"]:
        response.headers["Content-Security-Policy"] = DOCS_CSP.format(hashes=inline_script_hashes(response))
    else:
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    return response


def inline_script_hashes(response: Response) -> str:
    """CSP source expressions allowing exactly the inline scripts of an HTML answer."""
    scripts = INLINE_SCRIPT_RE.findall(response.get_data(as_text=True))
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'" for script in scripts
    )


def neutralise_bidi(value):
    """What a page shows of ``value``: any bidirectional control removed, the rest untouched."""
    if isinstance(value, str) and BIDI_RE.search(value):
        cleaned = without_bidi(value)
        return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value
