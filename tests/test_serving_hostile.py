"""Hostile requests against a real uvicorn: every one answers 4xx with a JSON ``error`` naming
the problem, the server stays live, and valid requests sent afterwards are all logged.

Each trigger of issue 10 is here (lone surrogates, deep nesting, absurd shapes, a 4 MB id,
155k tensors, a maintainer body ``{"version": "²"}``, a weight keyed by a 25-digit version,
archived versions by number, text/plain and foreign Host on a server without keys), next to
the usual malformed JSON, wrong types, NaN/Inf and ragged data.
"""
import json
import sqlite3

import httpx
import pytest
from serving_helpers import Server, auth, data, make_home, v2_body, wait_for

from workbench.monitoring.log import wait_until_written
from workbench.registry import Registry

pytestmark = [pytest.mark.slow]

INFER = "/v2/models/iris/infer"
V1 = "/v1/models/iris:predict"
ROW = "[1.0, 2.0, 3.0, 4.0]"


def tensor(**fields) -> dict:
    base = {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [1.0, 2.0, 3.0, 4.0]}
    base.update(fields)
    return base


def v2(*tensors, **extra) -> bytes:
    return json.dumps({"inputs": list(tensors) or [tensor()], **extra}).encode()


def deep(n: int, inner: bytes = b"1") -> bytes:
    return b"[" * n + inner + b"]" * n


def raw_v2(tensor_json: str, before: str = "") -> bytes:
    return ('{' + before + '"inputs": [' + tensor_json + ']}').encode()


GOOD_TENSOR = '{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ' + ROW + '}'
NAN_TENSOR = '{"data": [1.0, NaN, 3.0, 4.0], "name": "input-0", "shape": [1, 4], "datatype": "FP64"}'
MANY_TENSORS = ('{"inputs": [' + ",".join(
    ['{"name":"a","shape":[1],"datatype":"FP64","data":[1]}'] * 155_000) + ']}').encode()

