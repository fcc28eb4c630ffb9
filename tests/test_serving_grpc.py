"""The v2 gRPC service (``inference.GRPCInferenceService``) with the stock ``tritonclient.grpc``
and the generated stubs, against a real ``workbench serve --grpc-port`` process: predictions
equal to the in-memory model for every datatype, the auth matrix, status codes of bad requests
(server alive), the shared log and metrics, TLS, and a hot swap under gRPC load."""
import threading

import grpc
import httpx
import numpy as np
import pytest
from serving_helpers import Server, auth, data, make_home, wait_for
from test_serving_binary import DATATYPES, _matrix
from test_serving_tls import self_signed

from workbench.monitoring import read_predictions
from workbench.registry import Registry
from workbench.serving.endpoint import free_port
from workbench.serving.grpc import grpc_predict_v2_pb2 as pb2
from workbench.serving.grpc import grpc_predict_v2_pb2_grpc as pb2_grpc
from workbench.serving.keys import KeyStore

tritongrpc = pytest.importorskip("tritonclient.grpc")
from tritonclient.utils import InferenceServerException  # noqa: E402 - after the skip

pytestmark = pytest.mark.slow     # every test talks to a real server


def _bearer(key):
    return {"authorization": f"Bearer {key}"} if key else {}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    with Registry(home) as reg:
        models = {name: reg.load(name, version=1) for name in ("iris", "house")}
    port = free_port()
    with Server(home, "--grpc-port", str(port)) as server:
        client = tritongrpc.InferenceServerClient(f"127.0.0.1:{port}")
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield server, keys, client, pb2_grpc.GRPCInferenceServiceStub(channel), models, home
        finally:
            client.close()
            channel.close()


def _infer(client, name, X, datatype, key, **kwargs):
    tensor = tritongrpc.InferInput("input-0", list(X.shape), datatype)
    tensor.set_data_from_numpy(X)
    return client.infer(name, [tensor], headers=_bearer(key), **kwargs)


@pytest.mark.parametrize("datatype", DATATYPES)
def test_tritonclient_grpc_matches_the_in_memory_model(served, datatype):
    _, keys, client, _, models, _ = served
    X = _matrix(datatype)
    iris, house = models["iris"], models["house"]
    answer = _infer(client, "iris", X, datatype, keys["predictor"])
    dtype = iris.signature()["dtype"]
    np.testing.assert_array_equal(answer.as_numpy("label"), iris.predict(X.astype(dtype)))
    np.testing.assert_allclose(answer.as_numpy("probabilities"),
                               iris.predict_proba(X.astype(dtype)), rtol=1e-6)
    assert answer.get_response().model_version == "1"
    answer = _infer(client, "house", X, datatype, keys["predictor"])
    np.testing.assert_allclose(answer.as_numpy("predictions").ravel(),
                               house.predict(X.astype(house.signature()["dtype"])), rtol=1e-6)


@pytest.mark.parametrize("datatype, field", [("FP64", "fp64_contents"), ("FP32", "fp32_contents"),
                                             ("INT32", "int_contents"), ("INT64", "int64_contents"),
                                             ("UINT8", "uint_contents"), ("BOOL", "bool_contents")])
def test_typed_contents_are_answered_with_typed_contents(served, datatype, field):
    _, keys, _, stub, models, _ = served
    X = _matrix(datatype)
    request = pb2.ModelInferRequest(model_name="iris", id="typed-1")
    tensor = request.inputs.add(name="input-0", datatype=datatype, shape=list(X.shape))
    getattr(tensor.contents, field).extend(X.ravel().tolist())
    answer = stub.ModelInfer(request, metadata=list(_bearer(keys["predictor"]).items()))
    assert answer.id == "typed-1" and not answer.raw_output_contents
    label, proba = answer.outputs
    iris = models["iris"]
    expected = X.astype(iris.signature()["dtype"])
    assert list(label.contents.int64_contents) == iris.predict(expected).tolist()
    np.testing.assert_allclose(np.reshape(proba.contents.fp32_contents, tuple(proba.shape)),
                               iris.predict_proba(expected), rtol=1e-6)


