"""One error shape for every error: ``{"code", "status", "message", "errors"}``.

Every database error goes through one handler (:func:`database_error`), whatever the endpoint:
a lost connection or a timeout is a 503, a write that collided with a concurrent one (a
serialization failure, a deadlock) or a duplicate a 409, a value the database refuses a 422;
the transaction is discarded first, and discarding it cannot fail a second time.
"""

import logging
import sqlite3
from http import HTTPStatus

import psycopg
from flask import render_template, request
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from extensions import db
from sampling.errors import DomainError

log = logging.getLogger(__name__)


def error_body(code: int, message: str | None = None, errors: dict | None = None) -> dict:
    """The documented error body for an HTTP status."""
    status = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
    return {"code": code, "status": status, "message": message or status, "errors": errors or {}}


def flatten_errors(messages, prefix: str = "") -> dict:
    """Turn webargs' nested messages into ``{"json.field": [...]}``."""
    if isinstance(messages, dict):
        flat = {}
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_errors(value, name))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": messages}
    return {prefix or "_schema": [str(messages)]}


PAGE_ERRORS = {
    400: ("请求有误", "请求的格式不正确。"),
    404: ("页面不存在", "您访问的页面不存在，或该期榜单、抽取结果尚未公开。"),
    405: ("请求方式不允许", "该页面不支持此请求方式。"),
    422: ("请求有误", "查询条件中含有不允许的字符，请修改后重试。"),
    500: ("系统内部错误", "系统出现内部错误，已记录，请稍后再试。"),
    503: ("服务暂时不可用", "数据库暂时无法访问，请稍后再试。已公布的信息不会丢失。"),
}


def page_error(code: int):
    """The Chinese HTML page of an error, for a public page's request."""
    title, explanation = PAGE_ERRORS[code]
    return render_template("error.html", code=code, title=title, explanation=explanation), code


def is_page_request() -> bool:
    """A public HTML page (not the API, the docs or the health check) was asked for."""
    return not request.path.startswith(("/api/", "/healthz")) and request.path != "/api"


def http_error(error: HTTPException):
    """Any HTTP error (webargs' 422 included) in the error shape; a Chinese page for the pages."""
    if is_page_request() and error.code in PAGE_ERRORS:
        return page_error(error.code)
    data = getattr(error, "data", None) or {}
    errors = flatten_errors(data["messages"]) if "messages" in data else data.get("errors", {})
    message = data.get("message")
    if message is None:
        message = "Invalid input (输入有误)" if error.code == 422 else error.description
    return error_body(error.code, message, errors), error.code, data.get("headers", {})


def discard_transaction() -> None:
    """Roll the session back; when the connection is gone, drop it instead of failing again."""
    try:
        db.session.rollback()
    except Exception:  # the rollback itself needs the connection that just died
        log.warning("rollback failed; the session's connection is discarded", exc_info=True)
        try:
            db.session.close()
        except Exception:
            log.warning("closing the session failed too", exc_info=True)


# SQLSTATE classes (PostgreSQL appendix A) the caller cannot fix by changing the request.
COLLISION_STATES = {"40001", "40P01"}  # serialization failure, deadlock: retrying succeeds
UNAVAILABLE_STATES = {"57014", "55P03", "57P01", "57P02", "57P03"}  # timeouts, shutdown, starting up
UNAVAILABLE_CLASSES = ("08", "53", "58")  # connection, insufficient resources, system error

UNAVAILABLE = (503, "Database unavailable or too slow; nothing was written, try again shortly "
                    "(数据库暂不可用，未写入任何数据)")
COLLISION = (409, "The write collided with a concurrent one; nothing was written, try again "
                  "(并发冲突，未写入任何数据，请重试)")
DUPLICATE = (409, "Conflicts with existing data (与现有数据冲突)")
OUT_OF_RANGE = (422, "A value is out of range (数值超出范围)")
NO_SUCH_ID = (404, "Not found: no such id (未找到)")


def classify_database_error(error: Exception) -> tuple[int, str] | None:
    """``(status, message)`` for a database error, or None for a bug (a 500)."""
    original = getattr(error, "orig", None) or error
    state = getattr(original, "sqlstate", None) or ""
    if state in COLLISION_STATES:
        return COLLISION
    if state in UNAVAILABLE_STATES or state.startswith(UNAVAILABLE_CLASSES):
        return UNAVAILABLE
    if isinstance(error, IntegrityError) or isinstance(original, (psycopg.IntegrityError, sqlite3.IntegrityError)):
        return DUPLICATE
    if isinstance(error, (DataError, OverflowError)) or isinstance(original, (psycopg.DataError, OverflowError)):
        return OUT_OF_RANGE
    if isinstance(error, PoolTimeout) or getattr(error, "connection_invalidated", False):
        return UNAVAILABLE
    # What is left of the driver's operational errors: a connection refused or cut (no SQLSTATE
    # comes back then), SQLite's "database is locked" or an unreadable file.
    operational = (psycopg.OperationalError, psycopg.InterfaceError, sqlite3.OperationalError)
    if isinstance(original, operational) or type(error).__name__ in ("OperationalError", "InterfaceError",
                                                                     "PendingRollbackError"):
        return UNAVAILABLE
    return None


def database_error(error: Exception):
    """The one place a database error becomes an answer; nothing of the request is kept."""
    discard_transaction()
    classified = classify_database_error(error)
    if classified is None:
        return internal_error(error)
    status, message = classified
    if classified is OUT_OF_RANGE and any(
            isinstance(v, int) and abs(v) >= 2**63 for v in (request.view_args or {}).values()):
        # A number the database cannot hold in the path names nothing.
        status, message = NO_SUCH_ID
    log.log(logging.ERROR if status == 503 else logging.WARNING, "database error (%s): %s", status,
            getattr(error, "orig", None) or error)
    if is_page_request() and status in PAGE_ERRORS:
        return page_error(status)
    return error_body(status, message), status


def internal_error(error: Exception):
    """A bug: logged with its trace, answered without one."""
    discard_transaction()
    log.exception("unhandled error", exc_info=error)
    if is_page_request():
        return page_error(500)
    return error_body(500, "Internal error; it has been logged (系统内部错误)"), 500


def register_error_handlers(app) -> None:
    """HTTP errors, domain errors, database errors and 500s, each in the one shape."""

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        discard_transaction()
        if is_page_request() and error.status in PAGE_ERRORS:
            return page_error(error.status)
        return error_body(error.status, error.message, error.errors), error.status

    # Replaces flask-smorest's own handler (registered when the Api was bound).
    app.register_error_handler(HTTPException, http_error)
    for kind in (SQLAlchemyError, psycopg.Error, sqlite3.Error, OverflowError):
        app.register_error_handler(kind, database_error)
    app.register_error_handler(Exception, internal_error)
