"""The guard of a server without keys (``--no-auth``): loopback ``Host`` and JSON bodies only.

Without keys every caller is an admin, so a web page the user visits must not be able to act
through the user's browser:

* **DNS rebinding** — a page served by ``evil.example`` that resolves to 127.0.0.1 sends
  ``Host: evil.example``: every request whose ``Host`` is not ``127.0.0.1``, ``localhost`` or
  ``[::1]`` (any port) is refused with 403.
* **CSRF** — a cross-site form or ``fetch`` without a CORS preflight can only send
  ``text/plain``, form or multipart bodies: every ``POST``/``PUT``/``PATCH``/``DELETE`` must say
  ``Content-Type: application/json`` (which a browser only sends cross-site after a preflight
  this server never grants), else 415.

:func:`~.app.create_app` turns it on whenever ``auth=False``.
"""
from __future__ import annotations

from .errors import ApiError

_LOOPBACK = (b"127.0.0.1", b"localhost", b"[::1]")
_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def loopback_host(host: bytes | None) -> bool:
    """Whether a ``Host`` header names this machine (``127.0.0.1``, ``localhost``, ``[::1]``,
    with an optional port)."""
    if not host:
        return False
    host = host.strip().lower()
    if host.startswith(b"["):
        name, _, rest = host.partition(b"]")
        name += b"]"
    else:
        name, _, rest = host.partition(b":")
        rest = b":" + rest if _ else b""
    if rest and not (rest.startswith(b":") and rest[1:].isdigit() and len(rest) <= 6):
        return False
    return name in _LOOPBACK


def check(scope) -> ApiError | None:
    """Return the error to answer a request with when keys are off, or None to let it in."""
    host = content_type = None
    for key, value in scope["headers"]:
        if key == b"host":
            host = value
        elif key == b"content-type":
            content_type = value
    if not loopback_host(host):
        shown = (host or b"").decode("latin-1")[:60]
        return ApiError(403, f"this server runs without API keys (--no-auth) and only answers "
                             f"requests addressed to 127.0.0.1, localhost or [::1]; the Host "
                             f"header was {shown!r}")
    if scope["method"] in _CHANGING and (
            content_type is None
            or content_type.split(b";")[0].strip().lower() != b"application/json"):
        return ApiError(415, f"this server runs without API keys (--no-auth): "
                             f"{scope['method']} requests must send 'Content-Type: "
                             f"application/json'")
    return None