#: (case, method, path, caller, body, expected status, words the error must contain)
CASES = [
    # -- triggers of issue 10 ---------------------------------------------------------------
    ("lone surrogate in id", "POST", INFER, "predictor",
     raw_v2(GOOD_TENSOR, '"id": "\\ud800", '), 400, "surrogate"),
    ("lone surrogate in id after NaN", "POST", INFER, "predictor",
     ('{"inputs": [' + NAN_TENSOR + '], "id": "\\udfff"}').encode(), 400, "surrogate"),
    ("lone surrogate in datatype", "POST", INFER, "predictor",
     raw_v2(GOOD_TENSOR.replace('"FP64"', '"\\ud800"')), 400, "surrogate"),
    ("lone surrogate in datatype after NaN", "POST", INFER, "predictor",
     raw_v2(NAN_TENSOR.replace('"FP64"', '"\\ud800X"')), 400, "datatype"),
    ("lone surrogate in tensor name after NaN", "POST", INFER, "predictor",
     ('{"inputs": [' + NAN_TENSOR + ', ' + GOOD_TENSOR.replace('"input-0"', '"\\ud800"')
      + ']}').encode(), 422, "inputs"),
    ("lone surrogate as output name after NaN", "POST", INFER, "predictor",
     ('{"inputs": [' + NAN_TENSOR + '], "outputs": [{"name": "\\ud801"}]}').encode(), 400,
     "not an output"),
    ("JSON nested 3000 deep", "POST", INFER, "predictor", deep(3000), 400, "deep"),
    ("JSON nested 3000 deep after NaN", "POST", INFER, "predictor",
     b'{"x": NaN, "inputs": ' + deep(3000) + b"}", 400, "deep"),
    ("data nested 3000 deep", "POST", INFER, "predictor",
     raw_v2(GOOD_TENSOR.replace(ROW, deep(3000).decode())), 400, "deep"),
    ("shape rank 65", "POST", INFER, "predictor", v2(tensor(shape=[1] * 65)), 400,
     "dimensions"),
    ("shape dim 2**70", "POST", INFER, "predictor", v2(tensor(shape=[1, 2**70])), 400,
     "shape"),
    ("shape dim 2**70 after NaN", "POST", INFER, "predictor",
     raw_v2(NAN_TENSOR.replace("[1, 4]", f"[1, {2**70}]")), 400, "shape"),
    ("4 MB id", "POST", INFER, "predictor", v2(id="x" * 4_000_000), 400, "id"),
    ("155k tensors", "POST", INFER, "predictor", MANY_TENSORS, 413, "inputs"),
    ("invalid UTF-8 in a string", "POST", INFER, "predictor",
     raw_v2(GOOD_TENSOR, '"id": "\xff\xfe", ').replace(b"\xc3\xbf\xc3\xbe", b"\xff\xfe"), 400,
     "UTF-8"),
    ("archived version by number", "POST", "/v2/models/iris/versions/3/infer", "predictor",
     v2(), 404, "archived"),
    ("archived version metadata", "GET", "/v2/models/iris/versions/3", "viewer", None, 404,
     "archived"),
    ("maintainer body version '²'", "PUT", "/v2/models/iris/aliases/x", "maintainer",
     '{"version": "²"}'.encode(), 422, "positive integer"),
    ("weight keyed by a 25-digit version", "PUT", "/v2/models/iris/aliases/x", "maintainer",
     json.dumps({"weights": {"9" * 25: 0.5, "1": 0.5}}).encode(), 422, "version numbers"),
    ("weight keyed by '³'", "PUT", "/v2/models/iris/aliases/x", "maintainer",
     '{"weights": {"³": 1}}'.encode(), 422, "version numbers"),
    ("shadow version 25 digits", "PUT", "/v2/models/iris/aliases/production/shadow",
     "maintainer", b'{"version": 9999999999999999999999999}', 422, "positive integer"),
    ("promote to a lone surrogate", "POST", "/v2/models/iris/aliases/production/promote",
     "maintainer", b'{"version": "\\ud800"}', 400, "surrogate"),
    ("promote to a lone surrogate after NaN", "POST",
     "/v2/models/iris/aliases/production/promote", "maintainer",
     b'{"x": NaN, "version": "\\ud800"}', 422, "positive integer"),
    ("maintainer body nested 3000 deep", "PUT", "/v2/models/iris/aliases/x", "maintainer",
     deep(3000), 400, "deep"),
    ("key named by a lone surrogate", "POST", "/admin/keys", "admin",
     b'{"x": NaN, "name": "\\ud800", "role": "viewer"}', 422, "key name"),
    ("key with a 4 KB role", "POST", "/admin/keys", "admin",
     json.dumps({"name": "x", "role": "r" * 4096}).encode(), 422, "role"),
    # -- the usual suspects -----------------------------------------------------------------
    ("malformed JSON", "POST", INFER, "predictor", b'{"inputs": [', 400, "not valid JSON"),
    ("empty body", "POST", INFER, "predictor", b"", 400, "empty"),
    ("body is a string", "POST", INFER, "predictor", b'"hello"', 400, "JSON object"),
    ("inputs is an object", "POST", INFER, "predictor", b'{"inputs": {}}', 400, "array"),
    ("input is a number", "POST", INFER, "predictor", b'{"inputs": [5]}', 400, "object"),
    ("name is a number", "POST", INFER, "predictor", v2(tensor(name=5)), 400, "name"),
    ("shape is a string", "POST", INFER, "predictor", v2(tensor(shape="1,4")), 400, "shape"),
    ("shape holds a float", "POST", INFER, "predictor", v2(tensor(shape=[1.0, 4])), 400,
     "shape"),
    ("shape holds a boolean", "POST", INFER, "predictor", v2(tensor(shape=[True, 4])), 400,
     "shape"),
    ("data is an object", "POST", INFER, "predictor", v2(tensor(data={"a": 1})), 400, "data"),
    ("parameters is a list", "POST", INFER, "predictor", v2(parameters=[1]), 400, "parameters"),
    ("outputs is a string", "POST", INFER, "predictor", v2(outputs="label"), 400, "outputs"),
    ("NaN in data", "POST", INFER, "predictor", raw_v2(NAN_TENSOR), 422, "non-finite"),
    ("-Infinity in data", "POST", INFER, "predictor",
     raw_v2(GOOD_TENSOR.replace("2.0", "-Infinity")), 422, "non-finite"),
    ("1e999 in data", "POST", INFER, "predictor", raw_v2(GOOD_TENSOR.replace("2.0", "1e999")),
     422, "non-finite"),
    ("integer 2**70 in data", "POST", INFER, "predictor",
     v2(tensor(datatype="INT64", data=[1, 2**70, 3, 4])), 422, ""),
    ("ragged data", "POST", INFER, "predictor", v2(tensor(shape=[2, 2], data=[[1, 2], [3]])),
     422, "ragged"),
    ("strings in data", "POST", INFER, "predictor", v2(tensor(data=["1", "2", "3", "4"])), 422,
     "numbers"),
    ("fractions as BOOL", "POST", INFER, "predictor", v2(tensor(datatype="BOOL")), 422,
     "boolean"),
    ("wrong feature count", "POST", INFER, "predictor",
     v2(tensor(shape=[1, 3], data=[1, 2, 3])), 422, "4 features"),
    ("too many per-feature inputs", "POST", INFER, "predictor",
     v2(*[tensor(name=f"f{i}", shape=[1], data=[1.0]) for i in range(5)]), 422, "inputs"),
    ("oversize body (Content-Length)", "POST", INFER, "predictor",
     b" " * (8 * 1024 * 1024 + 1), 413, "bytes"),
    ("bad model name", "POST", "/v2/models/..%2F..%2Fetc/infer", "predictor", v2(), 404, ""),
    ("model name with a newline", "POST", "/v2/models/iris%0A/infer", "predictor", v2(), 404,
     ""),
    ("25-digit version", "POST", "/v2/models/iris/versions/" + "9" * 25 + "/infer",
     "predictor", v2(), 404, "version"),
    ("v1 instances is a number", "POST", V1, "predictor", b'{"instances": 5}', 400,
     "instances"),
    ("v1 nested 3000 deep", "POST", V1, "predictor", b'{"instances": ' + deep(3000) + b"}",
     400, "deep"),
    ("v1 NaN", "POST", V1, "predictor", b'{"instances": [[1, NaN, 3, 4]]}', 422,
     "non-finite"),
    ("v1 probabilities not boolean", "POST", V1, "predictor",
     b'{"instances": [[1, 2, 3, 4]], "probabilities": "yes"}', 400, "probabilities"),
    ("v1 ragged rows", "POST", V1, "predictor", b'{"instances": [[1, 2, 3, 4], [1]]}', 422,
     "ragged"),
    ("v1 objects without feature names", "POST", V1, "predictor",
     b'{"instances": [{"a": NaN, "\\ud800": 1}]}', 422, "feature names"),
    ("v1 lone surrogate string row after NaN", "POST", V1, "predictor",
     b'{"instances": [[NaN, "\\ud800", 1, 2]]}', 422, "numbers"),
]

