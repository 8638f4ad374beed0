#!/usr/bin/env bash
# Run the whole suite on SQLite, then again on PostgreSQL when one is reachable.
#   TEST_POSTGRES_URL  PostgreSQL to test on (default postgresql+psycopg://postgres@127.0.0.1:5432/test)
#   REQUIRE_POSTGRES=1 fail instead of skipping the PostgreSQL run when it is unreachable (CI)
# Extra arguments go to pytest, e.g. scripts/test.sh -x -k draw
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt

echo "== tests on SQLite"
env -u TEST_DATABASE_URL .venv/bin/python -m pytest "$@"

PG_URL=${TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
if .venv/bin/python - "$PG_URL" <<'PY'
import sys
from sqlalchemy import create_engine, text
try:
    with create_engine(sys.argv[1]).connect() as conn:
        conn.execute(text("SELECT 1"))
except Exception as exc:
    print(f"PostgreSQL unreachable at {sys.argv[1]}: {exc.__class__.__name__}", file=sys.stderr)
    sys.exit(1)
PY
then
  echo "== tests on PostgreSQL ($PG_URL)"
  TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest "$@"
elif [ "${REQUIRE_POSTGRES:-0}" = "1" ]; then
  echo "PostgreSQL is required (REQUIRE_POSTGRES=1) but unreachable" >&2
  exit 1
else
  echo "== PostgreSQL not reachable: skipped the PostgreSQL run (set TEST_POSTGRES_URL)"
fi
