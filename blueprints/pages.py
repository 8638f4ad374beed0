"""Placeholder so the app starts; helper-4 (issue 6) replaces this module."""

from flask import Blueprint

blp = Blueprint("pages", __name__)
