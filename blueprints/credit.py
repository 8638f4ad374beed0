"""Placeholder so the app starts; helper-4 (issue 6) replaces this module."""

from flask_smorest import Blueprint

blp = Blueprint("credit", __name__, url_prefix="/api/v1")
