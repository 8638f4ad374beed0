"""Placeholder so the app starts; helper-1 (issue 3) replaces this module."""

from flask import Blueprint

blp = Blueprint("draw_page", __name__)
