"""Live results count in the pass-rate report exactly when the life cycle makes them final."""

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


def counts(client, api):
    query = {"period": api.world.plan.period, "by": "category,stage"}
    body = client.get(REPORTS, query_string=query).get_json()
    total = body["total"]
    return total["tested"], total["passed"], total["failed"], total["refused"]


def test_a_sample_counts_once_final_and_a_refusal_counts_beside(client, api):
    passing, failing, refusing = (s.code for s in api.world.samples)
    assert counts(client, api) == (0, 0, 0, 0)  # planned samples never show
    api.walk(passing, ["sampling", "receipt", "result", "notification"], "pass")
    api.walk(failing, ["sampling", "receipt", "result", "notification"], "fail")
    api.move(refusing, "refusal")
    assert counts(client, api) == (1, 1, 0, 1)  # the failure is open to objection: not final yet
    api.move(failing, "finalize")
    assert counts(client, api) == (2, 1, 1, 1)
    api.move(failing, "rectification")
    assert counts(client, api) == (2, 1, 1, 1)  # rectification does not change the batch verdict
