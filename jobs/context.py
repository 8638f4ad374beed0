"""The app context a job runs in."""

from collections.abc import Callable

from flask import Flask, has_app_context


def in_app(app: Flask | None, run: Callable):
    """Call ``run`` inside an app context: the caller's, ``app``'s, or a new app's."""
    if app is None and has_app_context():
        return run()
    if app is None:
        from app import create_app

        app = create_app()
    with app.app_context():
        return run()
