"""gunicorn settings for production (``gunicorn wsgi:app`` reads this file from the working directory).

Every value can be changed from the environment: WEB_CONCURRENCY (workers, default 2 — one per
core of the reference machine), GUNICORN_THREADS, GUNICORN_BIND, GUNICORN_TIMEOUT.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
accesslog = None  # request logging belongs to the reverse proxy in front
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
