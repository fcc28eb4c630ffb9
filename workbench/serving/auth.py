"""Who may call what: ``Authorization: Bearer <key>`` checked against the key store.

================================================  ==========
endpoint                                          least role
================================================  ==========
``/v2/health/live``, ``/v2/health/ready``         open
``/docs``, ``/openapi.json``                      open
``GET /v2``, ``/v2/models…`` metadata and ready   viewer
``GET /metrics``, ``GET /v1/models/{name}``       viewer
``POST …/infer``, ``POST /v1/models/…:predict``   predictor
``PUT``/``POST …/aliases/{alias}[/rollback]``     maintainer
``POST /v2/repository/models/{name}/load``        maintainer
``/admin/keys``                                   admin
================================================  ==========

Missing, malformed, unknown and revoked keys get 401; a valid key whose role is too low gets 403.
"""
from __future__ import annotations

from .errors import ApiError
from .keys import RANK, ApiKey, KeyStore

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="workbench"'}

#: the principal of a server started with ``--no-auth`` (loopback only)
ANONYMOUS = ApiKey(id="-", name="anonymous", role="admin", created_at=0.0)


class Authenticator:
    """Check a request's bearer key against a :class:`KeyStore` (or let all in when disabled).

    Parameters
    ----------
    keys : KeyStore or None
        None disables authentication (every caller is :data:`ANONYMOUS`, an admin).
    """

    def __init__(self, keys: KeyStore | None):
        self.keys = keys

    @property
    def enabled(self) -> bool:
        return self.keys is not None

    def __repr__(self) -> str:
        return f"<Authenticator {'on' if self.enabled else 'OFF'}>"

    def require(self, headers, role: str) -> ApiKey:
        """Return the caller's key if it may act as ``role``; else raise 401/403 ApiError."""
        return self.check(headers.get("authorization"), role)

    def check(self, header: str | None, role: str) -> ApiKey:
        """As :meth:`require`, given the ``Authorization`` header's value (or None)."""
        if self.keys is None:
            return ANONYMOUS
        if not header:
            raise ApiError(401, "missing API key: send the header 'Authorization: Bearer <key>'",
                           headers=_CHALLENGE)
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(401, "the Authorization header must be 'Bearer <key>'",
                           headers=_CHALLENGE)
        found = self.keys.authenticate(key.strip())
        if found is None:
            raise ApiError(401, "invalid API key", headers=_CHALLENGE)
        if found.revoked:
            raise ApiError(401, f"API key '{found.name}' has been revoked", headers=_CHALLENGE)
        if RANK[found.role] < RANK[role]:
            raise ApiError(403, f"this needs role '{role}' or higher; key '{found.name}' has "
                                f"role '{found.role}'")
        return found
