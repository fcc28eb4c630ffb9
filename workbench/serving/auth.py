"""Who may call what: ``Authorization: Bearer <key or JWT>`` checked against the key store (and,
when configured, an identity provider's JWTs, :mod:`.jwt_auth`); per-key quotas (:mod:`.quota`).

================================================  ==========
endpoint                                          least role
================================================  ==========
``/v2/health/live``, ``/v2/health/ready``         open
``/docs``, ``/openapi.json``                      open
``GET /v2``, ``/v2/models…`` metadata and ready   viewer
``GET /metrics``, ``GET /v1/models/{name}``       viewer
``POST …/infer``, ``POST /v1/models/…:predict``   predictor
``POST /v2/models/{name}/feedback``               predictor
``PUT``/``POST …/aliases/{alias}[/rollback]``     maintainer
``POST /v2/repository/models/{name}/load``        maintainer
``/admin/keys``                                   admin
================================================  ==========

Missing, malformed, unknown, revoked and expired keys (and bad tokens) get 401; a valid key whose
role is too low, or whose model scope does not include the model a route names, gets 403; a key
over its rate or daily row quota gets 429 with ``Retry-After``. Every protocol (REST, gRPC) calls
:meth:`Authenticator.check`, :meth:`~Authenticator.admit` and :meth:`~Authenticator.charge_rows`.
"""
from __future__ import annotations

import datetime as _dt

from .errors import ApiError
from .keys import RANK, ApiKey, KeyStore
from .quota import QuotaExceeded

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="workbench"'}

#: the principal of a server started with ``--no-auth`` (loopback only)
ANONYMOUS = ApiKey(id="-", name="anonymous", role="admin", created_at=0.0)


def _when(at: float) -> str:
    return _dt.datetime.fromtimestamp(at, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Authenticator:
    """Check a request's bearer key against a :class:`KeyStore` (or let all in when disabled).

    Parameters
    ----------
    keys : KeyStore or None
        None disables authentication (every caller is :data:`ANONYMOUS`, an admin).
    jwt : JwtVerifier, optional
        Also accept the identity provider's JWTs.
    quotas : QuotaStore, optional
        Shared quota state; without it, key limits are not enforced.
    """

    def __init__(self, keys: KeyStore | None, *, jwt=None, quotas=None):
        self.keys = keys
        self.jwt = jwt
        self.quotas = quotas

    @property
    def enabled(self) -> bool:
        return self.keys is not None

    def __repr__(self) -> str:
        extra = " +jwt" if self.jwt is not None else ""
        return f"<Authenticator {'on' if self.enabled else 'OFF'}{extra}>"

    def require(self, headers, role: str, model: str | None = None) -> ApiKey:
        """Return the caller's key if it may act as ``role`` (on ``model``); else 401/403."""
        return self.check(headers.get("authorization"), role, model)

    def check(self, header: str | None, role: str, model: str | None = None) -> ApiKey:
        """As :meth:`require`, given the ``Authorization`` header's value (or None)."""
        return self.authorize(self.identify(header), role, model)

    def identify(self, header: str | None) -> ApiKey:
        """Return who sent ``header`` (an API key or a JWT); 401 when nobody valid did."""
        if self.keys is None:
            return ANONYMOUS
        if not header:
            raise ApiError(401, "missing API key: send the header 'Authorization: Bearer <key>'",
                           headers=_CHALLENGE)
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, "the Authorization header must be 'Bearer <key>'",
                           headers=_CHALLENGE)
        if self.jwt is not None and self.jwt.looks_like(key):
            return self.jwt.principal(key)
        found = self.keys.authenticate(key)
        if found is None:
            raise ApiError(401, "invalid API key", headers=_CHALLENGE)
        if found.revoked:
            raise ApiError(401, f"API key '{found.name}' has been revoked", headers=_CHALLENGE)
        if found.expired():
            raise ApiError(401, f"API key '{found.name}' expired at {_when(found.expires_at)}",
                           headers=_CHALLENGE)
        self.keys.touch(found.id)
        return found

    @staticmethod
    def authorize(found: ApiKey, role: str, model: str | None = None) -> ApiKey:
        """Return ``found`` if it may act as ``role`` on ``model`` (None: no model); else 403."""
        if RANK[found.role] < RANK[role]:
            raise ApiError(403, f"this needs role '{role}' or higher; '{found.name}' has "
                                f"role '{found.role}'")
        if model is not None and not found.may_use(model):
            raise ApiError(403, f"'{found.name}' may not use model {model[:64]!r}; its scope is "
                                f"{', '.join(found.models)}")
        return found

    def admit(self, principal: ApiKey) -> None:
        """Take one request from the caller's rate limit (429 with Retry-After when empty)."""
        if principal.rate is not None and self.quotas is not None:
            try:
                self.quotas.take(principal.id, rate=principal.rate, burst=principal.burst or 1)
            except QuotaExceeded as exc:
                raise ApiError(429, exc.message,
                               headers={"Retry-After": str(exc.retry_after)}) from None

    def charge_rows(self, principal: ApiKey, rows: int) -> None:
        """Count ``rows`` against the caller's daily row quota (429 when it would go over)."""
        if principal.daily_rows is not None and self.quotas is not None:
            try:
                self.quotas.charge_rows(principal.id, rows, daily_rows=principal.daily_rows)
            except QuotaExceeded as exc:
                raise ApiError(429, exc.message,
                               headers={"Retry-After": str(exc.retry_after)}) from None
