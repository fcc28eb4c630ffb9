"""Adaptive batching: callers get exactly their own rows, a bad request fails alone, rows (not
requests) are counted, and batching shows in /metrics.

Probabilities are compared with a tolerance of 1e-6 (absolute) and labels exactly: a float32
matrix product may differ by one ulp between batch sizes, because BLAS picks different kernels
and summation orders for different row counts.
"""
import asyncio
import re

import httpx
import numpy as np
import pytest

from serving_helpers import N_FEATURES, Server, auth, make_home, v2_body
from workbench.models import MLPClassifier, RandomForestClassifier
from workbench.onnx import OnnxModel, export_onnx
from workbench.registry import Registry
from workbench.serving.batching import BatchConfig, Batcher
from workbench.serving.models_cache import LoadedModel, ModelCache

TOL = 1e-6


def _mlp(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, N_FEATURES))
    y = (X[:, 0] - X[:, 2] > 0).astype(int) + (X[:, 1] > 1).astype(int)
    return MLPClassifier(hidden_layer_sizes=(32,), epochs=5, random_state=seed).fit(X, y)


def _requests(n, seed=1, max_rows=20):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(1, max_rows + 1)), N_FEATURES)).astype(np.float32)
            for _ in range(n)]


def _family(kind):
    """The MLP, a random forest, or the MLP exported to ONNX and run by onnxruntime."""
    if kind == "mlp":
        return _mlp()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, N_FEATURES))
    y = (X[:, 0] - X[:, 2] > 0).astype(int) + (X[:, 1] > 1).astype(int)
    if kind == "forest":
        return RandomForestClassifier(n_estimators=5, max_depth=6, random_state=0).fit(X, y)
    return OnnxModel.from_bytes(export_onnx(_mlp()))


# -- the Batcher alone ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["mlp", "forest", "onnx"])
def test_batcher_gives_every_caller_its_own_rows(kind):
    loaded = LoadedModel("m", 1, _family(kind))
    batcher = Batcher(loaded.run, BatchConfig(64, 5.0))
    requests = _requests(64)

    async def go():
        return await asyncio.gather(*[batcher.run(X) for X in requests])
    answers = asyncio.run(go())
    for X, got in zip(requests, answers):
        alone = loaded.run(X)
        assert len(got["label"]) == len(X)
        np.testing.assert_array_equal(got["label"], alone["label"])
        np.testing.assert_allclose(got["probabilities"], alone["probabilities"], atol=TOL, rtol=0)
    assert batcher.batches_ < len(requests)          # requests really were merged


def test_batcher_counts_rows_and_serves_oversized_requests_alone():
    seen = []

    def run(X):
        seen.append(len(X))
        return {"predictions": X[:, :1] * 2}
    batcher = Batcher(run, BatchConfig(10, 50.0))
    sizes = [4, 4, 4, 25, 3]

    async def go():
        return await asyncio.gather(*[batcher.run(np.full((n, 2), float(i)))
                                      for i, n in enumerate(sizes)])
    answers = asyncio.run(go())
    for i, (n, got) in enumerate(zip(sizes, answers)):
        np.testing.assert_array_equal(got["predictions"], np.full((n, 1), 2.0 * i))
    assert max(n for n in seen if n != 25) <= 10 and 25 in seen     # never more than 10 merged
    assert sum(seen) == sum(sizes)                                   # nothing dropped


def test_a_failing_request_does_not_fail_its_neighbours():
    def run(X):
        if (X[:, 0] == 13).any():
            raise RuntimeError("the model cannot take 13")
        return {"predictions": X[:, :1] + 1}
    observed = []
    batcher = Batcher(run, BatchConfig(64, 20.0), observe=lambda r, w: observed.append((r, w)))

    async def go():
        inputs = [np.full((2, 2), 13.0 if i == 3 else float(i)) for i in range(8)]
        return await asyncio.gather(*[batcher.run(X) for X in inputs], return_exceptions=True)
    answers = asyncio.run(go())
    for i, got in enumerate(answers):
        if i == 3:
            assert isinstance(got, RuntimeError)
        else:
            np.testing.assert_array_equal(got["predictions"], np.full((2, 1), i + 1.0))
    assert observed and all(len(w) >= 1 for _, w in observed)


