"""Serving: the Open Inference Protocol v2 service over the registry, and handles to it.

* :func:`create_app` — the ASGI app of a workbench home (FastAPI; hot routes plain Starlette).
* :func:`serve` — run it with uvicorn (``workbench serve``).
* :func:`deploy` → :class:`Endpoint` — run it as a subprocess from a notebook.
* :class:`Client` — call it over HTTP; :class:`KeyStore` — its API keys.

Names are imported lazily, so ``from workbench.serving import deploy`` does not load the web
framework into a notebook kernel.
"""
from __future__ import annotations

from .._lazy import lazy_exports

_NAMES = {
    "create_app": ".app", "serve": ".server", "deploy": ".endpoint", "Endpoint": ".endpoint",
    "Client": ".client", "ServingError": ".client", "KeyStore": ".keys", "ROLES": ".keys",
    "Limits": ".protocol",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _NAMES)