#: cases against a server started with --no-auth: (case, method, path, headers, body, status,
#: words)
NO_AUTH_CASES = [
    ("rollback as text/plain", "POST", "/v2/models/iris/aliases/production/rollback",
     {"Content-Type": "text/plain"}, b"{}", 415, "application/json"),
    ("alias change as a form", "PUT", "/v2/models/iris/aliases/production",
     {"Content-Type": "application/x-www-form-urlencoded"}, b"version=2", 415,
     "application/json"),
    ("abort without a content type", "POST", "/v2/models/iris/aliases/production/abort", {},
     None, 415, "application/json"),
    ("infer as text/plain", "POST", INFER, {"Content-Type": "text/plain"}, v2(), 415,
     "application/json"),
    ("rebinding Host on a read", "GET", "/v2/models", {"Host": "evil.example"}, None, 403,
     "Host"),
    ("rebinding Host with a port", "POST", "/v2/models/iris/aliases/production/rollback",
     {"Host": "evil.example:8000", "Content-Type": "application/json"}, b"{}", 403, "Host"),
    ("Host that starts like localhost", "GET", "/v2/models",
     {"Host": "localhost.evil.example"}, None, 403, "Host"),
]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    keys["unknown"] = "wb_0badc0de_" + "x" * 43
    X, y = data()
    from workbench.models import LogisticRegression

    with Registry(home) as reg:     # v3, archived: not served by number any more
        reg.register("iris", LogisticRegression().fit(X, y))
        reg.archive("iris", 3)
    return home, keys


