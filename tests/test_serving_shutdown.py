"""Stopping the server under load loses nothing.

* SIGTERM while 8 clients send requests: uvicorn stops accepting, finishes the requests in
  flight and the prediction log writes its queue before the process exits, so every request
  that was answered 200 has its row in ``predictions.db``.
* SIGKILL while 8 clients send requests and a maintainer flips an alias: both databases pass
  ``PRAGMA integrity_check`` and the registry's ``verify()`` finds nothing wrong.
"""
import os
import signal
import sqlite3
import threading

import httpx
import pytest
from serving_helpers import Server, auth, data, make_home, v2_body, wait_for

from workbench.registry import Registry

pytestmark = [pytest.mark.slow]

INFER = "/v2/models/iris/infer"
CLIENTS = 8


class Load:
    """``CLIENTS`` threads sending v2 requests with unique ids until told to stop or the
    server goes away; ``answered`` holds the ids answered 200."""

    def __init__(self, server, key, maintainer=None):
        self.server, self.key, self.maintainer = server, key, maintainer
        self.answered, self.failed = [], 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        X = data(8, seed=5)[0]
        self.threads = [threading.Thread(target=self._client, args=(i, X[i:i + 1]))
                        for i in range(CLIENTS)]
        if maintainer:
            self.threads.append(threading.Thread(target=self._flipper))

    def _client(self, i, row):
        with httpx.Client(base_url=self.server.url, headers=auth(self.key), timeout=10) as http:
            n = 0
            while not self.stop.is_set():
                request_id = f"c{i}-{n}"
                n += 1
                try:
                    answer = http.post(INFER, json=v2_body(row, id=request_id))
                except httpx.HTTPError:
                    with self.lock:
                        self.failed += 1
                    if self.server.proc.poll() is not None:
                        return
                    continue
                if answer.status_code == 200:
                    with self.lock:
                        self.answered.append(request_id)

    def _flipper(self):
        with httpx.Client(base_url=self.server.url, headers=auth(self.maintainer),
                          timeout=10) as http:
            version = 2
            while not self.stop.is_set():
                try:
                    http.put("/v2/models/iris/aliases/production", json={"version": version})
                except httpx.HTTPError:
                    if self.server.proc.poll() is not None:
                        return
                version = 3 - version

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def _logged_ids(home) -> set:
    conn = sqlite3.connect(home / "predictions.db")
    try:
        return {r[0] for r in conn.execute(
            "SELECT request_id FROM predictions WHERE status = 200")}
    finally:
        conn.close()


def _integrity(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_sigterm_under_load_keeps_every_answered_request(tmp_path):
    keys = make_home(tmp_path)
    with Server(tmp_path, "--log-inputs", "1") as server:
        with Load(server, keys["predictor"]) as load:
            assert wait_for(lambda: len(load.answered) >= 300, timeout=60)
            os.kill(server.proc.pid, signal.SIGTERM)
            # uvicorn shuts down cleanly, then re-raises the signal it caught
            assert server.proc.wait(timeout=60) in (0, -signal.SIGTERM), server.logs()[-2000:]
        assert "Application shutdown complete" in server.logs()
        answered = set(load.answered)
    assert len(answered) >= 300
    missing = answered - _logged_ids(tmp_path)
    assert not missing, f"{len(missing)} answered requests are not in predictions.db"
    assert _integrity(tmp_path / "predictions.db") == "ok"


def test_sigkill_under_load_leaves_consistent_databases(tmp_path):
    keys = make_home(tmp_path)
    with Server(tmp_path) as server, Load(server, keys["predictor"], keys["maintainer"]) as load:
        assert wait_for(lambda: len(load.answered) >= 300, timeout=60)
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=30)
    assert _integrity(tmp_path / "predictions.db") == "ok"
    assert _integrity(tmp_path / "registry.db") == "ok"
    with Registry(tmp_path) as reg:
        assert reg.verify() == []
        assert reg.aliases("iris")["production"] in (1, 2)
    # what was committed before the kill is readable, and a new server serves and logs again
    before = _logged_ids(tmp_path)
    with Server(tmp_path) as server:
        answer = httpx.post(server.url + INFER, json=v2_body(data(1)[0], id="after-kill"),
                            headers=auth(keys["predictor"]), timeout=10)
        assert answer.status_code == 200
        assert wait_for(lambda: "after-kill" in _logged_ids(tmp_path), timeout=15)
    assert before <= _logged_ids(tmp_path)
