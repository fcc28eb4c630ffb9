"""``deploy(name) -> Endpoint``: the service as a subprocess, driven from a notebook.

The server runs in its own process (``python -m workbench.serving.server``) on a free
127.0.0.1 port; :func:`deploy` returns once it is ready. The endpoint stops on :meth:`Endpoint.stop`,
at the end of a ``with`` block, when the handle is garbage-collected, when the interpreter
(the kernel) exits, and — if the kernel is killed — by itself, because the server watches its
parent process.
"""
from __future__ import annotations

import html
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import httpx

from ..home import resolve_home
from .client import Client


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _shutdown(proc: subprocess.Popen, home: str, key_name: str | None,
              gentle: bool = False, store: str | None = None) -> None:
    """Stop the server process (SIGTERM, then SIGKILL) and revoke its temporary key.

    ``gentle``: SIGTERM to the server alone first, so it can shut down what it started (Ray),
    and only then to its process group."""
    if gentle and proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
    if key_name:
        from .keys import KeyStore

        try:
            keys = KeyStore(home, store=store)
            keys.revoke(key_name)
            keys.close()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


class Endpoint:
    """A running inference service and the model it was deployed for.

    Made by :func:`deploy`; see there. Attributes: ``url``, ``name``, ``version`` (a number,
    an alias or None for the bare name), ``key`` (None without auth), ``client``,
    ``grpc_address`` (``"127.0.0.1:PORT"`` when deployed with ``grpc_port``, else None).
    """

    def __init__(self, proc, url, name, version, key, key_name, home, log_path,
                 gentle: bool = False, store: str | None = None):
        self._proc, self.url, self.name, self.version = proc, url, name, version
        self.key, self._key_name, self.home, self._log_path = key, key_name, home, log_path
        self.client = Client(url, key)
        self.grpc_address = None
        self.store = store
        self._finalizer = weakref.finalize(self, _shutdown, proc, str(home), key_name, gentle,
                                           store)

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc.poll() is None

    @property
    def pid(self) -> int:
        return self._proc.pid

    def predict(self, X):
        """Labels or values for ``X`` (n_samples, n_features)."""
        return self.client.predict(self.name, X, version=self.version)

    def predict_proba(self, X):
        """Class probabilities for ``X``."""
        return self.client.predict_proba(self.name, X, version=self.version)

    def infer(self, X=None, **kwargs) -> dict:
        """The raw v2 answer (``model_version``, ``outputs``) for ``X`` or ``body=``."""
        return self.client.infer(self.name, X, version=self.version, **kwargs)

    def metadata(self) -> dict:
        """v2 metadata of the deployed model (the version that answers now)."""
        return self.client.model_metadata(self.name, self.version)

    def live_version(self) -> int:
        """The version that answers now."""
        return int(self.metadata()["model_version"])

    def feedback(self, feedback) -> dict:
        """Post true labels of earlier requests (``{request_id: [label per row]}``)."""
        return self.client.feedback(self.name, feedback)

    def set_alias(self, alias: str, version: int) -> dict:
        """Point an alias of the model at ``version`` through the service."""
        return self.client.set_alias(self.name, alias, version)

    def rollback(self, alias: str = "production") -> dict:
        """Move an alias back to its previous version through the service."""
        return self.client.rollback(self.name, alias)

    def canary(self, weights: dict, alias: str = "production") -> dict:
        """Split an alias between versions (``{3: 0.9, 4: 0.1}``) through the service."""
        return self.client.canary(self.name, alias, weights)

    def promote(self, alias: str = "production", version: int | None = None) -> dict:
        """End an alias's split in favour of its canary (or ``version``)."""
        return self.client.promote(self.name, alias, version)

    def abort(self, alias: str = "production") -> dict:
        """End an alias's split: all traffic back to its primary version."""
        return self.client.abort(self.name, alias)

    def shadow(self, version: int | None, alias: str = "production") -> dict:
        """Copy an alias's traffic to a shadow ``version`` (None stops it)."""
        return self.client.shadow(self.name, alias, version)

    def metrics(self) -> str:
        """The Prometheus text of ``/metrics``."""
        return self.client.metrics()

    def logs(self, tail: int | None = 50) -> str:
        """The server's log (its last ``tail`` lines; all with ``tail=None``)."""
        try:
            lines = Path(self._log_path).read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines if tail is None else lines[-tail:])

    def stop(self) -> None:
        """Stop the server and revoke the endpoint's temporary key; safe to call twice."""
        self.client.close()
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def _path(self) -> str:
        return f"/v2/models/{self.name}" + ("" if self.version is None else
                                            f"/versions/{self.version}")

    def curl_example(self) -> str:
        """A curl command calling this endpoint (the key as ``$WORKBENCH_KEY``)."""
        auth = ' -H "Authorization: Bearer $WORKBENCH_KEY"' if self.key else ""
        return (f"curl -s {self.url}{self._path()}/infer{auth} -H 'Content-Type: application/json'"
                f" -d '{{\"inputs\": [{{\"name\": \"input-0\", \"shape\": [1, N], "
                f"\"datatype\": \"FP64\", \"data\": [...N numbers...]}}]}}'")

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Endpoint {self.url}{self._path()} {state} pid={self.pid}>"

    def _repr_html_(self) -> str:
        state = "running" if self.running else "stopped"
        color = "#1a7f37" if self.running else "#999"
        return (f"<div style='font-family:sans-serif'><b>Endpoint</b> "
                f"<span style='color:{color}'>● {state}</span><br>"
                f"URL: <code>{html.escape(self.url)}</code><br>"
                f"model: <code>{html.escape(self.name)}</code>"
                f"{'' if self.version is None else ' @ ' + html.escape(str(self.version))}"
                f" (docs: <code>{html.escape(self.url)}/docs</code>)<br>"
                f"<pre style='white-space:pre-wrap'>{html.escape(self.curl_example())}</pre></div>")


