"""Pieces the API blueprints share: pagination and small field helpers."""

import flask_smorest
from flask_smorest import Page, abort
from marshmallow import ValidationError, fields, validate
from sqlalchemy import func, select

from extensions import db
from sampling.credit import PERIOD_RE
from sampling.text import text_problem

PERIOD_PATTERN = PERIOD_RE.pattern  # YYYYQn, the one definition in sampling/credit.py
MAX_ROWS = 2**63 - 1  # the largest row count or offset a 64-bit database integer holds


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the API's pagination: 50 a page, at most 1000, and
    ``X-Pagination: {"total", "page", "page_size", ...}``."""

    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 50, "max_page_size": 1000}

    @staticmethod
    def _make_pagination_metadata(page, page_size, item_count):
        metadata = flask_smorest.Blueprint._make_pagination_metadata(page, page_size, item_count)
        return {"total": item_count, "page": page, "page_size": page_size, **metadata}

    def arguments(self, schema, **kwargs):
        """flask-smorest's, with a schema class made into its instance once, here: given the class,
        webargs builds a new instance on every request, deep-copying each of its fields (about a
        third of a cached answer's time). A schema keeps nothing between loads."""
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)


class PlainText(fields.String):
    """A string a text column can hold and a page can show as it reads: no NUL, no lone
    surrogate, no bidirectional control (``sampling.text``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(text)
        if problem:
            raise ValidationError(problem)
        return text


class Instant(fields.AwareDateTime):
    """An ISO 8601 timestamp that carries its UTC offset; an error says how to write one."""

    default_error_messages = {
        "invalid": "Not a valid ISO 8601 timestamp; write it with its offset, e.g. 2026-12-01T09:30:00+08:00 "
                   "(时间格式应为ISO 8601并带时区)",
        "invalid_awareness": "A timestamp needs its UTC offset, e.g. 2026-12-01T09:30:00+08:00 (时间须带时区)",
    }

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)


def period_field(**kwargs) -> fields.String:
    """A ``YYYYQn`` period."""
    return fields.String(validate=validate.Regexp(PERIOD_PATTERN, error="period must be YYYYQn, e.g. 2026Q4"), **kwargs)


class SelectPage(Page):
    """Paginate a SQLAlchemy ``select()`` in the database (count + offset/limit)."""

    @property
    def item_count(self):
        return db.session.scalar(select(func.count()).select_from(self.collection.order_by(None).subquery()))

    @property
    def items(self):
        if self.page_params.first_item >= MAX_ROWS:  # past any table; a database cannot bind the offset
            return []
        stmt = self.collection.offset(self.page_params.first_item).limit(self.page_params.page_size)
        return db.session.scalars(stmt).all()


def get_or_404(model, **criteria):
    """The one row matching ``criteria`` or a 404 naming what was looked for."""
    row = db.session.scalar(select(model).filter_by(**criteria))
    if row is None:
        described = ", ".join(f"{k}={v}" for k, v in criteria.items())
        abort(404, message=f"{model.__name__} not found: {described} (未找到)")
    return row
