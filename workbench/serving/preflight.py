"""Checks ``workbench serve`` makes before it loads anything, so mistakes show in one clear line.

* :func:`check_port` — the port is already taken (another ``workbench serve``, ``make demo``):
  say so and how to choose another, instead of loading every model and then dying with
  uvicorn's ``[Errno 98]``.
* :func:`home_warnings` — an empty home serves nothing and, with authentication on, a home
  without keys lets nobody in: both are legal (models and keys can be added while the service
  runs) but almost never what a first-time user meant.
"""
from __future__ import annotations

import errno
import socket


def check_port(host: str, port: int) -> None:
    """Raise ``OSError`` with advice when ``host:port`` cannot be bound (port 0: any, never busy)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OSError(f"port {port} on {host} is already in use (another "
                                         f"`workbench serve` or `make demo`?): stop it, or choose "
                                         f"another port with --port") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise OSError(f"{host} is not an address of this machine: use "
                                         f"127.0.0.1 (this machine only) or one of its own "
                                         f"addresses with --host") from None
            raise


def home_warnings(home, *, auth: bool, store: str | None = None) -> list[str]:
    """What a person starting the service on ``home`` should know first (empty list: nothing)."""
    from ..registry import Registry
    from .keys import KeyStore

    warnings = []
    with Registry(home, store=store) as registry:
        if not registry.models():
            warnings.append(f"the home {home} has no models yet, so every inference request "
                            f"gets 404: register one (notebooks/02_registry.ipynb, "
                            f"`workbench registry import`), it is served as soon as it appears")
    if auth:
        keys = KeyStore(home, store=store)
        try:
            usable = [k for k in keys.list() if not k.revoked]
        finally:
            keys.close()
        if not usable:
            warnings.append("there is no API key yet, so every request gets 401: create one with "
                            "`workbench keys create --role predictor --name my-app` (shown once)")
    return warnings
