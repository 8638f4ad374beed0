#!/usr/bin/env bash
# Serve the app with the demo city on SQLite: venv, install, migrate, demo data, gunicorn.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/flask --app wsgi db upgrade
.venv/bin/flask --app wsgi demo
echo "Serving on http://127.0.0.1:${PORT:-8000}/  (API docs: /api/docs; tokens: instance/demo-tokens.txt)"
exec .venv/bin/gunicorn --workers "${WORKERS:-2}" --bind "127.0.0.1:${PORT:-8000}" wsgi:app
