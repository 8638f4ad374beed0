"""The partner feed (联合奖惩): events in commit order behind a cursor, for role ``partner``.

A poller that always passes back ``next`` must miss nothing and see nothing twice, even while
transactions commit out of id order; on PostgreSQL that is proved with parallel writers.
"""

import random
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from extensions import db
from models.events import PartnerEvent
from sampling.enums import EVENT_TYPES
from services import events

FEED = "/api/v1/partner/events"
CODE = "91441900MA4UX8XX0E"


def at():
    return datetime(2026, 10, 9, 8, 30, tzinfo=UTC)


def emit_and_commit(n: int, type_: str = "grade_changed") -> list[int]:
    """One committed transaction emitting ``n`` events; their ids."""
    rows = [events.emit(type_, CODE, at(), {"n": i, "on": at().date()}) for i in range(n)]
    db.session.flush()
    ids = [row.id for row in rows]
    db.session.commit()
    return ids


def poll_all(fetch, limit: int) -> list[dict]:
    """Poll from the start, always passing back ``next``, until nothing new comes."""
    seen, cursor = [], 0
    while True:
        answer = fetch(cursor, limit)
        seen += answer["events"]
        if not answer["events"]:
            assert answer["next"] == cursor
            return seen
        cursor = answer["next"]


def test_events_come_in_commit_order_with_a_cursor(app_ctx):
    first = emit_and_commit(3)
    second = emit_and_commit(2, "follow_up")
    answer = events.feed(0, 100)
    assert [e.id for e in answer["events"]] == first + second
    assert answer["next"] == answer["events"][-1].position
    assert events.feed(answer["next"], 100) == {"events": [], "next": answer["next"]}
    paged = poll_all(lambda after, limit: events.feed(after, limit), 2)
    assert [e.id for e in paged] == first + second


def test_a_rolled_back_transaction_leaves_no_event(app_ctx):
    events.emit("listed", CODE, at(), {})
    db.session.rollback()
    kept = emit_and_commit(1)
    assert [e.id for e in events.feed(0, 100)["events"]] == kept
    assert db.session.scalar(select(PartnerEvent.position).where(PartnerEvent.id == kept[0])) == 1


def test_an_unknown_type_is_refused_before_anything_is_written(app_ctx):
    with pytest.raises(ValueError, match="unknown partner event type"):
        events.emit("gossip", CODE, at(), {})
    assert set(EVENT_TYPES) == {"grade_changed", "listed", "lapsed", "removed", "serious_failure", "follow_up"}


def test_the_feed_over_http_for_the_partner_role(client, auth):
    ids = emit_and_commit(3, "serious_failure")
    partner = auth.headers("partner")
    answer = client.get(f"{FEED}?after=0&limit=2", headers=partner)
    assert answer.status_code == 200
    body = answer.json
    assert [e["id"] for e in body["events"]] == ids[:2]
    assert set(body["events"][0]) == {"id", "type", "credit_code", "at", "data"}
    assert body["events"][0]["type"] == "serious_failure" and body["events"][0]["credit_code"] == CODE
    assert body["events"][0]["at"] == "2026-10-09T08:30:00+00:00"
    assert body["events"][0]["data"] == {"n": 0, "on": "2026-10-09"}
    rest = client.get(f"{FEED}?after={body['next']}", headers=partner).json
    assert [e["id"] for e in rest["events"]] == ids[2:]
    empty = client.get(f"{FEED}?after={rest['next']}", headers=partner).json
    assert empty == {"events": [], "next": rest["next"]}


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=1001"])
def test_a_bad_cursor_or_limit_is_a_422(client, auth, query):
    answer = client.get(f"{FEED}?{query}", headers=auth.headers("partner"))
    assert answer.status_code == 422
    assert set(answer.json) == {"code", "status", "message", "errors"}


def test_the_feed_is_for_partners_only(client, auth):
    assert client.get(FEED).status_code == 401
    forbidden = client.get(FEED, headers=auth.headers("supervisor"))
    assert forbidden.status_code == 403 and set(forbidden.json) == {"code", "status", "message", "errors"}


# PostgreSQL: writers that commit out of id order.

@pytest.mark.postgres
def test_a_later_id_committed_first_is_not_skipped(app):
    """Transaction A inserts first (lower id) but commits after B: the poller that read B's
    event still gets A's next, where a cursor on ids would have skipped it."""
    a_inserted, b_committed = threading.Event(), threading.Event()
    ids = {}

    def writer_a():
        with app.app_context():
            row = events.emit("listed", CODE, at(), {"who": "A"})
            db.session.flush()
            ids["A"] = row.id
            a_inserted.set()
            assert b_committed.wait(10)
            db.session.commit()
            db.session.remove()

    thread = threading.Thread(target=writer_a)
    with app.app_context():
        thread.start()
        assert a_inserted.wait(10)
        ids["B"] = emit_and_commit(1)[0]
        assert ids["B"] > ids["A"]
        first = events.feed(0, 100)
        assert [e.id for e in first["events"]] == [ids["B"]]
        b_committed.set()
        thread.join(10)
        db.session.expire_all()
        second = events.feed(first["next"], 100)
        assert [e.id for e in second["events"]] == [ids["A"]]
        # The naive cursor (ids) would have resumed after B's id and never seen A.
        assert ids["A"] < ids["B"]


@pytest.mark.postgres
def test_parallel_writers_and_a_poller_miss_nothing_and_repeat_nothing(app, auth):
    """Eight writers commit 240 transactions at random moments (some roll back) while a partner
    polls the feed over HTTP: the union of what it polled is exactly what was committed."""
    with app.app_context():
        partner = auth.headers("partner")
    writers, rounds = 8, 30
    committed, lock = [], threading.Lock()
    done = threading.Event()
    start = threading.Barrier(writers + 1)

    def write(seed):
        rng = random.Random(seed)
        with app.app_context():
            start.wait()
            for _ in range(rounds):
                rows = [events.emit(rng.choice(EVENT_TYPES), CODE, at(), {"seed": seed})
                        for _ in range(rng.randint(1, 3))]
                db.session.flush()
                time.sleep(rng.random() * 0.01)  # hold the transaction open: commits cross id order
                if rng.random() < 0.1:
                    db.session.rollback()
                    continue
                ids = [row.id for row in rows]
                db.session.commit()
                with lock:
                    committed.extend(ids)
            db.session.remove()

    polled = []

    def poll():
        cursor = 0
        with app.test_client() as client:
            start.wait()
            while True:
                finished = done.is_set()  # read before polling: a last poll after the writers end
                body = client.get(f"{FEED}?after={cursor}&limit=7", headers=partner).json
                polled.extend(body["events"])
                cursor = body["next"]
                if finished and not body["events"]:
                    return
                if not body["events"]:
                    time.sleep(0.002)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    poller = threading.Thread(target=poll)
    for thread in [*threads, poller]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    poller.join(60)
    assert not poller.is_alive()

    polled_ids = [e["id"] for e in polled]
    assert len(polled_ids) == len(set(polled_ids)), "an event was delivered twice"
    assert set(polled_ids) == set(committed), "the poller missed events or saw uncommitted ones"
    assert len(committed) > writers * rounds  # 1-3 events a transaction, about 10 % rolled back
    # The run did commit out of id order, so a cursor on ids would have been wrong.
    assert polled_ids != sorted(polled_ids)
