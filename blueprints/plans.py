"""Placeholder so the app starts; helper-1 (issue 3) replaces this module."""

from flask_smorest import Blueprint

blp = Blueprint("plans", __name__, url_prefix="/api/v1")