def test_batch_config_validation_and_tags():
    assert not BatchConfig().enabled
    assert BatchConfig(8).for_tags({"serving.batch_max_rows": 0}).enabled is False
    assert BatchConfig(0).for_tags({"serving.batch_max_rows": "16",
                                    "serving.batch_max_delay_ms": 1}) == BatchConfig(16, 1.0)
    for bad in [dict(max_batch_rows=-1), dict(max_batch_rows=2.5), dict(max_delay_ms=-1)]:
        with pytest.raises(ValueError, match="max_"):
            BatchConfig(**bad)


def test_registry_tags_override_the_server_setting(tmp_path):
    with Registry(tmp_path) as reg:
        reg.register("on", _mlp())
        reg.register("off", _mlp(), tags={"serving.batch_max_rows": 0})
        reg.register("bad", _mlp(), tags={"serving.batch_max_rows": "lots"})
    cache = ModelCache(tmp_path, batching=BatchConfig(32, 1.0))
    try:
        assert cache.resolve("on", None).batcher.max_rows == 32
        assert cache.resolve("off", None).batcher is None
        assert cache.resolve("bad", None).batcher.max_rows == 32     # bad tag: server setting
    finally:
        cache.close()


# -- a real server ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    with Registry(home) as reg:
        reg.register("mlp", _mlp())
    with Server(home, "--batch-max-rows", "64", "--batch-max-delay-ms", "20") as server:
        yield server, keys, home


async def _concurrent(url, key, bodies):
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, headers=auth(key), timeout=30,
                                 limits=limits) as http:
        return await asyncio.gather(*[http.post("/v2/models/mlp/infer", json=b) for b in bodies])


def test_64_concurrent_clients_get_the_unbatched_answer(served):
    server, keys, home = served
    with Registry(home) as reg:
        loaded = LoadedModel("mlp", 1, reg.load("mlp"))
    requests = _requests(64, seed=7)
    answers = asyncio.run(_concurrent(server.url, keys["predictor"],
                                      [v2_body(X, id=f"r{i}") for i, X in enumerate(requests)]))
    for i, (X, answer) in enumerate(zip(requests, answers)):
        assert answer.status_code == 200, answer.text
        content = answer.json()
        assert content["id"] == f"r{i}"
        label, proba = content["outputs"]
        alone = loaded.run(X.astype(np.float32))
        assert label["shape"] == [len(X)] and label["data"] == alone["label"].tolist()
        np.testing.assert_allclose(np.asarray(proba["data"]).reshape(proba["shape"]),
                                   alone["probabilities"], atol=TOL, rtol=0)
    text = httpx.get(server.url + "/metrics", headers=auth(keys["viewer"])).text
    batches = float(re.search(r'workbench_batch_rows_count\{model="mlp"\} (\S+)', text)[1])
    rows = float(re.search(r'workbench_batch_rows_sum\{model="mlp"\} (\S+)', text)[1])
    assert 1 <= batches < 64 and rows == sum(len(X) for X in requests)
    assert 'workbench_batch_queue_wait_seconds_bucket{le="0.0001",model="mlp"}' in text


def test_mixed_batch_one_bad_request_fails_alone(served):
    server, keys, _ = served
    requests = _requests(32, seed=9)
    bodies = [v2_body(X) for X in requests]
    bodies[5]["inputs"][0]["data"][1] = "NaN?"            # refused by validation, per request
    bodies[9]["inputs"][0]["shape"] = [len(requests[9]), N_FEATURES + 1]
    answers = asyncio.run(_concurrent(server.url, keys["predictor"], bodies))
    for i, answer in enumerate(answers):
        if i in (5, 9):
            assert answer.status_code == 422 and "error" in answer.json(), answer.text
        else:
            assert answer.status_code == 200, answer.text
            assert answer.json()["outputs"][0]["shape"] == [len(requests[i])]


def test_a_batch_of_one_that_fails_fails_alone():
    def run(X):
        raise ValueError("broken model")
    batcher = Batcher(run, BatchConfig(8, 0.0))

    async def go():
        return await asyncio.gather(batcher.run(np.ones((1, 2))), return_exceptions=True)
    (answer,) = asyncio.run(go())
    assert isinstance(answer, ValueError)


def test_deploy_with_batching(tmp_path):
    from workbench.serving import deploy

    with Registry(tmp_path) as reg:
        reg.register("mlp", _mlp())
    requests = _requests(16, seed=3)
    with deploy("mlp", home=tmp_path, batch_max_rows=32, batch_max_delay_ms=10) as ep:
        answers = asyncio.run(_concurrent(ep.url, ep.key, [v2_body(X) for X in requests]))
        assert all(a.status_code == 200 for a in answers)
        assert "workbench_batch_rows_count" in ep.metrics()
