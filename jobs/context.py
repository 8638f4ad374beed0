"""The app context a job runs in."""

from collections.abc import Callable

from flask import Flask


def in_app(app: Flask | None, run: Callable):
    """Call ``run`` inside ``app``'s context, or the caller's when ``app`` is None (the scheduler
    gives each run one; ``python -m jobs`` builds the app through the factory). Never importing
    the factory here keeps the CLI (which registers the scheduler command) out of a cycle."""
    if app is None:
        return run()
    with app.app_context():
        return run()
