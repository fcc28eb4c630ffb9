"""schemathesis against a live server's ``/openapi.json`` with an admin key: whatever it sends,
no answer is a server error (check ``not_a_server_error`` only; the conformance checks are in
another test file). Kept small: a few examples per operation, well under a minute.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from serving_helpers import Server, make_home

pytestmark = [pytest.mark.slow]

MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    with Server(home) as server:
        yield server, keys


def _operations(url):
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_server_error(live):
    server, keys = live
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    operations = _operations(server.url)
    assert len(operations) >= 15, [op.label for op in operations]
    calls = []

    for operation in operations:
        _fuzzer(operation, server.url, headers, calls)()
    assert len(calls) >= len(operations)
    assert "Traceback" not in server.logs()


def _fuzzer(operation, url, headers, calls):
    """A Hypothesis test of one operation: generated requests, half of them naming iris."""
    @given(case=operation.as_strategy(), known=st.booleans(),
           version=st.sampled_from(["1", "2", "production", "x"]))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case, known, version):
        params = case.path_parameters or {}
        # keep the admin key under test: a generated DELETE must not revoke it
        if params.get("name_or_id") == "admin-key":
            params["name_or_id"] = "revoked-key"
        if known and "name" in params:    # half the cases address a model that exists
            params["name"] = "iris"
            if "version" in params:
                params["version"] = version
            if "alias" in params:
                params["alias"] = "production" if version == "production" else "staging"
        response = case.call(base_url=url, headers=headers, timeout=30)
        calls.append((operation.label, response.status_code))
        case.validate_response(response, checks=[not_a_server_error])
        assert response.status_code < 500, (operation.label, response.text[:300])
    return fuzz
