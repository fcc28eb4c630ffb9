"""``/openapi.json`` tells the truth: schemathesis generates requests from it against a real
uvicorn server and checks that every answer's status code, content type and body are the ones
the document declares, and that no answer is a server error. Bounded (a few examples per
operation) so it runs in well under 90 s."""
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from serving_helpers import Server, auth, make_home

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402 - after the skip
from schemathesis.specs.openapi.checks import (  # noqa: E402 - after the skip
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def conformance_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    with Server(home) as server:
        yield server, keys


@pytest.fixture(scope="module")
def api_schema(conformance_server):
    server, _ = conformance_server
    return schemathesis.openapi.from_url(server.url + "/openapi.json")


def _operations():
    """(method, path) of every documented operation, from the app itself (no server needed)."""
    import tempfile

    from workbench.serving.app import create_app

    with tempfile.TemporaryDirectory() as home:     # the document needs no running app
        document = create_app(home, preload=False).openapi()
    return [(method.upper(), path) for path, item in document["paths"].items()
            for method in item]


@pytest.mark.parametrize("method, path", _operations())
def test_every_route_conforms_to_its_openapi_document(api_schema, conformance_server, method,
                                                      path):
    _, keys = conformance_server
    operation = api_schema[path][method]

    @settings(max_examples=8, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def conforms(case):
        # the maintainer key: every route but /admin/keys answers, and no generated request can
        # create or revoke keys (those operations answer 403, which they document)
        case.call_and_validate(headers=auth(keys["maintainer"]), checks=CHECKS, timeout=30)

    conforms()


def test_the_document_describes_the_binary_extension(conformance_server):
    import httpx

    server, _ = conformance_server
    doc = httpx.get(server.url + "/openapi.json").json()
    infer = doc["paths"]["/v2/models/{name}/infer"]["post"]
    assert set(infer["requestBody"]["content"]) == {"application/json", "application/octet-stream"}
    assert set(infer["responses"]["200"]["content"]) == {"application/json",
                                                        "application/octet-stream"}
    assert any(p["name"] == "Inference-Header-Content-Length" for p in infer["parameters"])
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert "application/json" in response["content"], (method, path, code)
