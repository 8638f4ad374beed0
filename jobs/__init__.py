"""Scheduled jobs and the scheduler process (``python -m jobs`` or ``flask --app wsgi scheduler``).

The scheduler runs as its own process, never inside gunicorn workers. Every job is
idempotent: running it twice, or in two scheduler processes at once, has the effect of once.
"""
