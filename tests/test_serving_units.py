"""Units without a server: protocol parsing, keys, the prediction log, metrics, the model cache;
and ``deploy()`` → Endpoint (one real subprocess, always stopped)."""
import gc
import math

import numpy as np
import pytest

from serving_helpers import data, make_home
from workbench.monitoring.log import PredictionLog, read_predictions
from workbench.registry import Registry
from workbench.serving import deploy
from workbench.serving.client import ServingError
from workbench.serving.errors import ApiError
from workbench.serving.keys import KeyStore
from workbench.serving.metrics import ServingMetrics
from workbench.serving.models_cache import ModelCache
from workbench.serving.protocol import Limits, parse_json, parse_v1, parse_v2

SIG = {"task": "classification", "n_features": 3, "feature_names": ["a", "b", "c"],
       "dtype": "float32", "n_outputs": 2, "classes": [0, 1]}
OUT = ("label", "probabilities")


def tensor(**kw):
    base = {"name": "x", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}
    base.update(kw)
    return base


def test_parse_v2_flat_nested_and_dtype():
    flat = parse_v2({"inputs": [tensor()], "id": "q"}, SIG, Limits(), OUT)
    nested = parse_v2({"inputs": [tensor(data=[[1, 2, 3], [4, 5, 6]])]}, SIG, Limits(), OUT)
    np.testing.assert_array_equal(flat.X, nested.X)
    assert flat.X.dtype == np.float32 and flat.X.shape == (2, 3) and flat.id == "q"


def test_parse_v2_one_input_per_feature():
    inputs = [{"name": n, "shape": [2], "datatype": "FP32", "data": v}
              for n, v in [("c", [3, 6]), ("a", [1, 4]), ("b", [2, 5])]]
    X = parse_v2({"inputs": inputs}, SIG, Limits(), OUT).X
    np.testing.assert_array_equal(X, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("payload, status", [
    ({"inputs": [tensor(shape=[3, 3])]}, 422),
    ({"inputs": [tensor(shape=[2, 3], datatype="UINT8", data=[1, -2, 3, 4, 5, 6])]}, 422),
    ({"inputs": [tensor(shape=[11, 3], data=[0] * 33)]}, 413),
    ({"inputs": [tensor(), tensor(name="y")]}, 422),
    ({"inputs": [tensor()], "outputs": "label"}, 400),
])
def test_parse_v2_refusals(payload, status):
    with pytest.raises(ApiError) as err:
        parse_v2(payload, SIG, Limits(max_rows=10), OUT)
    assert err.value.status == status


def test_parse_json_names_nan_as_non_finite_later():
    assert math.isnan(parse_json(b"[NaN]")[0])
    with pytest.raises(ApiError, match="not valid JSON"):
        parse_json(b"{")


def test_parse_v1_rows_and_objects():
    rows = parse_v1({"instances": [[1, 2, 3]], "probabilities": True}, SIG, Limits())
    objects = parse_v1({"instances": [{"a": 1, "b": 2, "c": 3}]}, SIG, Limits())
    np.testing.assert_array_equal(rows.X, objects.X)
    assert rows.probabilities and not objects.probabilities
    with pytest.raises(ApiError, match="keys"):
        parse_v1({"instances": [{"a": 1}]}, SIG, Limits())


def test_limits_are_checked():
    with pytest.raises(ValueError, match="max_rows"):
        Limits(max_rows=0)


def test_keystore_roundtrip_and_constant_time_lookup(tmp_path, store_backend):
    store = KeyStore(tmp_path)
    key = store.create("ci", "maintainer")
    found = store.authenticate(key)
    assert found.name == "ci" and found.allows("predictor") and not found.allows("admin")
    assert store.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.authenticate("wb_00000000_" + "a" * 43) is None
    other = KeyStore(tmp_path)          # another process's view
    other.revoke("ci")
    assert store.authenticate(key).revoked is False     # cached until polled
    assert store.poll() is True and store.authenticate(key).revoked is True
    with pytest.raises(ValueError, match="role"):
        store.create("x", "superuser")
    with pytest.raises(ValueError, match="name"):
        store.create("bad name!", "viewer")
    assert "ci" not in repr(store) and key not in repr(store)


def test_prediction_log_batches_samples_and_flushes_on_close(tmp_path, store_backend):
    log = PredictionLog(tmp_path / "predictions.db", input_fraction=1.0, max_input_rows=2,
                        flush_interval=60)
    X = np.arange(12.0).reshape(4, 3)
    for i in range(5):
        log.record(model="m", version=1, status=200, latency_ms=1.5, rows=4,
                   outputs=np.array([0, 1, 1, 0]), inputs=X, request_id=str(i))
    log.record(model=None, version=None, status=404, latency_ms=0.3, rows=0, error="no model",
               inputs=X)
    assert read_predictions(tmp_path) == []          # nothing written on the caller's thread
    log.close()
    rows = read_predictions(tmp_path)
    assert len(rows) == 6 and rows[0].outputs == [0, 1, 1, 0]
    assert rows[0].inputs == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]      # at most max_input_rows
    assert rows[-1].status == 404 and rows[-1].inputs is None and rows[-1].error == "no model"
    from store_helpers import raw_execute

    if store_backend == "sqlite":
        assert raw_execute(tmp_path, "PRAGMA journal_mode", "predictions.db")[0][0] == "wal"
    assert raw_execute(tmp_path, "SELECT SUM(requests) FROM rollup_status",
                       "predictions.db")[0][0] == 6


