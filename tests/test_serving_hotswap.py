"""Zero-downtime swaps: concurrent clients never see a failed request while the alias flips,
with one worker and with ``--workers 2``."""
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from serving_helpers import Server, auth, data, make_home, v2_body, wait_for
from workbench.registry import Registry

CLIENTS, SECONDS, FLIPS = 8, 10.0, 10


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _expected_labels(home, X):
    with Registry(home) as reg:
        return {v: np.asarray(reg.load("iris", version=v).predict(X)) for v in (1, 2)}


@pytest.mark.parametrize("workers", [1, 2])
def test_concurrent_clients_see_no_failure_while_the_alias_flips(tmp_path, workers):
    keys = make_home(tmp_path)
    X, _ = data(3)
    body = v2_body(X)
    expected = _expected_labels(tmp_path, X)
    with Server(tmp_path, "--workers", str(workers)) as server:
        stop = threading.Event()
        failures, seen, wrong = [], [], []

        def client():
            with httpx.Client(base_url=server.url, headers=auth(keys["predictor"]),
                              timeout=30) as http:
                while not stop.is_set():
                    try:
                        answer = http.post("/v2/models/iris/infer", json=body)
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    if answer.status_code != 200:
                        failures.append(answer.text)
                        continue
                    content = answer.json()
                    version = int(content["model_version"])
                    seen.append(version)
                    # the answer really comes from the version it names
                    if content["outputs"][0]["data"] != expected[version].tolist():
                        wrong.append(content)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        maintainer = httpx.Client(base_url=server.url, headers=auth(keys["maintainer"]))
        registry = Registry(tmp_path)
        try:
            for flip in range(FLIPS):
                time.sleep(SECONDS / (FLIPS + 1))
                target = 2 if flip % 2 == 0 else 1
                if flip % 3 == 0:       # from Python, another process
                    registry.set_alias("iris", "production", target)
                elif flip % 3 == 1:     # through the service
                    assert maintainer.put("/v2/models/iris/aliases/production",
                                          json={"version": target}).status_code == 200
                else:                   # a rollback goes back to the other version
                    answer = maintainer.post("/v2/models/iris/aliases/production/rollback")
                    assert answer.status_code == 200
                    assert answer.json()["model_version"] == str(target)
            time.sleep(SECONDS / (FLIPS + 1))
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
            maintainer.close()
            registry.close()
        assert failures == []
        assert wrong == []
        assert set(seen) == {1, 2}
        assert len(seen) > CLIENTS * 10
        final = 2 if (FLIPS - 1) % 2 == 0 else 1
        with httpx.Client(base_url=server.url, headers=auth(keys["predictor"])) as http:
            assert wait_for(lambda: int(http.post("/v2/models/iris/infer", json=body)
                                        .json()["model_version"]) == final)


def test_two_workers_serve_and_swap(tmp_path):
    keys = make_home(tmp_path)
    body = v2_body(data(2)[0])
    with Server(tmp_path, "--workers", "2") as server:
        assert len(_children(server.proc.pid)) >= 2

        def fresh_versions(n=20):
            # a new connection each time, so both workers answer
            return {int(httpx.post(server.url + "/v2/models/iris/infer", json=body,
                                   headers=auth(keys["predictor"])).json()["model_version"])
                    for _ in range(n)}

        assert fresh_versions() == {1}
        with Registry(tmp_path) as reg:
            reg.set_alias("iris", "production", 2)
        assert wait_for(lambda: fresh_versions() == {2})
        with Registry(tmp_path) as reg:
            reg.rollback("iris", "production")
        assert wait_for(lambda: fresh_versions() == {1})
        metrics = httpx.get(server.url + "/metrics", headers=auth(keys["viewer"])).text
        counts = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith('workbench_requests_total{model="iris"')]
        assert sum(counts) >= 40      # both workers' counts, whichever worker answered
        assert "workbench_model_loads_total" in metrics
