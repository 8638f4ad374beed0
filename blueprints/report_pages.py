"""Placeholder so the app starts; helper-3 (issue 5) replaces this module."""

from flask import Blueprint

blp = Blueprint("report_pages", __name__)