def deploy(name: str, *, home=None, version=None, alias=None, port: int | None = None,
           auth: bool = True, role: str = "maintainer", workers: int = 1,
           log_inputs: float = 0.1, timeout: float = 60.0, batch_max_rows: int = 0,
           batch_max_delay_ms: float = 2.0, backend: str = "uvicorn", replicas: int = 1,
           ray_address: str | None = None, grpc_port: int | None = None,
           store: str | None = None) -> Endpoint:
    """Start the inference service in a subprocess on 127.0.0.1 and return its :class:`Endpoint`.

    Parameters
    ----------
    name : str
        Model the endpoint's ``predict``/``infer`` call (the server serves every model).
    home : path-like, optional
        Workbench home.
    version, alias : int or str, optional
        Address a fixed version or an alias instead of the bare name (production, else latest).
    port : int, optional
        Port to use; a free one by default.
    auth : bool, default=True
        Keep authentication on and create a temporary key of ``role`` for this handle (revoked
        on stop). ``False`` serves without keys (the host is always 127.0.0.1).
    workers, log_inputs
        As ``workbench serve --workers / --log-inputs``.
    timeout : float
        Seconds to wait for readiness before giving up (the process is then stopped; at least
        180 with the ray backend, whose start takes longer).
    batch_max_rows, batch_max_delay_ms
        Adaptive batching, as ``--batch-max-rows / --batch-max-delay-ms`` (0 rows: off).
    backend, replicas, ray_address
        ``"ray"`` serves with Ray Serve, as ``--backend ray --replicas N --ray-address A``.
    grpc_port : int, optional
        Also serve the v2 gRPC service on this port (0: a free one); its address is
        ``Endpoint.grpc_address`` (``"127.0.0.1:PORT"``, for ``tritonclient.grpc``).
    store : str, optional
        Store URL (``postgresql://…``); ``$WORKBENCH_STORE`` or SQLite in the home when None.
        Handed to the server through its environment, never its command line.

    Examples
    --------
    >>> with deploy("iris", home=home) as ep:     # doctest: +SKIP
    ...     ep.predict(X[:3])
    """
    from ..registry import Registry
    from ..store import ENV, resolve_url
    from .keys import KeyStore

    if version is not None and alias is not None:
        raise ValueError(f"give a version or an alias, not both (got {version!r}, {alias!r})")
    home = resolve_home(home)
    store = resolve_url(store)
    with Registry(home, store=store) as registry:   # fail now, clearly, for an unknown model
        registry.resolve(name, version=version, alias=alias)
    port = free_port() if port is None else port
    key = key_name = None
    if auth:
        key_name = f"deploy-{port}-{os.urandom(3).hex()}"
        keys = KeyStore(home, store=store)
        key = keys.create(key_name, role)
        keys.close()
    log_path = Path(tempfile.mkdtemp(prefix="workbench-endpoint-")) / "server.log"
    command = [sys.executable, "-m", "workbench.serving.server", "--home", str(home),
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
               "--log-inputs", str(log_inputs), "--exit-with-parent", str(os.getpid())]
    if not auth:
        command.append("--no-auth")
    if batch_max_rows:
        command += ["--batch-max-rows", str(batch_max_rows), "--batch-max-delay-ms",
                    str(batch_max_delay_ms)]
    if grpc_port is not None:
        grpc_port = free_port() if grpc_port == 0 else grpc_port
        command += ["--grpc-port", str(grpc_port)]
    if backend != "uvicorn":
        command += ["--backend", backend, "--replicas", str(replicas)]
        timeout = max(timeout, 180.0)
        if ray_address:
            command += ["--ray-address", ray_address]
    env = dict(os.environ)
    if store:
        env[ENV] = store          # not on the command line: a URL may hold a password
    else:
        env.pop(ENV, None)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    endpoint = Endpoint(proc, f"http://127.0.0.1:{port}", name,
                        alias if alias is not None else version, key, key_name, home, log_path,
                        gentle=backend != "uvicorn", store=store)
    endpoint.grpc_address = None if grpc_port is None else f"127.0.0.1:{grpc_port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            logs = endpoint.logs(20)
            endpoint.stop()
            raise RuntimeError(f"the server exited with code {proc.returncode} before it was "
                               f"ready; its log ends with:\n{logs}")
        try:
            if httpx.get(f"{endpoint.url}/v2/health/ready", timeout=1.0).status_code == 200:
                return endpoint
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            logs = endpoint.logs(20)
            endpoint.stop()
            raise TimeoutError(f"the server was not ready after {timeout} s; log:\n{logs}")
        time.sleep(0.1)
