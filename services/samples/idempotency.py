"""Idempotency-Key: a repeated request gets the first answer instead of a second write."""

import hashlib
import json
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models.samples import IdempotencyRecord
from sampling.errors import RuleViolation


def jsonable(value):
    """``value`` as plain JSON data (dates and instants as ISO 8601 text)."""
    return json.loads(json.dumps(value, default=_iso, ensure_ascii=False))


def _iso(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def request_hash(body: dict) -> str:
    """The SHA-256 of a request body in canonical JSON."""
    canonical = json.dumps(jsonable(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def once(scope: str, key: str | None, body: dict, run: Callable[[], dict]) -> dict:
    """Run ``run`` (which answers plain data) once per ``(scope, key)`` and commit.

    A repeat with the same body gets the first answer; the same key with another body is a
    409. The key's record is written before the move, so a concurrent repeat waits on the
    unique constraint and then finds the first answer instead of writing a second time.
    Without a key ``run`` simply runs.
    """
    if not key:
        answer = run()
        db.session.commit()
        return answer
    digest = request_hash(body)
    replay = _replay(scope, key, digest)
    if replay is not None:
        return replay
    record = IdempotencyRecord(scope=scope, key=key, request_hash=digest, status_code=200, response={})
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        db.session.rollback()
        replay = _replay(scope, key, digest)
        if replay is None:  # the other request failed and was rolled back: nothing to repeat
            raise RuleViolation("a request with this Idempotency-Key is in progress; retry") from None
        return replay
    answer = run()
    record.response = jsonable(answer)
    db.session.commit()
    return answer


def _replay(scope: str, key: str, digest: str) -> dict | None:
    record = db.session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.scope == scope, IdempotencyRecord.key == key,
    ))
    if record is None:
        return None
    if record.request_hash != digest:
        message = "this Idempotency-Key was used with a different body (幂等键与请求内容不符)"
        raise RuleViolation(message, {"Idempotency-Key": [message]})
    return record.response
