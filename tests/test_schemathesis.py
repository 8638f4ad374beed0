"""Property-based check of the whole API against its own OpenAPI document (schemathesis).

For every documented operation, schemathesis generates requests from the schema (valid and
invalid ones) and sends them to the WSGI app with a supervisor token: no answer may be a 5xx, and
every answer must match the schema documented for its status. Operations are read from the app
at run time, so endpoints added later are covered too. Examples are bounded to fit CI.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app import create_app
from sampling.credit_code import make_code

MAX_EXAMPLES = 20


@pytest.fixture
def supervisor(auth, factory):
    """A supervisor token and a little registry so lookups can find something."""
    category = factory.category(code="DQ-01")
    factory.enterprise([category], credit_code=make_code("91441900MA4W00001"))
    factory.inspector(code="I0001")
    factory.lab([category], code="L0001")
    return auth.headers("supervisor")


# The operations are listed when tests are collected, from an app of their own; each request then
# goes to the session's ``app`` (``call_and_validate(app=...)``), with its database and tokens.
schema = schemathesis.openapi.from_wsgi(
    "/api/openapi.json", create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, app, supervisor):
    case.call_and_validate(app=app, headers=supervisor, checks=[not_a_server_error, response_schema_conformance])