@pytest.fixture(scope="module")
def served(home):
    home, keys = home
    with Server(home) as server:
        yield server, keys


@pytest.fixture(scope="module")
def unkeyed(tmp_path_factory):
    home = tmp_path_factory.mktemp("unkeyed")
    make_home(home)
    with Server(home, "--no-auth") as server:
        yield server


def test_the_table_has_at_least_40_cases():
    assert len(CASES) + len(NO_AUTH_CASES) >= 40


def _check(answer, status, words):
    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert isinstance(error, str) and error
    assert words.lower() in error.lower(), error
    return error


@pytest.mark.parametrize("case, method, path, caller, content, status, words", CASES,
                         ids=[c[0] for c in CASES])
def test_hostile_request(served, case, method, path, caller, content, status, words):
    server, keys = served
    headers = {**auth(keys.get(caller)), "Content-Type": "application/json"}
    answer = httpx.request(method, server.url + path, content=content, headers=headers,
                           timeout=30)
    error = _check(answer, status, words)
    assert str(server.home) not in error
    assert httpx.get(server.url + "/v2/health/live", timeout=10).status_code == 200


@pytest.mark.parametrize("case, method, path, headers, content, status, words", NO_AUTH_CASES,
                         ids=[c[0] for c in NO_AUTH_CASES])
def test_hostile_request_without_keys(unkeyed, case, method, path, headers, content, status,
                                      words):
    answer = httpx.request(method, unkeyed.url + path, content=content, headers=headers,
                           timeout=10)
    _check(answer, status, words)
    assert httpx.get(unkeyed.url + "/v2/health/live").status_code == 200


def test_without_keys_loopback_json_requests_still_work(unkeyed):
    for host in (f"127.0.0.1:{unkeyed.port}", f"localhost:{unkeyed.port}", "localhost"):
        assert httpx.get(unkeyed.url + "/v2/models", headers={"Host": host}).status_code == 200
    answer = httpx.put(unkeyed.url + "/v2/models/iris/aliases/production", json={"version": 2})
    assert answer.status_code == 200 and answer.json()["model_version"] == "2"
    assert httpx.post(unkeyed.url + INFER, json=v2_body(data(2)[0])).status_code == 200


def test_server_stays_live_and_logs_every_valid_request_afterwards(served):
    server, keys = served
    for case in CASES:       # the whole table once more, back to back
        _, method, path, caller, content, _, _ = case
        httpx.request(method, server.url + path, content=content, timeout=30,
                      headers={**auth(keys.get(caller)), "Content-Type": "application/json"})
    X = data(20, seed=3)[0]
    ids = [f"valid-{i}" for i in range(20)]
    for i, request_id in enumerate(ids):
        answer = httpx.post(server.url + INFER, json=v2_body(X[i:i + 1], id=request_id),
                            headers=auth(keys["predictor"]), timeout=10)
        assert answer.status_code == 200 and answer.json()["id"] == request_id
    wait_until_written(server.home)
    conn = sqlite3.connect(server.home / "predictions.db")
    try:
        def logged():
            found = conn.execute("SELECT request_id FROM predictions WHERE status = 200 AND "
                                 "request_id LIKE 'valid-%'").fetchall()
            return {r[0] for r in found} >= set(ids) and found
        assert wait_for(logged, timeout=15), "not every valid request is in predictions.db"
        statuses = {r[0] for r in conn.execute("SELECT DISTINCT status FROM predictions")}
    finally:
        conn.close()
    assert all(s < 500 for s in statuses), statuses
    metrics = httpx.get(server.url + "/metrics", headers=auth(keys["viewer"])).text
    assert 'status="5' not in metrics
    assert 'workbench_prediction_log_dropped_total{reason="unwritable"} 0.0' in metrics
    assert "Traceback" not in server.logs()