def test_health_and_metadata(served):
    server, keys, client, stub, _, _ = served
    assert client.is_server_live() and client.is_server_ready()
    viewer = _bearer(keys["viewer"])
    assert client.is_model_ready("iris", headers=viewer)
    assert client.is_model_ready("iris", "2", headers=viewer)
    meta = client.get_server_metadata(headers=viewer)
    assert meta.name == "workbench" and "binary_tensor_data" in meta.extensions
    model = client.get_model_metadata("iris", "production", headers=viewer)
    assert list(model.versions) == ["1", "2"]
    own = stub.ModelMetadata(pb2.ModelMetadataRequest(name="iris", version="production"),
                             metadata=list(viewer.items()))
    rest = httpx.get(server.url + "/v2/models/iris/versions/production",
                     headers=auth(keys["viewer"])).json()
    # OIP's properties (not in Triton's proto) say what REST metadata says
    assert own.properties["model_version"] == rest["model_version"] == "1"
    assert own.properties["model_class"] == rest["model_class"]
    assert [o.name for o in model.outputs] == ["label", "probabilities"]
    assert list(model.inputs[0].shape) == [-1, 4]


@pytest.mark.parametrize("key, infer, metadata", [
    (None, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAUTHENTICATED),
    ("revoked", grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAUTHENTICATED),
    ("garbage", grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAUTHENTICATED),
    ("viewer", grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.OK),
    ("predictor", grpc.StatusCode.OK, grpc.StatusCode.OK),
    ("admin", grpc.StatusCode.OK, grpc.StatusCode.OK)])
def test_auth_matrix(served, key, infer, metadata):
    _, keys, _, stub, _, _ = served
    secret = {"garbage": "wb_nope_nope"}.get(key, keys.get(key))
    meta = [("authorization", f"Bearer {secret}")] if secret else []
    X, _ = data(2)
    request = pb2.ModelInferRequest(model_name="iris")
    request.inputs.add(name="input-0", datatype="FP64", shape=[2, 4])
    request.raw_input_contents.append(X.astype("<f8").tobytes())
    calls = [(stub.ModelInfer, request, infer),
             (stub.ModelMetadata, pb2.ModelMetadataRequest(name="iris"), metadata),
             (stub.ModelReady, pb2.ModelReadyRequest(name="iris"), metadata),
             (stub.ServerMetadata, pb2.ServerMetadataRequest(), metadata),
             (stub.ServerLive, pb2.ServerLiveRequest(), grpc.StatusCode.OK),
             (stub.ServerReady, pb2.ServerReadyRequest(), grpc.StatusCode.OK)]
    for method, message, expected in calls:
        try:
            method(message, metadata=meta, timeout=10)
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code = exc.code()
            assert exc.details()      # a message saying what is wrong
        assert code == expected, (method, code)


def _raw_request(shape=(1, 4), datatype="FP64", raw=None, name="iris", **kwargs):
    request = pb2.ModelInferRequest(model_name=name, **kwargs)
    request.inputs.add(name="input-0", datatype=datatype, shape=list(shape))
    if raw is not None:
        request.raw_input_contents.append(raw)
    return request