def test_prediction_log_input_fraction_zero_keeps_no_inputs(tmp_path, store_backend):
    with PredictionLog(tmp_path / "p.db", input_fraction=0.0) as log:
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1, outputs=[1],
                   inputs=np.ones((1, 2)))
    assert read_predictions(tmp_path / "p.db")[0].inputs is None
    with pytest.raises(ValueError, match="input_fraction"):
        PredictionLog(tmp_path / "q.db", input_fraction=2)


def test_metrics_render_in_process():
    m = ServingMetrics()
    m.request_started()
    m.observe("iris", 2, 200, 0.003, 5)
    m.observe(None, None, 401, 0.001, 0)
    m.model_loaded("iris", 2, True)
    m.set_live("iris", 2)
    text = m.render()[0].decode()
    assert 'workbench_requests_total{model="iris",status="200",version="2"} 1.0' in text
    assert 'workbench_requests_total{model="",status="401",version=""} 1.0' in text
    assert "workbench_requests_in_flight 1.0" in text
    assert 'workbench_model_live_version{model="iris"} 2.0' in text
    assert ServingMetrics().render()[0] != m.render()[0]      # no shared global registry


def test_model_cache_loads_before_swapping(tmp_path):
    make_home(tmp_path)
    loads = []
    cache = ModelCache(tmp_path, on_load=lambda *a: loads.append(a))
    held = cache.resolve("iris", None)
    assert held.version == 1 and cache.lookup("iris", None) is held
    with Registry(tmp_path) as reg:
        reg.set_alias("iris", "production", 2)
    assert cache.poll() is True
    assert cache.lookup("iris", None).version == 2
    assert held.run(data(2)[0].astype(np.float32))["label"].shape == (2,)   # old one still works
    assert ("iris", 2, True) in loads
    with pytest.raises(LookupError):
        cache.resolve("iris", "canary")
    cache.close()


def test_deploy_endpoint_predicts_and_stops(tmp_path):
    make_home(tmp_path)
    X, _ = data(3)
    endpoint = deploy("iris", home=tmp_path)
    try:
        assert endpoint.running and endpoint.url.startswith("http://127.0.0.1:")
        labels = endpoint.predict(X)
        assert labels.shape == (3,) and endpoint.client.last_version == 1
        assert endpoint.predict_proba(X).shape == (3, 2)
        assert endpoint.infer(X)["model_version"] == "1"
        assert endpoint.set_alias("production", 2)["model_version"] == "2"
        assert endpoint.live_version() == 2
        assert endpoint.rollback()["model_version"] == "1"
        assert "workbench_requests_total" in endpoint.metrics()
        html = endpoint._repr_html_()
        assert endpoint.url in html and "iris" in html and "curl" in html
        assert endpoint.key not in html and endpoint.key not in repr(endpoint)
        assert "Uvicorn running" in endpoint.logs()
    finally:
        endpoint.stop()
    assert not endpoint.running
    endpoint.stop()          # twice is fine
    assert KeyStore(tmp_path).authenticate(endpoint.key).revoked   # its key is revoked
    with pytest.raises(RuntimeError, match="client has been closed"):  # stop() closed it too
        endpoint.client.predict("iris", X)


def test_deploy_context_manager_and_garbage_collection(tmp_path):
    make_home(tmp_path)
    with deploy("iris", home=tmp_path, alias="production", auth=False) as endpoint:
        proc = endpoint._proc
        assert endpoint.predict(data(1)[0]).shape == (1,)
    assert proc.poll() is not None
    endpoint = deploy("iris", home=tmp_path, version=2)
    proc = endpoint._proc
    del endpoint
    gc.collect()
    assert proc.poll() is not None


def test_deploy_unknown_model_fails_before_starting(tmp_path):
    make_home(tmp_path)
    with pytest.raises(LookupError, match="nosuch"):
        deploy("nosuch", home=tmp_path)
    with pytest.raises(ValueError, match="not both"):
        deploy("iris", home=tmp_path, version=1, alias="production")


def test_client_raises_serving_error(tmp_path):
    make_home(tmp_path)
    with deploy("iris", home=tmp_path, role="viewer") as endpoint:
        with pytest.raises(ServingError) as err:
            endpoint.predict(data(1)[0])
        assert err.value.status == 403 and "predictor" in err.value.message
