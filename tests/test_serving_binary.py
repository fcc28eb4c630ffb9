"""The v2 binary tensor extension, with the stock ``tritonclient.http`` against a real uvicorn
server: binary inputs and outputs on and off, every datatype the models take, and a table of
malformed binary bodies (4xx, server alive). Framing is also fuzzed in-process (Hypothesis)."""
import json

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serving_helpers import Server, auth, data, make_home, wait_for

from workbench.monitoring import read_predictions
from workbench.registry import Registry
from workbench.serving import binary
from workbench.serving.client import Client
from workbench.serving.errors import ApiError

tritonhttp = pytest.importorskip("tritonclient.http")

#: every datatype the models' signature allows as input (numbers; BYTES is refused)
DATATYPES = ["FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64",
             "UINT8", "UINT16", "UINT32", "UINT64", "BOOL"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    with Registry(home) as reg:
        models = {name: reg.load(name, version=1) for name in ("iris", "house")}
    with Server(home) as server:
        client = tritonhttp.InferenceServerClient(server.url.removeprefix("http://"))
        try:
            yield server, keys, client, models, home
        finally:
            client.close()


def _matrix(datatype, rows=6, seed=1):
    rng = np.random.default_rng(seed)
    X, _ = data(rows, seed)
    if datatype == "BOOL":
        return rng.integers(0, 2, size=X.shape).astype(bool)
    if datatype.startswith(("INT", "UINT")):
        low = 0 if datatype.startswith("U") else -3
        return rng.integers(low, 4, size=X.shape).astype(binary.NUMPY_DTYPES[datatype].newbyteorder("="))
    return X.astype(binary.NUMPY_DTYPES[datatype].newbyteorder("="))


def _infer(served, name, X, datatype, binary_in, binary_out, key="predictor"):
    _, keys, client, _, _ = served
    tensor = tritonhttp.InferInput("input-0", list(X.shape), datatype)
    tensor.set_data_from_numpy(X, binary_data=binary_in)
    names = ["label", "probabilities"] if name == "iris" else ["predictions"]
    outputs = [tritonhttp.InferRequestedOutput(n, binary_data=binary_out) for n in names]
    return client.infer(name, [tensor], outputs=outputs, headers=auth(keys[key]))


@pytest.mark.slow
@pytest.mark.parametrize("datatype", DATATYPES)
@pytest.mark.parametrize("binary_in, binary_out", [(True, True), (True, False), (False, True),
                                                    (False, False)])
def test_tritonclient_http_matches_the_in_memory_model(served, datatype, binary_in, binary_out):
    *_, models, _ = served
    X = _matrix(datatype)
    iris, house = models["iris"], models["house"]
    dtype = iris.signature()["dtype"]
    answer = _infer(served, "iris", X, datatype, binary_in, binary_out)
    np.testing.assert_array_equal(answer.as_numpy("label"), iris.predict(X.astype(dtype)))
    np.testing.assert_allclose(answer.as_numpy("probabilities"),
                               iris.predict_proba(X.astype(dtype)), rtol=1e-6)
    assert answer.get_response()["model_version"] == "1"
    answer = _infer(served, "house", X, datatype, binary_in, binary_out)
    np.testing.assert_allclose(answer.as_numpy("predictions").ravel(),
                               house.predict(X.astype(house.signature()["dtype"])), rtol=1e-6)


@pytest.mark.slow
def test_binary_output_for_all_outputs_when_none_are_named(served):
    _, keys, client, models, _ = served
    X = _matrix("FP32")
    tensor = tritonhttp.InferInput("input-0", list(X.shape), "FP32")
    tensor.set_data_from_numpy(X)                      # binary, as tritonclient does by default
    answer = client.infer("iris", [tensor], headers=auth(keys["predictor"]))
    outputs = {o["name"]: o for o in answer.get_response()["outputs"]}
    assert all("binary_data_size" in o["parameters"] and "data" not in o for o in outputs.values())
    np.testing.assert_array_equal(answer.as_numpy("label"), models["iris"].predict(X))


@pytest.mark.slow
def test_binary_request_is_logged_and_counted_like_json(served):
    server, keys, client, _, home = served
    X = _matrix("FP64")
    tensor = tritonhttp.InferInput("input-0", list(X.shape), "FP64")
    tensor.set_data_from_numpy(X)
    client.infer("iris", [tensor], request_id="binary-logged", headers=auth(keys["predictor"]))
    rows = wait_for(lambda: [r for r in read_predictions(home) if r.request_id == "binary-logged"])
    assert len(rows) == 1 and rows[0].status == 200 and rows[0].protocol == "v2"
    metrics = httpx.get(server.url + "/metrics", headers=auth(keys["viewer"])).text
    assert 'workbench_requests_total{model="iris",status="200",version="1"}' in metrics


@pytest.mark.slow
def test_own_client_uses_binary_for_large_batches(served):
    server, keys, _, models, _ = served
    X, _ = data(2000)
    with Client(server.url, keys["predictor"]) as client:
        np.testing.assert_array_equal(client.predict("iris", X), models["iris"].predict(X))
        np.testing.assert_allclose(client.predict_proba("iris", X),
                                   models["iris"].predict_proba(X), rtol=1e-6)
        np.testing.assert_allclose(client.predict("house", X), models["house"].predict(X),
                                   rtol=1e-6)


def _body(header: dict, payload: bytes, length=None):
    raw = json.dumps(header).encode()
    return raw + payload, {"Inference-Header-Content-Length": str(len(raw) if length is None
                                                                   else length)}


_ROW = np.zeros((1, 4), "<f8").tobytes()


def _one(size=32, datatype="FP64", shape=(1, 4), **extra):
    tensor = {"name": "input-0", "shape": list(shape), "datatype": datatype,
              "parameters": {"binary_data_size": size}, **extra}
    return {"inputs": [tensor]}


BAD = [  # (what, body, headers, status, words in the error)
    ("header length past the end", *_body(_one(), _ROW, length=10_000), 400, "past the body"),
    ("header length not a number", *_body(_one(), _ROW, length="12a"), 400, "number of bytes"),
    ("header length zero", *_body(_one(), _ROW, length=0), 400, "cannot be empty"),
    ("header length cuts the JSON", *_body(_one(), _ROW, length=5), 400, "not valid JSON"),
    ("size does not match the shape", *_body(_one(size=24), _ROW[:24]), 400, "needs 32"),
    ("truncated payload", *_body(_one(), _ROW[:16]), 400, "truncated"),
    ("bytes after the last input", *_body(_one(), _ROW + b"xx"), 400, "after the last"),
    ("negative size", *_body(_one(size=-1), _ROW), 400, "non-negative"),
    ("size not an integer", *_body(_one(size="32"), _ROW), 400, "non-negative"),
    ("data and binary both", *_body(_one(data=[0, 0, 0, 0]), _ROW), 400, "both"),
    ("unknown datatype", *_body(_one(datatype="FP128"), _ROW), 400, "not a v2 datatype"),
    ("BYTES input", *_body(_one(datatype="BYTES"), _ROW), 422, "takes numbers"),
    ("BOOL byte other than 0/1", *_body(_one(size=4, datatype="BOOL"), b"\x00\x01\x02\x00"),
     422, "0 and 1"),
    ("wrong feature count", *_body(_one(size=24, shape=(1, 3)), _ROW[:24]), 422, "4 features"),
    ("NaN in binary", *_body(_one(), np.full((1, 4), np.nan).tobytes()), 422, "non-finite"),
    ("binary_data_output not a boolean",
     *_body({**_one(), "parameters": {"binary_data_output": "yes"}}, _ROW), 400, "true or false"),
]


@pytest.mark.slow
@pytest.mark.parametrize("what, body, headers, status, words", BAD, ids=[b[0] for b in BAD])
def test_bad_binary_bodies_are_refused_and_the_server_lives(served, what, body, headers, status,
                                                             words):
    server, keys, *_ = served
    answer = httpx.post(server.url + "/v2/models/iris/infer", content=body,
                        headers={**headers, **auth(keys["predictor"])})
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert words in answer.json()["error"]
    assert httpx.get(server.url + "/v2/health/live").status_code == 200


@settings(max_examples=300, deadline=None)
@given(header=st.binary(max_size=200), payload=st.binary(max_size=64),
       length=st.integers(-5, 300) | st.text(max_size=6))
def test_binary_framing_fuzz_raises_only_client_errors(header, payload, length):
    try:
        binary.split_request(header + payload, str(length))
    except ApiError as exc:
        assert 400 <= exc.status < 500 and exc.message


@settings(max_examples=200, deadline=None)
@given(shape=st.lists(st.integers(0, 5), max_size=3), size=st.integers(0, 200),
       datatype=st.sampled_from(DATATYPES))
def test_binary_sizes_fuzz_raise_only_client_errors(shape, size, datatype):
    body, headers = _body(_one(size=size, datatype=datatype, shape=shape), bytes(size))
    try:
        payload = binary.split_request(body, headers["Inference-Header-Content-Length"])
    except ApiError as exc:
        assert 400 <= exc.status < 500
    else:
        assert payload["inputs"][0]["data"].size * binary.NUMPY_DTYPES[datatype].itemsize == size


def test_binary_answers_round_trip_every_output_datatype():
    from tritonclient.utils import deserialize_bytes_tensor

    from workbench.serving.client import decode_binary_answer

    content = {"model_name": "m", "model_version": "1", "outputs": [
        {"name": "label", "datatype": "BYTES", "shape": [3], "data": ["setosa", "", "ü"]},
        {"name": "flags", "datatype": "BOOL", "shape": [2], "data": np.array([True, False])},
        {"name": "probabilities", "datatype": "FP32", "shape": [3, 2],
         "data": np.arange(6, dtype=np.float32)}]}
    body, headers = binary.encode_response(content, {"*", "!flags"})
    length = int(headers["Inference-Header-Content-Length"])
    answer = decode_binary_answer(body, length)
    label, flags, proba = answer["outputs"]
    assert label["data"] == ["setosa", "", "ü"] and flags["data"] == [True, False]
    assert "parameters" not in flags            # "!flags": asked for as JSON
    np.testing.assert_array_equal(proba["data"], np.arange(6, dtype=np.float32))
    raw = binary.tensor_bytes(["setosa", "", "ü"], "BYTES")   # Triton's BYTES layout
    assert deserialize_bytes_tensor(raw).tolist() == [b"setosa", b"", "ü".encode()]


def test_grpc_typed_answers_carry_string_labels():
    from workbench.serving.grpc.tensors import response_message

    content = {"model_name": "m", "model_version": "2", "id": "x", "outputs": [
        {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]},
        {"name": "probabilities", "datatype": "FP64", "shape": [2, 2],
         "data": np.array([0.25, 0.75, 0.5, 0.5])}]}
    typed = response_message(content, raw=False)
    assert list(typed.outputs[0].contents.bytes_contents) == [b"a", b"b"]
    assert list(typed.outputs[1].contents.fp64_contents) == [0.25, 0.75, 0.5, 0.5]
    raw = response_message(content, raw=True)
    assert raw.raw_output_contents[0] == binary.tensor_bytes(["a", "b"], "BYTES")
    assert np.frombuffer(raw.raw_output_contents[1], "<f8").tolist() == [0.25, 0.75, 0.5, 0.5]
