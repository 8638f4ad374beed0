"""Whether the database answers, asked at most once a second per process.

``/healthz`` is polled often (load balancers, monitors); answering each poll with a pre-ping and a
``SELECT 1`` costs a database round trip or two per call. The answer is kept for
``HEALTH_CHECK_SECONDS`` (0: ask every time, as the tests do), so a database that goes away is
reported within that time.
"""

import logging
import time

from flask import current_app
from sqlalchemy import text

from extensions import db

log = logging.getLogger(__name__)


def database_reachable() -> bool:
    """True if the database answered a trivial query within the last ``HEALTH_CHECK_SECONDS``."""
    last_check = current_app.extensions.setdefault("health_check", {"at": float("-inf"), "ok": False})
    now = time.monotonic()
    if now - last_check["at"] < current_app.config["HEALTH_CHECK_SECONDS"]:
        return last_check["ok"]
    try:
        db.session.execute(text("SELECT 1"))
        ok = True
    except Exception:  # any failure to reach the database means "unreachable", never a 500
        log.warning("health check: the database does not answer", exc_info=True)
        try:
            db.session.rollback()
        except Exception:
            db.session.close()
        ok = False
    last_check.update(at=now, ok=ok)
    return ok
