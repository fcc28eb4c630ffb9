"""Canary splits and shadow traffic through a real server: the split within ±5 points of its
weight over 2,000 requests, sticky routing by client id, promote / abort over HTTP, and a
shadow version that is logged but never seen by a client."""
import collections

import httpx
import numpy as np
import pytest

from serving_helpers import Server, auth, data, make_home, v2_body, wait_for
from workbench.monitoring import read_predictions
from workbench.models import LogisticRegression
from workbench.registry import Registry


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    X, y = data()
    with Registry(home) as reg:
        reg.register("iris", LogisticRegression().fit(X, (X[:, 1] > 0).astype(int)))   # v3
    with Server(home) as server:
        with httpx.Client(base_url=server.url, headers=auth(keys["maintainer"]),
                          timeout=10) as http:
            yield server, keys, http, home


def _versions(http, n, **kwargs):
    body = v2_body(data(1)[0])
    return collections.Counter(http.post("/v2/models/iris/infer", json=body, **kwargs)
                               .json()["model_version"] for _ in range(n))


def _split(http, weights):
    answer = http.put("/v2/models/iris/aliases/production", json={"weights": weights})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_split_within_5_points_over_2000_requests(served):
    _, _, http, _ = served
    moved = _split(http, {"1": 0.9, "2": 0.1})
    assert moved["weights"] == {"1": 0.9, "2": 0.1} and moved["model_version"] == "1"
    counts = _versions(http, 2000)
    assert set(counts) == {"1", "2"}
    assert abs(counts["2"] / 2000 - 0.10) <= 0.05, counts
    v1 = http.post("/v1/models/iris:predict", json={"instances": data(1)[0].tolist()}).json()
    assert v1["model_version"] in ("1", "2")
    meta = http.get("/v2/models/iris").json()
    assert meta["aliases"]["production"] == "1" and meta["traffic"]["production"]["weights"]


def test_sticky_routing_by_client_id(served):
    _, _, http, _ = served
    _split(http, {"1": 0.5, "2": 0.5})
    seen = {}
    for client in (f"client-{i}" for i in range(40)):
        counts = _versions(http, 5, headers={"X-Client-Id": client})
        assert len(counts) == 1, (client, counts)            # always the same version
        seen[client] = next(iter(counts))
    assert set(seen.values()) == {"1", "2"}                   # and clients are spread


def test_promote_and_abort_in_one_call(served):
    _, keys, http, _ = served
    _split(http, {"1": 0.8, "2": 0.2})
    promoted = http.post("/v2/models/iris/aliases/production/promote")
    assert promoted.status_code == 200 and promoted.json()["model_version"] == "2"
    assert promoted.json()["weights"] == {"2": 1.0}
    assert wait_for(lambda: _versions(http, 20) == {"2": 20})
    again = http.post("/v2/models/iris/aliases/production/abort")
    assert again.status_code == 409 and "not split" in again.json()["error"]
    _split(http, {"2": 0.7, "1": 0.3})
    aborted = http.post("/v2/models/iris/aliases/production/abort").json()
    assert aborted["model_version"] == "2" and aborted["weights"] == {"2": 1.0}
    assert wait_for(lambda: _versions(http, 20) == {"2": 20})
    _split(http, {"2": 0.7, "1": 0.3})
    chosen = http.post("/v2/models/iris/aliases/production/promote", json={"version": 1}).json()
    assert chosen["model_version"] == "1"
    refused = httpx.post(http.base_url.join("/v2/models/iris/aliases/production/promote"),
                         headers=auth(keys["predictor"]))
    assert refused.status_code == 403
    bad = http.put("/v2/models/iris/aliases/production", json={"weights": {"1": 2, "2": 1}})
    assert bad.status_code == 422 and "add up to 1" in bad.json()["error"]


def test_shadow_is_logged_and_never_visible(served):
    server, keys, http, home = served
    http.put("/v2/models/iris/aliases/production", json={"version": 1})
    shadowed = http.put("/v2/models/iris/aliases/production/shadow", json={"version": 3})
    assert shadowed.status_code == 200 and shadowed.json()["shadow"] == "3"
    X, _ = data(3)
    client = httpx.Client(base_url=server.url, headers=auth(keys["predictor"]), timeout=10)
    alone = client.post("/v2/models/iris/versions/1/infer", json=v2_body(X)).json()
    for i in range(30):
        answer = client.post("/v2/models/iris/infer", json=v2_body(X, id=f"shadow-{i}"))
        content = answer.json()
        assert answer.status_code == 200 and content["model_version"] == "1"
        assert content["outputs"] == alone["outputs"]              # the primary's answer only
        assert not any("shadow" in h.lower() for h in answer.headers)
    rows = wait_for(lambda: [r for r in read_predictions(home) if r.role == "shadow"
                             and (r.request_id or "").startswith("shadow-")]
                    if len([r for r in read_predictions(home) if r.role == "shadow"
                            and (r.request_id or "").startswith("shadow-")]) == 30 else None)
    assert rows, "30 shadow rows expected in the log"
    assert all(r.version == 3 and r.shadow_of == 1 and r.status == 200 and r.rows == 3
               and r.latency_ms > 0 and 0.0 <= r.agreement <= 1.0 and len(r.outputs) == 3
               for r in rows)
    primaries = [r for r in read_predictions(home) if (r.request_id or "").startswith("shadow-")
                 and r.role is None]
    assert len(primaries) == 30 and {r.version for r in primaries} == {1}
    text = client.get("/metrics", headers=auth(keys["viewer"])).text
    assert 'workbench_shadow_requests_total{model="iris",result="ok",version="3"}' in text
    off = http.put("/v2/models/iris/aliases/production/shadow", json={"version": None})
    assert off.json()["shadow"] is None
    client.close()


