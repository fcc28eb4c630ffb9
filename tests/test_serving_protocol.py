"""Protocol conformance of every endpoint, against a real uvicorn process on 127.0.0.1."""
import httpx
import numpy as np
import pytest

from serving_helpers import Server, auth, data, make_home, v2_body, wait_for
from workbench.monitoring import read_predictions


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home, families=True)
    with Server(home) as server:
        with httpx.Client(base_url=server.url, headers=auth(keys["admin"]), timeout=10) as http:
            yield server, keys, http, home


def test_health_is_open(served):
    server, *_ = served
    assert httpx.get(server.url + "/v2/health/live").json() == {"live": True}
    ready = httpx.get(server.url + "/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}


def test_server_metadata(served):
    _, _, http, _ = served
    meta = http.get("/v2").json()
    assert meta["name"] == "workbench" and "version" in meta and isinstance(meta["extensions"], list)


def test_model_list(served):
    _, _, http, _ = served
    models = {m["name"]: m for m in http.get("/v2/models").json()["models"]}
    assert models["iris"]["versions"] == ["1", "2"] and models["iris"]["aliases"]["production"] == "1"


@pytest.mark.parametrize("path, version", [("/v2/models/iris", "1"),
                                           ("/v2/models/iris/versions/2", "2"),
                                           ("/v2/models/iris/versions/production", "1"),
                                           ("/v2/models/house", "1"),
                                           ("/v2/models/forest", "1"), ("/v2/models/onnx", "1")])
def test_model_metadata(served, path, version):
    _, _, http, _ = served
    meta = http.get(path).json()
    assert meta["model_version"] == version
    assert meta["inputs"][0]["shape"] == [-1, 4] and meta["inputs"][0]["datatype"] in ("FP32", "FP64")
    names = [o["name"] for o in meta["outputs"]]
    assert names == (["predictions"] if "house" in path else ["label", "probabilities"])
    assert meta["platform"] and meta["versions"]


@pytest.mark.parametrize("path", ["/v2/models/iris/ready", "/v2/models/iris/versions/2/ready",
                                  "/v2/models/iris/versions/production/ready"])
def test_model_ready(served, path):
    _, _, http, _ = served
    answer = http.get(path)
    assert answer.status_code == 200 and answer.json()["ready"] is True
    assert answer.json()["name"] == "iris" and "model_version" in answer.json()


def test_infer_flat_and_nested_data_give_the_same_answer(served):
    _, _, http, _ = served
    X, _ = data(5)
    flat = http.post("/v2/models/iris/infer", json=v2_body(X, id="req-1")).json()
    nested = v2_body(X)
    nested["inputs"][0]["data"] = X.tolist()
    nested = http.post("/v2/models/iris/infer", json=nested).json()
    assert flat["id"] == "req-1" and flat["model_name"] == "iris" and flat["model_version"] == "1"
    assert flat["outputs"] == nested["outputs"]
    label, proba = flat["outputs"]
    assert label["name"] == "label" and label["shape"] == [5] and label["datatype"] == "INT64"
    assert proba["name"] == "probabilities" and proba["shape"] == [5, 2]
    p = np.asarray(proba["data"]).reshape(5, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert label["data"] == p.argmax(axis=1).tolist()


def test_infer_by_version_and_alias(served):
    _, _, http, _ = served
    X, _ = data(4)
    v1 = http.post("/v2/models/iris/versions/1/infer", json=v2_body(X)).json()
    v2 = http.post("/v2/models/iris/versions/2/infer", json=v2_body(X)).json()
    prod = http.post("/v2/models/iris/versions/production/infer", json=v2_body(X)).json()
    assert (v1["model_version"], v2["model_version"], prod["model_version"]) == ("1", "2", "1")
    assert [1 - v for v in v1["outputs"][0]["data"]] == v2["outputs"][0]["data"]


def test_infer_requested_outputs_and_fp32(served):
    _, _, http, _ = served
    X, _ = data(3)
    answer = http.post("/v2/models/iris/infer",
                       json=v2_body(X, "FP32", outputs=[{"name": "probabilities"}])).json()
    assert [o["name"] for o in answer["outputs"]] == ["probabilities"]


@pytest.mark.parametrize("name", ["forest", "onnx"])
def test_infer_tree_and_onnx_models_answer_as_in_memory(served, name):
    from workbench.registry import Registry

    _, _, http, home = served
    X, _ = data(5, seed=3)
    answer = http.post(f"/v2/models/{name}/infer", json=v2_body(X, "FP32")).json()
    outputs = {o["name"]: o for o in answer["outputs"]}
    with Registry(home) as reg:
        model = reg.load(name)
    expected = model.forward(X.astype(np.float32))
    np.testing.assert_allclose(np.reshape(outputs["probabilities"]["data"], (5, 2)), expected,
                               rtol=1e-6, atol=1e-7)
    assert outputs["label"]["data"] == model.predict(X).tolist()


def test_infer_regressor(served):
    _, _, http, _ = served
    X, _ = data(3)
    answer = http.post("/v2/models/house/infer", json=v2_body(X)).json()
    (out,) = answer["outputs"]
    assert out["name"] == "predictions" and out["shape"] == [3, 1]
    np.testing.assert_allclose(out["data"], X @ [1.0, 2.0, 0.0, -1.0], atol=0.2)


def test_v1_predict(served):
    _, _, http, _ = served
    X, _ = data(3)
    answer = http.post("/v1/models/iris:predict", json={"instances": X.tolist()}).json()
    assert answer["model_version"] == "1" and len(answer["predictions"]) == 3
    assert "probabilities" not in answer
    with_p = http.post("/v1/models/iris/versions/2:predict",
                       json={"instances": X.tolist(), "probabilities": True}).json()
    assert with_p["model_version"] == "2" and np.asarray(with_p["probabilities"]).shape == (3, 2)
    house = http.post("/v1/models/house:predict", json={"instances": X.tolist()}).json()
    assert np.asarray(house["predictions"]).shape == (3,)


def test_v1_status(served):
    _, _, http, _ = served
    status = http.get("/v1/models/iris").json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    assert status["model_version"] == "1"


def test_metrics(served):
    _, _, http, _ = served
    http.post("/v2/models/iris/infer", json=v2_body(data(2)[0]))
    text = http.get("/metrics").text
    for name in ("workbench_requests_total", "workbench_request_latency_seconds_bucket",
                 "workbench_request_rows_bucket", "workbench_requests_in_flight",
                 "workbench_model_loads_total", "workbench_model_live_version"):
        assert name in text, name
    assert 'workbench_requests_total{model="iris",status="200",version="1"}' in text


def test_docs_and_openapi_document_the_inference_routes(served):
    server, *_ = served
    spec = httpx.get(server.url + "/openapi.json").json()
    for path in ("/v2/models/{name}/infer", "/v1/models/{name}:predict",
                 "/v2/models/{name}/aliases/{alias}", "/v2/health/ready"):
        assert path in spec["paths"], path
    assert "InferRequest" in spec["components"]["schemas"]
    assert httpx.get(server.url + "/docs").status_code == 200


def test_alias_put_and_rollback_over_http(served):
    _, _, http, _ = served
    X, _ = data(2)
    moved = http.put("/v2/models/iris/aliases/staging", json={"version": 2}).json()
    assert moved == {"name": "iris", "alias": "staging", "model_version": "2",
                     "previous_version": None}
    assert http.post("/v2/models/iris/versions/staging/infer",
                     json=v2_body(X)).json()["model_version"] == "2"
    http.put("/v2/models/iris/aliases/staging", json={"version": 1})
    back = http.post("/v2/models/iris/aliases/staging/rollback").json()
    assert back["model_version"] == "2" and back["previous_version"] == "1"
    assert http.post("/v2/models/iris/versions/staging/infer",
                     json=v2_body(X)).json()["model_version"] == "2"


def test_repository_load(served):
    _, _, http, _ = served
    answer = http.post("/v2/repository/models/iris/load").json()
    assert answer["loaded"] is True and answer["model_version"] == "1"


def test_keys_over_http(served):
    server, keys, http, _ = served
    created = http.post("/admin/keys", json={"name": "http-made", "role": "viewer"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert httpx.get(server.url + "/v2", headers=auth(key)).status_code == 200
    listed = http.get("/admin/keys").json()["keys"]
    assert "http-made" in [k["name"] for k in listed] and all("key" not in k for k in listed)
    assert http.delete("/admin/keys/http-made").status_code == 200
    assert httpx.get(server.url + "/v2", headers=auth(key)).status_code == 401


def test_prediction_log_records_requests(served):
    _, _, http, home = served
    X, _ = data(2)
    http.post("/v2/models/iris/infer", json=v2_body(X, id="logged-1"))
    http.post("/v2/models/iris/infer", content=b"{not json")
    rows = wait_for(lambda: [r for r in read_predictions(home) if r.request_id == "logged-1"])
    assert rows and rows[0].status == 200 and rows[0].model == "iris" and rows[0].version == 1
    assert rows[0].rows == 2 and len(rows[0].outputs) == 2 and rows[0].latency_ms > 0
    errors = wait_for(lambda: [r for r in read_predictions(home) if r.status == 400])
    assert errors and errors[0].error and errors[0].outputs is None
