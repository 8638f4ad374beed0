"""Bearer tokens and roles: who is calling, and may they do this."""

import functools

from flask import request
from flask_smorest import abort

from models.auth import User
from services.calendar import now
from services.users import user_of_token

_AUTH_DOC = {
    "security": [{"bearerAuth": []}],
    "responses": {
        "401": {"$ref": "#/components/responses/DEFAULT_ERROR"},
        "403": {"$ref": "#/components/responses/DEFAULT_ERROR"},
    },
}


def current_principal() -> User | None:
    """The user of the request's bearer token, None without one; 401 for a bad token."""
    # Cached on the request, not on ``g``: an app context can outlive several requests.
    if not hasattr(request, "_principal"):
        request._principal = _load_principal()
    return request._principal


def _load_principal() -> User | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, message="Authorization header must be 'Bearer <token>' (认证格式错误)")
    user = user_of_token(token.strip())
    if user is None:
        abort(401, message="Invalid token (令牌无效)")
    refusal = user.refusal(now())
    if refusal == "revoked":
        abort(401, message="This token has been revoked (令牌已吊销)")
    if refusal == "expired":
        abort(401, message="This token has expired (令牌已过期)")
    return user


def actor_name() -> str:
    """How the audit trail names the caller: ``role:name``, or ``system`` outside a request."""
    try:
        user = current_principal()
    except RuntimeError:  # no request context: a job or a CLI command
        return "system"
    return f"{user.role}:{user.name}" if user else "public"


def roles_required(*roles: str):
    """Let only bearers of one of ``roles`` call the view: 401 without a token, 403 otherwise."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_principal()
            if user is None:
                abort(401, message="Authentication required (需要登录令牌)")
            if user.role not in roles:
                abort(403, message=f"Role '{user.role}' may not do this; allowed: {', '.join(roles)} (无权操作)")
            return view(*args, **kwargs)

        apidoc = getattr(wrapper, "_apidoc", {})
        manual = apidoc.setdefault("manual_doc", {})
        manual.setdefault("security", _AUTH_DOC["security"])
        manual.setdefault("responses", {}).update(_AUTH_DOC["responses"])
        manual.setdefault("description", f"Roles: {', '.join(roles)}.")
        wrapper._apidoc = apidoc
        return wrapper

    return decorator


SUPERVISOR = ("supervisor",)
STAFF = ("supervisor", "inspector", "lab")