def test_client_methods(served):
    from workbench.serving import Client

    server, keys, _, _ = served
    with Client(server.url, keys["maintainer"]) as client:
        assert client.canary("iris", "staging", {1: 0.5, 2: 0.5})["weights"] == {"1": 0.5,
                                                                                "2": 0.5}
        assert client.shadow("iris", "staging", 3)["shadow"] == "3"
        assert client.promote("iris", "staging", 2)["model_version"] == "2"
        client.canary("iris", "staging", {1: 0.5, 2: 0.5})
        assert client.abort("iris", "staging")["model_version"] == "1"
        assert client.shadow("iris", "staging", None)["shadow"] is None


def test_shadow_runs_off_the_request_path_and_drops_beyond_its_limit():
    import asyncio
    import threading

    from workbench.serving.models_cache import LoadedModel
    from workbench.serving.shadow import ShadowRunner, agreement

    X, y = data(20)
    release = threading.Event()

    class Slow(LogisticRegression):
        def forward(self, X):
            release.wait(10)
            return super().forward(X)

    class Log:
        def __init__(self):
            self.records = []

        def record(self, **kw):
            self.records.append(kw)

    class Metrics:
        def __init__(self):
            self.results = []

        def shadow_done(self, model, version, result):
            self.results.append(result)
    primary = LoadedModel("m", 1, LogisticRegression().fit(X, y))
    shadow = LoadedModel("m", 2, Slow().fit(X, 1 - y))
    log, metrics = Log(), Metrics()
    runner = ShadowRunner(log, metrics, max_pending=2)

    async def go():
        answer = primary.run(X[:4])["label"]
        for _ in range(3):
            runner.submit(shadow, X[:4], primary, answer, request_id="r")
        assert log.records == [] and metrics.results == ["dropped"]   # returned at once
        release.set()
        await runner.drain()
    asyncio.run(go())
    assert len(log.records) == 2 and metrics.results.count("ok") == 2
    record = log.records[0]
    assert record["role"] == "shadow" and record["shadow_of"] == 1 and record["version"] == 2
    assert record["agreement"] == agreement(primary.run(X[:4])["label"], record["outputs"])
    assert agreement([1, 2, 3], [1, 2, 4]) == pytest.approx(2 / 3)
    assert agreement(np.array([1.0, 2.0]), np.array([1.005, 3.0])) == 0.5


def test_no_failure_while_splits_and_shadows_change(tmp_path):
    import threading

    keys = make_home(tmp_path)
    X, _ = data(3)
    body = v2_body(X)
    with Registry(tmp_path) as reg:
        expected = {v: reg.load("iris", version=v).predict(X).tolist() for v in (1, 2)}
    with Server(tmp_path) as server:
        stop, failures, wrong, seen = threading.Event(), [], [], []

        def client(i):
            with httpx.Client(base_url=server.url, headers=auth(keys["predictor"]),
                              timeout=30) as http:
                while not stop.is_set():
                    answer = http.post("/v2/models/iris/infer", json=body,
                                       headers={"X-Client-Id": f"c{i}"} if i % 2 else {})
                    if answer.status_code != 200:
                        failures.append(answer.text)
                        continue
                    content = answer.json()
                    version = int(content["model_version"])
                    seen.append(version)
                    if content["outputs"][0]["data"] != expected[version]:
                        wrong.append(content)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        reg = Registry(tmp_path)
        try:
            for step in range(8):
                if step % 4 == 0:
                    reg.set_split("iris", "production", {1: 0.5, 2: 0.5})
                elif step % 4 == 1:
                    reg.set_shadow("iris", "production", 2 if step % 8 == 1 else None)
                elif step % 4 == 2:
                    reg.promote("iris", "production")
                else:
                    reg.set_alias("iris", "production", 1)
                n = len(seen)
                assert wait_for(lambda: len(seen) > n + 20)  # noqa: B023 - traffic flowed after it (waited on here)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
            reg.close()
        assert failures == [] and wrong == [] and set(seen) == {1, 2}