_ROW = np.zeros((1, 4), "<f8").tobytes()
BAD = [  # (what, request, status code, words in the details)
    ("raw size does not match the shape", _raw_request(raw=_ROW[:24]),
     grpc.StatusCode.INVALID_ARGUMENT, "needs 32"),
    ("raw contents for no input", _raw_request(raw=_ROW, shape=(1, 4)).__class__(
        model_name="iris", raw_input_contents=[_ROW]), grpc.StatusCode.INVALID_ARGUMENT,
     "for 0 inputs"),
    ("no inputs at all", pb2.ModelInferRequest(model_name="iris"),
     grpc.StatusCode.INVALID_ARGUMENT, "empty"),
    ("more raw contents than inputs", _raw_request(raw=_ROW, raw_input_contents=[_ROW]),
     grpc.StatusCode.INVALID_ARGUMENT, "one per input"),
    ("wrong feature count", _raw_request(shape=(1, 3), raw=_ROW[:24]),
     grpc.StatusCode.INVALID_ARGUMENT, "4 features"),
    ("unknown datatype", _raw_request(datatype="FP128", raw=_ROW),
     grpc.StatusCode.INVALID_ARGUMENT, "not a v2 datatype"),
    ("BYTES", _raw_request(datatype="BYTES", raw=_ROW), grpc.StatusCode.INVALID_ARGUMENT,
     "takes numbers"),
    ("FP16 typed contents", _raw_request(datatype="FP16"), grpc.StatusCode.INVALID_ARGUMENT,
     "FP16"),
    ("typed contents shorter than the shape", _raw_request(shape=(2, 4)),
     grpc.StatusCode.INVALID_ARGUMENT, "product of shape"),
    ("NaN", _raw_request(raw=np.full((1, 4), np.nan).tobytes()),
     grpc.StatusCode.INVALID_ARGUMENT, "non-finite"),
    ("unknown model", _raw_request(name="nope", raw=_ROW), grpc.StatusCode.NOT_FOUND, "nope"),
    ("unknown version", _raw_request(raw=_ROW, model_version="99"), grpc.StatusCode.NOT_FOUND,
     "99"),
    ("unknown output", _raw_request(raw=_ROW, outputs=[
        pb2.ModelInferRequest.InferRequestedOutputTensor(name="logits")]),
     grpc.StatusCode.INVALID_ARGUMENT, "not an output"),
    ("too many rows", _raw_request(shape=(20_000, 4), raw=bytes(20_000 * 32)),
     grpc.StatusCode.RESOURCE_EXHAUSTED, "rows"),
]


