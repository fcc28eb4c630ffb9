"""Bad requests: each gets its 4xx and a JSON error naming the problem; the server keeps serving."""
import json

import httpx
import pytest

from serving_helpers import Server, auth, data, make_home, v2_body

MAX_ROWS, MAX_BYTES = 50, 20_000
GOOD = v2_body(data(2)[0])


def body(**tensor):
    base = {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [1.0, 2.0, 3.0, 4.0]}
    base.update(tensor)
    return json.dumps({"inputs": [base]}).encode()


def chunks(total):
    for _ in range(total // 1000):
        yield b" " * 1000


INFER = "/v2/models/iris/infer"
#: (case, method, path, caller, body bytes, status, words the error must contain)
CASES = [
    ("malformed JSON", "POST", INFER, "predictor", b'{"inputs": [', 400, "not valid JSON"),
    ("empty body", "POST", INFER, "predictor", b"", 400, "empty"),
    ("non-UTF-8 body", "POST", INFER, "predictor", b"\xff\xfe{", 400, "not valid JSON"),
    ("body is an array", "POST", INFER, "predictor", b"[1, 2]", 400, "JSON object"),
    ("no inputs", "POST", INFER, "predictor", b"{}", 400, "'inputs'"),
    ("inputs empty", "POST", INFER, "predictor", b'{"inputs": []}', 400, "empty array"),
    ("input without shape", "POST", INFER, "predictor",
     b'{"inputs": [{"name": "x", "datatype": "FP64", "data": [1]}]}', 400, "'shape'"),
    ("negative shape", "POST", INFER, "predictor", body(shape=[-1, 4]), 400, "shape"),
    ("id not a string", "POST", INFER, "predictor",
     json.dumps({"id": 5, **json.loads(body())}).encode(), 400, "id"),
    ("unknown datatype", "POST", INFER, "predictor", body(datatype="FLOAT"), 400, "datatype"),
    ("unknown output", "POST", INFER, "predictor",
     json.dumps({**json.loads(body()), "outputs": [{"name": "logits"}]}).encode(), 400,
     "not an output"),
    ("BYTES datatype", "POST", INFER, "predictor", body(datatype="BYTES"), 422, "BYTES"),
    ("fractions as INT32", "POST", INFER, "predictor", body(datatype="INT32"), 422,
     "non-integer"),
    ("shape/data mismatch", "POST", INFER, "predictor", body(shape=[2, 4]), 422,
     "product of shape"),
    ("wrong feature count", "POST", INFER, "predictor", body(shape=[1, 3], data=[1, 2, 3]), 422,
     "4 features"),
    ("1-D shape", "POST", INFER, "predictor", body(shape=[4]), 422, "2-D"),
    ("NaN", "POST", INFER, "predictor", body().replace(b"2.0", b"NaN"), 422, "non-finite"),
    ("infinity", "POST", INFER, "predictor", body().replace(b"2.0", b"1e999"), 422, "non-finite"),
    ("too large for FP32", "POST", INFER, "predictor",
     body(datatype="FP32").replace(b"2.0", b"1e300"), 422, "non-finite"),
    ("string in data", "POST", INFER, "predictor", body(data=[1, "2", 3, 4]), 422, "numbers"),
    ("null in data", "POST", INFER, "predictor", body(data=[1, None, 3, 4]), 422, "numbers"),
    ("ragged rows", "POST", INFER, "predictor", body(shape=[2, 2], data=[[1, 2], [3]]), 422,
     "ragged"),
    ("empty batch", "POST", INFER, "predictor", body(shape=[0, 4], data=[]), 422, "empty batch"),
    ("too many rows", "POST", INFER, "predictor",
     body(shape=[MAX_ROWS + 1, 4], data=[0.0] * 4 * (MAX_ROWS + 1)), 413, "rows"),
    ("body over the byte limit", "POST", INFER, "predictor", b" " * (MAX_BYTES + 1), 413, "bytes"),
    ("chunked body over the limit", "POST", INFER, "predictor", chunks(MAX_BYTES + 5000), 413,
     "bytes"),
    ("unknown model", "POST", "/v2/models/nosuch/infer", "predictor", body(), 404, "nosuch"),
    ("invalid model name", "POST", "/v2/models/No%20Such!/infer", "predictor", body(), 404,
     "model name"),
    ("unknown version", "POST", "/v2/models/iris/versions/9/infer", "predictor", body(), 404,
     "9"),
    ("absurd version number", "POST", "/v2/models/iris/versions/" + "9" * 40 + "/infer",
     "predictor", body(), 404, "version"),
    ("non-ASCII digits as version", "POST", "/v2/models/iris/versions/%C2%B2/infer", "predictor",
     body(), 404, "alias"),
    ("unknown alias", "POST", "/v2/models/iris/versions/canary/infer", "predictor", body(), 404,
     "canary"),
    ("missing key", "POST", INFER, None, body(), 401, "missing API key"),
    ("invalid key", "POST", INFER, "unknown", body(), 401, "invalid API key"),
    ("revoked key", "POST", INFER, "revoked", body(), 401, "revoked"),
    ("role too low", "POST", INFER, "viewer", body(), 403, "predictor"),
    ("v1 without instances", "POST", "/v1/models/iris:predict", "predictor", b'{"rows": []}',
     400, "instances"),
    ("v1 wrong row width", "POST", "/v1/models/iris:predict", "predictor",
     b'{"instances": [[1, 2, 3]]}', 422, "4 features"),
    ("v1 empty batch", "POST", "/v1/models/iris:predict", "predictor", b'{"instances": []}',
     422, "empty batch"),
    ("unknown route", "GET", "/v3/anything", "admin", None, 404, "no route"),
    ("wrong method", "GET", INFER, "admin", None, 405, "not allowed"),
    ("alias to a non-version", "PUT", "/v2/models/iris/aliases/x", "maintainer",
     b'{"version": "two"}', 422, "positive integer"),
    ("alias to an unknown version", "PUT", "/v2/models/iris/aliases/x", "maintainer",
     b'{"version": 99}', 404, "99"),
    ("bad alias name", "PUT", "/v2/models/iris/aliases/BAD%20NAME", "maintainer",
     b'{"version": 1}', 422, "alias name"),
    ("alias to a huge version", "PUT", "/v2/models/iris/aliases/x", "maintainer",
     b'{"version": 99999999999999999999}', 422, "positive integer"),
    ("canary weights not adding up", "PUT", "/v2/models/iris/aliases/x", "maintainer",
     b'{"weights": {"1": 0.5, "2": 0.1}}', 422, "add up to 1"),
    ("canary weight not a number", "PUT", "/v2/models/iris/aliases/x", "maintainer",
     b'{"weights": {"1": "most", "2": 0.1}}', 422, "positive number"),
    ("canary of an unknown version", "PUT", "/v2/models/iris/aliases/x", "maintainer",
     b'{"weights": {"1": 0.5, "77": 0.5}}', 404, "77"),
    ("promote an alias that is not split", "POST",
     "/v2/models/iris/aliases/production/promote", "maintainer", None, 409, "not split"),
    ("shadow of an unknown alias", "PUT", "/v2/models/iris/aliases/nosuch/shadow", "maintainer",
     b'{"version": 2}', 404, "nosuch"),
    ("shadow version not a number", "PUT", "/v2/models/iris/aliases/production/shadow",
     "maintainer", b'{"version": "two"}', 422, "positive integer"),
    ("nothing to roll back", "POST", "/v2/models/iris/aliases/production/rollback", "maintainer",
     None, 409, "roll back"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    keys["unknown"] = "wb_0badc0de_" + "x" * 43
    with Server(home, "--max-rows", str(MAX_ROWS), "--max-body-bytes", str(MAX_BYTES)) as server:
        yield server, keys


def test_there_are_at_least_15_cases():
    assert len(CASES) >= 15


@pytest.mark.parametrize("case, method, path, caller, content, status, words", CASES,
                         ids=[c[0] for c in CASES])
def test_bad_request(served, case, method, path, caller, content, status, words):
    server, keys = served
    headers = {**auth(keys.get(caller)), "Content-Type": "application/json"}
    answer = httpx.request(method, server.url + path, content=content, headers=headers,
                           timeout=10)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert words.lower() in error.lower(), error
    # the server is still healthy and still answers a good request
    assert httpx.get(server.url + "/v2/health/ready").status_code == 200


def test_healthy_after_all_bad_requests(served):
    server, keys = served
    for _, method, path, caller, content, _, _ in CASES:
        if not hasattr(content, "__next__"):
            httpx.request(method, server.url + path, content=content,
                          headers=auth(keys.get(caller)), timeout=10)
    good = httpx.post(server.url + INFER, json=GOOD, headers=auth(keys["predictor"]))
    assert good.status_code == 200 and good.json()["model_version"] == "1"
    assert httpx.get(server.url + "/v2/health/live").status_code == 200
    metrics = httpx.get(server.url + "/metrics", headers=auth(keys["viewer"])).text
    assert 'status="500"' not in metrics
    assert "Traceback" not in server.logs()
