"""Shared helpers of the serving tests: a home with models and keys, a real uvicorn server.

Servers always run on 127.0.0.1 on a free port in their own process group, and are always
stopped (SIGTERM, then SIGKILL) by the context manager, whatever the test did.
"""
from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from workbench.models import LinearRegression, LogisticRegression, RandomForestClassifier
from workbench.onnx import export_onnx
from workbench.registry import Registry
from workbench.serving.endpoint import free_port
from workbench.serving.keys import KeyStore

ROLES = ("viewer", "predictor", "maintainer", "admin")
N_FEATURES = 4


def data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


def make_home(home: Path, families: bool = False) -> dict:
    """Register ``iris`` v1, v2 (opposite answers) with ``production`` → 1, ``house`` (a
    regressor), and create one key per role plus a revoked one; return the keys by role.

    With ``families``, also ``forest`` (a random forest) and ``onnx`` (a logistic regression
    exported to ONNX and registered with ``register_onnx``, so onnxruntime serves it)."""
    X, y = data()
    with Registry(home) as reg:
        if families:
            reg.register("forest", RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y))
            reg.register_onnx("onnx", export_onnx(LogisticRegression(random_state=0).fit(X, y)))
        reg.register("iris", LogisticRegression().fit(X, y))
        reg.register("iris", LogisticRegression().fit(X, 1 - y))
        reg.set_alias("iris", "production", 1)
        reg.register("house", LinearRegression().fit(X, X @ np.array([1.0, 2.0, 0.0, -1.0])))
    store = KeyStore(home)
    keys = {role: store.create(f"{role}-key", role) for role in ROLES}
    keys["revoked"] = store.create("revoked-key", "admin")
    store.revoke("revoked-key")
    store.close()
    return keys


def v2_body(X, datatype="FP64", **extra):
    X = np.asarray(X, dtype=float)
    return {"inputs": [{"name": "input-0", "shape": list(X.shape), "datatype": datatype,
                        "data": X.ravel().tolist()}], **extra}


def auth(key):
    return {"Authorization": f"Bearer {key}"} if key else {}


class Server:
    """A ``workbench serve`` subprocess; use as a context manager."""

    def __init__(self, home, *extra, ssl=None, timeout=60):
        self.home, self.extra, self.timeout = Path(home), list(extra), timeout
        self.port = free_port()
        self.scheme = "https" if ssl else "http"
        self.ssl = ssl
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.log_path = self.home / f"server-{self.port}.log"
        self.proc = None

    def start(self):
        command = [sys.executable, "-m", "workbench.serving.server", "--home", str(self.home),
                   "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "info",
                   *self.extra]
        if self.ssl:
            command += ["--ssl-certfile", str(self.ssl[0]), "--ssl-keyfile", str(self.ssl[1])]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        verify = ssl.create_default_context(cafile=str(self.ssl[0])) if self.ssl else True
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.logs()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/v2/health/ready", verify=verify,
                             timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        raise TimeoutError(f"server not ready after {self.timeout} s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll ``predicate`` until it is truthy; return its last value (behaviour, not timing)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
