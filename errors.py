"""One error shape for every error: ``{"code", "status", "message", "errors"}``."""

import logging
from http import HTTPStatus

from flask import render_template, request
from flask_smorest import Api
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

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
    404: ("页面不存在", "您访问的页面不存在，或该期榜单、抽取结果尚未公开。"),
    405: ("请求方式不允许", "该页面不支持此请求方式。"),
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


class SpotCheckApi(Api):
    """flask-smorest's Api with the project's error shape (and Chinese HTML for the pages)."""

    def handle_http_exception(self, error: HTTPException):
        if is_page_request() and error.code in PAGE_ERRORS:
            return page_error(error.code)
        data = getattr(error, "data", None) or {}
        errors = flatten_errors(data["messages"]) if "messages" in data else data.get("errors", {})
        message = data.get("message")
        if message is None:
            message = "Invalid input (输入有误)" if error.code == 422 else error.description
        body = error_body(error.code, message, errors)
        return body, error.code, data.get("headers", {})


def register_error_handlers(app) -> None:
    """Domain errors, integrity conflicts, a lost database and 500s in the one shape."""
    from extensions import db

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        if is_page_request() and error.status in PAGE_ERRORS:
            return page_error(error.status)
        return error_body(error.status, error.message, error.errors), error.status

    @app.errorhandler(IntegrityError)
    def integrity_error(error: IntegrityError):
        db.session.rollback()
        log.warning("integrity conflict: %s", error.orig)
        return error_body(409, "Conflicts with existing data (与现有数据冲突)"), 409

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def out_of_range(error: Exception):
        # A number the database cannot hold (SQLite: > 64 bits) or a value it refuses (PostgreSQL):
        # an id in the path then names nothing; a value in the body is invalid input.
        db.session.rollback()
        if any(isinstance(v, int) and abs(v) >= 2**63 for v in (request.view_args or {}).values()):
            return error_body(404, "Not found: no such id (未找到)"), 404
        log.warning("value out of range: %s", error)
        return error_body(422, "A value is out of range (数值超出范围)"), 422

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError):
        db.session.rollback()
        log.error("database error: %s", error.orig)
        if is_page_request():
            return page_error(503)
        return error_body(503, "Database unavailable, try again shortly (数据库暂不可用)"), 503

    @app.errorhandler(Exception)
    def internal_error(error: Exception):
        db.session.rollback()
        log.exception("unhandled error")
        if is_page_request():
            return page_error(500)
        return error_body(500, "Internal error; it has been logged (系统内部错误)"), 500