@pytest.mark.parametrize("what, request_, code, words", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_a_status_code_and_the_server_lives(served, what, request_, code, words):
    server, keys, _, stub, _, _ = served
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(request_, metadata=list(_bearer(keys["predictor"]).items()), timeout=10)
    assert caught.value.code() == code, caught.value.details()
    assert words in caught.value.details()
    assert stub.ServerLive(pb2.ServerLiveRequest()).live
    assert httpx.get(server.url + "/v2/health/live").status_code == 200


def test_tritonclient_errors_are_exceptions_with_the_message(served):
    _, keys, client, _, _, _ = served
    with pytest.raises(InferenceServerException, match="UNAUTHENTICATED"):
        _infer(client, "iris", _matrix("FP64"), "FP64", None)
    with pytest.raises(InferenceServerException, match="NOT_FOUND"):
        _infer(client, "nope", _matrix("FP64"), "FP64", keys["predictor"])


def _count(server, keys, labels):
    text = httpx.get(server.url + "/metrics", headers=auth(keys["viewer"])).text
    for line in text.splitlines():
        if line.startswith("workbench_requests_total{") and labels in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_grpc_requests_share_the_log_and_metrics(served):
    server, keys, client, _, _, home = served
    ok = 'model="iris",status="200",version="1"'
    before = _count(server, keys, ok)
    _infer(client, "iris", _matrix("FP32"), "FP32", keys["predictor"], request_id="grpc-logged")
    rows = wait_for(lambda: [r for r in read_predictions(home) if r.request_id == "grpc-logged"])
    assert len(rows) == 1 and rows[0].protocol == "grpc" and rows[0].status == 200
    assert rows[0].version == 1 and rows[0].rows == 6
    assert _count(server, keys, ok) == before + 1
    with pytest.raises(InferenceServerException):
        _infer(client, "iris", _matrix("FP32"), "FP32", keys["predictor"], model_version="99")
    assert wait_for(lambda: [r for r in read_predictions(home)
                             if r.protocol == "grpc" and r.status == 404])


def test_grpc_over_tls_with_the_rest_certificate(tmp_path):
    keys = make_home(tmp_path)
    cert, key = self_signed(tmp_path)
    port = free_port()
    with Server(tmp_path, "--grpc-port", str(port), ssl=(cert, key)):
        client = tritongrpc.InferenceServerClient(f"127.0.0.1:{port}", ssl=True,
                                                  root_certificates=str(cert))
        try:
            X = _matrix("FP64")
            answer = _infer(client, "iris", X, "FP64", keys["predictor"])
            with Registry(tmp_path) as reg:
                expected = reg.load("iris", version=1).predict(X)
            np.testing.assert_array_equal(answer.as_numpy("label"), expected)
        finally:
            client.close()
        plain = tritongrpc.InferenceServerClient(f"127.0.0.1:{port}")
        try:
            with pytest.raises(InferenceServerException):
                plain.is_server_live(client_timeout=5)
        finally:
            plain.close()


def test_canary_and_shadow_apply_to_grpc(tmp_path):
    keys = make_home(tmp_path)
    X, _ = data(2)
    port = free_port()
    with Registry(tmp_path) as reg:
        reg.set_split("iris", "production", {1: 0.5, 2: 0.5})
    with Server(tmp_path, "--grpc-port", str(port)):
        client = tritongrpc.InferenceServerClient(f"127.0.0.1:{port}")
        try:
            def version_for(client_id):
                answer = client.infer("iris", [_tensor(X)], headers={
                    **_bearer(keys["predictor"]), "x-client-id": client_id})
                return int(answer.get_response().model_version)
            by_client = {f"user-{i}": version_for(f"user-{i}") for i in range(24)}
            assert set(by_client.values()) == {1, 2}          # the split applies
            assert all(version_for(c) == v for c, v in list(by_client.items())[:6])  # sticky
            with Registry(tmp_path) as reg:
                reg.set_split("iris", "production", {1: 1.0})
                reg.set_shadow("iris", "production", 2)
            wait_for(lambda: version_for("x") == 1 and _shadowed(tmp_path), timeout=20)
            assert _shadowed(tmp_path)
        finally:
            client.close()


def _tensor(X):
    tensor = tritongrpc.InferInput("input-0", list(X.shape), "FP64")
    tensor.set_data_from_numpy(np.asarray(X, dtype=np.float64))
    return tensor


def _shadowed(home):
    return [r for r in read_predictions(home) if r.role == "shadow" and r.protocol == "grpc"
            and r.version == 2]


@pytest.mark.parametrize("workers", [1, 2])
def test_hot_swap_under_grpc_load_fails_no_call(tmp_path, workers):
    keys = make_home(tmp_path)
    X, _ = data(3)
    with Registry(tmp_path) as reg:
        expected = {v: reg.load("iris", version=v).predict(X).tolist() for v in (1, 2)}
    port = free_port()
    with Server(tmp_path, "--grpc-port", str(port), "--workers", str(workers)):
        stop = threading.Event()
        failures, seen, wrong = [], [], []

        def caller():
            client = tritongrpc.InferenceServerClient(f"127.0.0.1:{port}")
            try:
                while not stop.is_set():
                    try:
                        answer = _infer(client, "iris", X, "FP64", keys["predictor"])
                    except InferenceServerException as exc:
                        failures.append(str(exc))
                        continue
                    version = int(answer.get_response().model_version)
                    seen.append(version)
                    if answer.as_numpy("label").tolist() != expected[version]:
                        wrong.append(version)
            finally:
                client.close()

        threads = [threading.Thread(target=caller) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            with Registry(tmp_path) as reg:
                for target in (2, 1, 2, 1, 2):
                    count = len(seen)
                    wait_for(lambda count=count: len(seen) > count + 20, timeout=20)
                    reg.set_alias("iris", "production", target)
                    assert wait_for(lambda target=target: seen and seen[-1] == target,
                                    timeout=20)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        assert failures == [] and wrong == []
        assert {1, 2} <= set(seen)


def test_key_scope_and_quotas_apply_to_grpc(served):
    _, _, _, stub, _, home = served
    store = KeyStore(home)
    try:
        scoped = store.create("grpc-house-only", "predictor", models=["house"])
        limited = store.create("grpc-one-per-hour", "predictor", rate=1 / 3600, burst=1)
    finally:
        store.close()

    def code(key, name):
        try:
            stub.ModelInfer(_raw_request(name=name, raw=_ROW),
                            metadata=[("authorization", f"Bearer {key}")], timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as exc:
            return exc.code()
    assert wait_for(lambda: code(scoped, "house") == grpc.StatusCode.OK)
    assert code(scoped, "iris") == grpc.StatusCode.PERMISSION_DENIED
    assert wait_for(lambda: code(limited, "iris") == grpc.StatusCode.OK)
    assert code(limited, "iris") == grpc.StatusCode.RESOURCE_EXHAUSTED
