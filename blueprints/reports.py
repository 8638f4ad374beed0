"""Placeholder so the app starts; helper-3 (issue 5) replaces this module."""

from flask_smorest import Blueprint

blp = Blueprint("reports", __name__, url_prefix="/api/v1")
