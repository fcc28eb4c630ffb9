"""Serve the same ASGI app on Ray Serve: ``workbench serve --backend ray --replicas N``.

Each replica builds its own app with :func:`~.app.create_app` (the builder runs inside the
replica, so model weights still come only from the registry, SHA-256 checked, never pickled;
Ray only ships the small JSON-like settings). The protocol, auth, registry and prediction log
are the ones of the uvicorn backend. Across nodes, every replica uses one PostgreSQL store (the
``store`` URL of the settings: registry, keys, prediction log) and reads the weight files from
the home on a shared mount (immutable, content-addressed, written by rename: safe to share).
SQLite files in the home suit replicas on one machine only: SQLite over a network file system
is unsafe, and opening one there warns.

Locally, Ray starts on this machine bound to 127.0.0.1 with no dashboard; with ``address``
(``ray://head:10001`` or ``auto``) it joins an existing cluster instead. ``/metrics`` answers
for the replica that served the scrape (scrape each replica, or use Ray's own metrics).
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading

APP_NAME = "workbench"

logger = logging.getLogger("workbench.serving")


def build_app(settings: dict):
    """Return the Ray Serve application (not started) for ``settings`` (see :func:`serve_ray`)."""
    from ray import serve

    settings = dict(settings)
    replicas = int(settings.pop("replicas"))
    loopback = bool(settings.pop("loopback", False))

    def builder():
        if loopback:
            bind_replica_grpc_to_loopback()
        from .app import create_app, tune_worker_process
        from .batching import BatchConfig
        from .protocol import Limits

        tune_worker_process()
        config = dict(settings)
        logging.basicConfig(level=config.pop("log_level", "INFO").upper())
        return create_app(config.pop("home"), limits=Limits(**config.pop("limits", {})),
                          batching=BatchConfig(**config.pop("batching", {})), **config)

    @serve.deployment(name="WorkbenchService", num_replicas=replicas,
                      max_ongoing_requests=256, health_check_period_s=2)
    @serve.ingress(builder)
    class WorkbenchService:
        """One replica: the workbench inference app."""

    return WorkbenchService.bind()


def bind_replica_grpc_to_loopback() -> None:
    """On a local Ray, make this replica's inter-deployment gRPC server listen on 127.0.0.1.

    Ray Serve binds that server to ``[::]`` with no setting to change it. The replica builds our
    app (this runs) before it starts that server, so wrapping the helper it calls keeps every
    port of a local deployment on loopback. Not used with a cluster address, where proxies on
    other nodes must reach the replicas.
    """
    from ray.serve._private import replica

    original = replica.add_port_to_grpc_server
    if getattr(original, "_workbench_loopback", False):
        return

    def add_port(server, address):
        if address.startswith("[::]:"):
            address = "127.0.0.1:" + address.rsplit(":", 1)[1]
        return original(server, address)

    add_port._workbench_loopback = True
    replica.add_port_to_grpc_server = add_port


def use_loopback() -> None:
    """Make a local Ray use 127.0.0.1 as its node address instead of this machine's reachable
    one (Ray reads this when it is imported, so call it first)."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def start(settings: dict, *, host: str = "127.0.0.1", port: int = 8000,
          address: str | None = None) -> None:
    """Start (or join) Ray and run the app on it; returns when the replicas are up."""
    if not address:
        use_loopback()
    import ray
    from ray import serve

    if address:
        ray.init(address=address, ignore_reinit_error=True, logging_level=logging.WARNING)
    else:
        ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1",
                 num_cpus=max(2, int(settings["replicas"]) + 1), ignore_reinit_error=True,
                 logging_level=logging.WARNING)
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app({**settings, "loopback": not address}), name=APP_NAME, route_prefix="/",
              blocking=False)


def stop() -> None:
    """Shut the application, Serve and (when this process started it) Ray down."""
    import ray
    from ray import serve

    try:
        serve.shutdown()
    finally:
        ray.shutdown()


def serve_ray(settings: dict, *, host: str = "127.0.0.1", port: int = 8000,
              address: str | None = None) -> None:
    """Run until SIGINT / SIGTERM, then shut everything down (also on errors).

    ``settings``: ``home``, ``replicas`` and the keyword arguments of
    :func:`~.app.create_app` (``auth``, ``input_fraction``, ``limits``, ``batching`` as dicts).
    """
    done = threading.Event()

    def on_signal(signum, frame):
        done.set()
    previous = {}
    try:
        start(settings, host=host, port=port, address=address)
        # after ray.init, which installs its own handlers: a SIGTERM now shuts down cleanly
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        print(f"workbench serve: ray backend with {settings['replicas']} replicas on "
              f"http://{host}:{port}", file=sys.stderr, flush=True)
        while not done.wait(0.5):
            pass
    finally:
        try:
            stop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def available() -> str | None:
    """None when Ray Serve can be imported, else why not (for a clear error)."""
    try:
        import ray  # noqa: F401
        from ray import serve  # noqa: F401
    except ImportError as exc:
        return (f"the ray backend needs Ray Serve: pip install 'maas-workbench[ray]' "
                f"({exc})")
    return None


os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
