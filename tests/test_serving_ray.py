"""The Ray Serve backend: the same protocol and auth as uvicorn, on a local Ray instance with
2 replicas bound to 127.0.0.1, always shut down (SIGTERM to the server, which stops Serve and
Ray; then SIGKILL of the whole process group), whatever the tests did.

The protocol tests of ``test_serving_protocol`` that hold with several replicas run here
unchanged (imported below); the auth matrix of ``test_serving_auth`` runs over every endpoint and
caller. With 2 replicas a change made through one replica reaches the other within a poll, so
the tests that change state and read it back wait for it (``wait_for``).
"""
import contextlib
import os
import signal
import subprocess

import httpx
import pytest

ray = pytest.importorskip("ray", reason="the ray backend needs 'ray[serve]' (the test extra)")

import test_serving_auth as auth_tests  # noqa: E402
from serving_helpers import Server, auth, data, make_home, v2_body, wait_for  # noqa: E402
from test_serving_protocol import (  # noqa: E402,F401 - collected here, run against Ray
    test_docs_and_openapi_document_the_inference_routes, test_health_is_open,
    test_infer_by_version_and_alias, test_infer_flat_and_nested_data_give_the_same_answer,
    test_infer_regressor, test_infer_requested_outputs_and_fp32, test_model_list,
    test_model_metadata, test_model_ready, test_prediction_log_records_requests,
    test_repository_load, test_server_metadata, test_v1_predict, test_v1_status)

pytestmark = pytest.mark.timeout(300)


class RayServer(Server):
    """``workbench serve --backend ray``: stopped with SIGTERM to the server alone first, so it
    shuts Serve and Ray down itself; anything left after that is killed with its group."""

    def __init__(self, home, *extra):
        super().__init__(home, "--backend", "ray", *extra, timeout=180)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        super().stop()


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home, families=True)   # the protocol tests also ask for a forest and an ONNX model
    keys["unknown"] = "wb_0badc0de_" + "x" * 43
    keys["malformed"] = "not-a-key"
    with RayServer(home, "--replicas", "2") as server:
        yield server, keys, home


@pytest.fixture(scope="module")
def served(ray_server):
    server, keys, home = ray_server
    with httpx.Client(base_url=server.url, headers=auth(keys["admin"]), timeout=10) as http:
        yield server, keys, http, home


def test_two_replicas_answer(served):
    server, *_ = served
    assert "2 replicas" in server.logs() and server.url.startswith("http://127.0.0.1:")


def test_metrics(served):
    _, _, http, _ = served
    body = v2_body(data(2)[0])

    def seen():
        http.post("/v2/models/iris/infer", json=body)
        text = http.get("/metrics").text
        return 'workbench_requests_total{model="iris",status="200",version="1"}' in text
    assert wait_for(seen, timeout=20)


def test_alias_put_canary_and_rollback(served):
    _, _, http, _ = served
    body = v2_body(data(2)[0])
    moved = http.put("/v2/models/iris/aliases/staging", json={"version": 2}).json()
    assert moved["model_version"] == "2"
    infer = lambda: {http.post("/v2/models/iris/versions/staging/infer",  # noqa: E731
                               json=body).json()["model_version"] for _ in range(6)}
    assert wait_for(lambda: infer() == {"2"})
    split = http.put("/v2/models/iris/aliases/staging", json={"weights": {"1": 0.4, "2": 0.6}})
    assert split.json()["weights"] == {"1": 0.4, "2": 0.6}
    assert wait_for(lambda: infer() == {"1", "2"})
    assert http.post("/v2/models/iris/aliases/staging/abort").json()["model_version"] == "2"
    assert http.post("/v2/models/iris/aliases/staging/rollback").json()["model_version"] == "2"
    assert wait_for(lambda: infer() == {"1", "2"})


def test_keys_over_http(served):
    server, _, http, _ = served
    key = http.post("/admin/keys", json={"name": "ray-made", "role": "viewer"}).json()["key"]
    assert wait_for(lambda: httpx.get(server.url + "/v2", headers=auth(key)).status_code == 200)
    assert http.delete("/admin/keys/ray-made").status_code == 200
    assert wait_for(lambda: httpx.get(server.url + "/v2", headers=auth(key)).status_code == 401)


@pytest.mark.parametrize("caller", auth_tests.CALLERS)
@pytest.mark.parametrize("method, path, body, role", auth_tests.ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in auth_tests.ENDPOINTS])
def test_auth_matrix(ray_server, caller, method, path, body, role):
    auth_tests.test_auth_matrix(ray_server, caller, method, path, body, role)


def test_deploy_on_ray_predicts_and_stops(tmp_path):
    from workbench.serving import deploy

    make_home(tmp_path)
    X, _ = data(3)
    with deploy("iris", home=tmp_path, backend="ray", replicas=1) as ep:
        assert ep.predict(X).shape == (3,) and ep.live_version() == 1
        pid = ep.pid
    assert not ep.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_every_port_of_the_local_ray_deployment_is_on_loopback(ray_server):
    """The server, Ray's own services and every replica listen on 127.0.0.1 only (replicas'
    inter-deployment gRPC included, which Ray Serve itself would bind to every interface)."""
    import ipaddress

    import psutil

    server, _, _ = ray_server
    procs = [psutil.Process(server.proc.pid)]
    procs += procs[0].children(recursive=True)
    pids = {p.pid for p in procs}
    listening = [c for c in psutil.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.pid in pids]
    assert listening, "found no listening socket of the Ray deployment"
    def loopback(ip):
        address = ipaddress.ip_address(ip)
        return (getattr(address, "ipv4_mapped", None) or address).is_loopback  # ::ffff:127.0.0.1 too

    exposed = sorted({(c.laddr.ip, c.laddr.port) for c in listening if not loopback(c.laddr.ip)})
    assert exposed == [], f"listening beyond loopback: {exposed}"


@pytest.mark.postgres
def test_replicas_share_a_postgresql_store(tmp_path, postgres_url, monkeypatch):
    """Across nodes the replicas share one PostgreSQL store (here: 2 replicas of a local Ray):
    registry, keys and prediction log come from it, no SQLite file is made in the home."""
    from workbench.monitoring import read_predictions
    from workbench.registry import Registry
    from workbench.serving.keys import KeyStore

    monkeypatch.setenv("WORKBENCH_STORE", postgres_url)
    keys = make_home(tmp_path)
    monkeypatch.delenv("WORKBENCH_STORE")            # the server gets it from --store only
    body = v2_body(data(2)[0])
    with RayServer(tmp_path, "--replicas", "2", "--store", postgres_url) as server:
        def versions():
            return {httpx.post(server.url + "/v2/models/iris/infer", json=body,
                               headers=auth(keys["predictor"])).json().get("model_version")
                    for _ in range(8)}
        assert versions() == {"1"}
        with Registry(tmp_path, store=postgres_url) as reg:
            reg.set_alias("iris", "production", 2)
        assert wait_for(lambda: versions() == {"2"}, timeout=20)
        store = KeyStore(tmp_path, store=postgres_url)
        store.revoke("predictor-key")
        store.close()
        assert wait_for(lambda: httpx.post(server.url + "/v2/models/iris/infer", json=body,
                                           headers=auth(keys["predictor"])).status_code == 401,
                        timeout=20)
        assert wait_for(lambda: len(read_predictions(tmp_path, store=postgres_url,
                                                     model="iris")) >= 16, timeout=20)
    assert not (tmp_path / "registry.db").exists() and not (tmp_path / "predictions.db").exists()
