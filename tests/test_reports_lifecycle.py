"""Live results count in the pass-rate report from notification, with their latest verdict."""

from datetime import UTC, datetime, timedelta

import pytest
from lifecycle_factory import make_world
from test_samples_api import Api

REPORTS = "/api/v1/reports/pass-rates"


@pytest.fixture
def api(client, auth, factory):
    world = make_world(factory)
    world.sample()
    world.sample()
    return Api(client, auth, world, base=datetime.now(UTC) - timedelta(days=50))


def total(client, api):
    query = {"period": api.world.plan.period, "by": "category,stage"}
    return client.get(REPORTS, query_string=query).get_json()["total"]


def counts(client, api):
    row = total(client, api)
    return row["tested"], row["passed"], row["failed"], row["refused"], row["pending"], row["provisional"]


def test_a_sample_counts_once_notified_pending_until_final_and_a_refusal_counts_beside(client, api):
    passing, failing, refusing = (s.code for s in api.world.samples)
    assert counts(client, api) == (0, 0, 0, 0, 0, False)  # planned samples never show
    api.walk(passing, ["sampling", "receipt", "result"], "pass")
    assert counts(client, api) == (0, 0, 0, 0, 0, False)  # a result not yet notified does not count
    api.move(passing, "notification", "pass")
    api.walk(failing, ["sampling", "receipt", "result", "notification"], "fail")
    api.move(refusing, "refusal")
    # the failure is open to objection: it counts, as pending, and the row is provisional
    assert counts(client, api) == (2, 1, 1, 1, 1, True)
    api.move(failing, "finalize")
    assert counts(client, api) == (2, 1, 1, 1, 0, False)
    api.move(failing, "rectification")
    assert counts(client, api) == (2, 1, 1, 1, 0, False)  # rectification does not change the batch verdict


def test_nine_passes_and_one_notified_failure_read_ninety_percent_provisional(client, api, factory):
    for _ in range(8):
        api.world.sample()
    codes = [s.code for s in api.world.samples]
    for code in codes[:9]:
        api.walk(code, ["sampling", "receipt", "result", "notification"], "pass")
    api.walk(codes[9], ["sampling", "receipt", "result", "notification"], "fail")
    row = total(client, api)
    assert (row["tested"], row["passed"], row["pending"], row["provisional"]) == (10, 9, 1, True)
    assert row["pass_rate"] == pytest.approx(0.9)
    assert row["enterprises"] == 1


def test_a_retest_verdict_replaces_the_first_one(client, api):
    failing = api.world.samples[0].code
    api.walk(failing, ["sampling", "receipt", "result", "notification", "objection"], "fail")
    assert counts(client, api)[:5] == (1, 0, 1, 0, 1)  # under retest: pending, with the first verdict
    api.move(failing, "retest-result", "pass")
    assert counts(client, api) == (1, 1, 0, 0, 0, False)  # final, with the retest's verdict
