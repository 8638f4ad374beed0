"""Bearer tokens and roles: who is calling, and may they do this."""

import functools
import threading

from flask import current_app, request
from flask_smorest import abort

from models.auth import User
from services.calendar import now
from services.stamp import data_stamp
from services.users import attached_user, hash_token, user_fields, user_of_token

_PRINCIPALS_LOCK = threading.Lock()
MAX_PRINCIPALS = 1024  # tokens kept per process; all are forgotten when full

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
    user = _user_of_token(token.strip())
    if user is None:
        abort(401, message="Invalid token (令牌无效)")
    refusal = user.refusal(now())
    if refusal == "revoked":
        abort(401, message="This token has been revoked (令牌已吊销)")
    if refusal == "expired":
        abort(401, message="This token has expired (令牌已过期)")
    return user


def request_stamp() -> tuple:
    """The data stamp (``services.stamp.data_stamp``), read once per request: the principal and
    any answer kept against the stamp are checked against the same reading."""
    if not hasattr(request, "_data_stamp"):
        request._data_stamp = data_stamp()
    return request._data_stamp


def _user_of_token(token: str) -> User | None:
    """The token's user; the user's row is kept per process while the data stamp is unchanged.

    Creating or revoking a token records an audit event, which moves the stamp, so a revoked
    token is refused at once in every worker; expiry is checked on every request against the
    kept ``expires_at``. A token that names no user is looked up every time.
    """
    if not current_app.config["REPORTS_CACHE"]:
        return user_of_token(token)
    kept = current_app.extensions.setdefault("principals", {})
    digest, stamp = hash_token(token), request_stamp()
    hit = kept.get(digest)
    if hit is not None and hit[0] == stamp:
        return attached_user(hit[1])
    user = user_of_token(token)
    if user is not None:
        with _PRINCIPALS_LOCK:
            if len(kept) >= MAX_PRINCIPALS:
                kept.clear()
            kept[digest] = (stamp, user_fields(user))
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
