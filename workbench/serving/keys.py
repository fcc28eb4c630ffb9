"""API keys: created once, stored hashed in the store (``registry.db`` or PostgreSQL), checked in
constant time.

A key looks like ``wb_<id>_<secret>``: ``id`` (8 hex characters) is public and names the row,
``secret`` (43 URL-safe characters, 256 random bits) is only ever shown once, when the key is
created or rotated. The table keeps the SHA-256 of the whole key — the key has 256 bits of
entropy, so a slow hash adds nothing — and :meth:`KeyStore.authenticate` compares hashes with
:func:`hmac.compare_digest`. Keys are never logged.

Roles are ordered: ``viewer`` < ``predictor`` < ``maintainer`` < ``admin``; a key may do what its
role and every lower role may do. A key may also be limited to some models (names or fnmatch
patterns), expire, carry a request rate and a daily row quota (enforced by :mod:`.quota`), and be
rotated with a grace period during which the old secret still works. Creating, revoking,
rotating and limiting a key are written to the registry's audit log (as ``key:<name>``).
The SQL lives in :class:`workbench.store.KeyTables`.
"""
from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from ..store import ConflictError, Store
from ..store.keys import FIELDS
from .key_options import check_limits, parse_models

#: roles, lowest first
ROLES = ("viewer", "predictor", "maintainer", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
_KEY = re.compile(r"^wb_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


@dataclass(frozen=True)
class ApiKey:
    """What is known about a key or token holder (never the secret itself)."""

    id: str
    name: str
    role: str
    created_at: float
    revoked_at: float | None = None
    models: tuple | None = None
    expires_at: float | None = None
    last_used_at: float | None = None
    previous_until: float | None = None
    rate: float | None = None
    burst: int | None = None
    daily_rows: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def expired(self, now: float | None = None) -> bool:
        """Whether the key's lifetime is over."""
        return self.expires_at is not None and (time.time() if now is None else now) >= self.expires_at

    @property
    def limited(self) -> bool:
        """Whether a rate or a daily row quota applies."""
        return self.rate is not None or self.daily_rows is not None

    def allows(self, role: str) -> bool:
        """Whether this key may act with ``role``."""
        return not self.revoked and not self.expired() and RANK[self.role] >= RANK[role]

    def may_use(self, model: str) -> bool:
        """Whether this key's model scope includes ``model`` (no scope: every model)."""
        return self.models is None or any(fnmatch.fnmatchcase(model, p) for p in self.models)

    def to_json(self) -> dict:
        """The key's public description (for ``/admin/keys`` and the CLI)."""
        return {"id": self.id, "name": self.name, "role": self.role,
                "created_at": self.created_at, "revoked_at": self.revoked_at,
                "models": None if self.models is None else list(self.models),
                "expires_at": self.expires_at, "last_used_at": self.last_used_at,
                "rotation_grace_until": self.previous_until, "rate_per_s": self.rate,
                "burst": self.burst, "daily_rows": self.daily_rows}


def check_role(role) -> str:
    """Return ``role`` if it is one of :data:`ROLES`, else raise ``ValueError``."""
    if role not in RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _record(row) -> ApiKey:
    return ApiKey(**dict(zip(FIELDS, row)))


class KeyStore:
    """The API keys of a store (:class:`workbench.store.KeyTables`) and a cache of them for
    requests.

    Parameters
    ----------
    home : path-like
        Workbench home folder.
    store : str or None
        Store URL (``postgresql://…``); ``$WORKBENCH_STORE`` or ``<home>/registry.db`` when None.

    Examples
    --------
    >>> import tempfile
    >>> store = KeyStore(tempfile.mkdtemp())
    >>> key = store.create("ci", "predictor", models="iris-*")
    >>> store.authenticate(key).may_use("iris-v2")
    True
    >>> store.revoke("ci").revoked
    True
    """

    def __init__(self, home, *, store: str | None = None):
        from ..registry.registry import current_user

        self.path = Path(home) / "registry.db"
        self.store = Store(Path(home), store)
        _ = self.store.registry               # the audit log lives there: migrate it first
        self._tables = self.store.keys
        self.author = current_user()
        self._cache: dict[str, tuple[str, str | None, ApiKey]] = {}
        #: key id -> (the current secret as last sent, its record): a repeated key is compared in
        #: constant time without hashing it again; emptied whenever the table is re-read
        self._verified: dict[str, tuple[str, ApiKey]] = {}
        self._used: dict[str, float] = {}
        self._data_version = None
        self.reload()

    def __repr__(self) -> str:
        active = sum(not k.revoked for _, _, k in self._cache.values())
        where = self.path if self.store.backend == "sqlite" else "PostgreSQL"
        return f"<KeyStore {where} keys={len(self._cache)} active={active}>"

    # -- management ------------------------------------------------------------------------
    def create(self, name: str, role: str, *, models=None, expires_at: float | None = None,
               rate=None, burst: int | None = None, daily_rows: int | None = None,
               author: str | None = None) -> str:
        """Create a key and return it; this is the only time the key can be seen.

        ``models`` limits it to model names or fnmatch patterns (``"digits,iris-*"``);
        ``expires_at`` is a UNIX time; ``rate`` (per second, or text like ``"50/s"``),
        ``burst`` and ``daily_rows`` set its quotas.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"key name must be 1-64 characters from letters, digits and ._@-, "
                             f"got {name!r}")
        check_role(role)
        models = parse_models(models)
        rate, burst, daily_rows = check_limits(rate, burst, daily_rows)
        if expires_at is not None and not isinstance(expires_at, (int, float)):
            raise TypeError(f"expires_at must be a UNIX time in seconds, got {expires_at!r:.40}")
        for _ in range(5):
            key_id = secrets.token_hex(4)
            key = f"wb_{key_id}_{secrets.token_urlsafe(32)}"
            now = time.time()
            try:
                self._tables.insert(
                    key_id, name, role, _hash(key), now, models=models, expires_at=expires_at,
                    rate=rate, burst=burst, daily_rows=daily_rows,
                    audit={"name": name, "action": "key created", "author": author or self.author,
                           "at": now, "detail": {
                               "id": key_id, "role": role, "models": models,
                               "expires_at": expires_at, "rate": rate, "burst": burst,
                               "daily_rows": daily_rows}})
            except ConflictError:
                if self._find(name) is not None:
                    raise ValueError(f"a key named {name!r} already exists; choose another name "
                                     f"(revoked keys keep their names)") from None
                continue  # id collision: draw again
            self.reload()
            return key
        raise RuntimeError("could not draw a unique key id")  # pragma: no cover

    def list(self) -> list[ApiKey]:
        """Return every key (revoked ones too), oldest first."""
        return [_record(row) for row in self._tables.list()]

    def get(self, name_or_id: str) -> ApiKey:
        """Return the key with this name or id (``LookupError`` if none)."""
        found = self._find(name_or_id)
        if found is None:
            raise LookupError(f"no API key named or with id {name_or_id!r:.70}")
        return found

    def revoke(self, name_or_id: str, *, author: str | None = None) -> ApiKey:
        """Revoke a key by name or id; running servers refuse it within a second."""
        found = self.get(name_or_id)
        if not found.revoked:
            now = time.time()
            self._tables.revoke(found.id, now, audit={
                "name": found.name, "action": "key revoked", "author": author or self.author,
                "at": now, "detail": {"id": found.id}})
        self.reload()
        return self._find(name_or_id)

    def rotate(self, name_or_id: str, *, grace: float = 0.0, author: str | None = None) -> str:
        """Give a key a new secret and return it (shown once); the old one keeps working for
        ``grace`` seconds, then only the new one does."""
        found = self.get(name_or_id)
        if found.revoked:
            raise ValueError(f"key {found.name!r} is revoked; create a new key instead")
        if not (isinstance(grace, (int, float)) and 0 <= grace <= 30 * 86400):
            raise ValueError(f"grace must be between 0 s and 30 days, got {grace!r}")
        key = f"wb_{found.id}_{secrets.token_urlsafe(32)}"
        now = time.time()
        self._tables.rotate(found.id, _hash(key), now + grace, now, audit={
            "name": found.name, "action": "key rotated", "author": author or self.author,
            "at": now, "detail": {"id": found.id, "grace_s": grace}})
        self.reload()
        return key

    def limit(self, name_or_id: str, *, rate=None, burst: int | None = None,
              daily_rows: int | None = None, author: str | None = None) -> ApiKey:
        """Replace a key's quotas (None everywhere removes them)."""
        found = self.get(name_or_id)
        rate, burst, daily_rows = check_limits(rate, burst, daily_rows)
        now = time.time()
        self._tables.set_limits(found.id, now, rate=rate, burst=burst, daily_rows=daily_rows,
                                audit={"name": found.name, "action": "key limited",
                                       "author": author or self.author, "at": now, "detail": {
                                           "id": found.id, "rate": rate, "burst": burst,
                                           "daily_rows": daily_rows}})
        self.reload()
        return self._find(name_or_id)

    def events(self, name: str | None = None) -> list[tuple]:
        """Key events from the audit log: ``(key name, action, author, at, detail)``."""
        return self._tables.events(name)

    def _find(self, name_or_id: str) -> ApiKey | None:
        for key in self.list():
            if name_or_id in (key.name, key.id):
                return key
        return None

    # -- request path ----------------------------------------------------------------------
    def reload(self) -> None:
        """Re-read the table into the in-memory cache used by :meth:`authenticate`."""
        rows, self._data_version = self._tables.all_with_hashes()
        self._cache = {row[0]: (row[-2], row[-1], _record(row[:-2])) for row in rows}
        self._verified = {}

    def poll(self) -> bool:
        """Reload if another connection changed the keys; cheap, call it often."""
        version = self._tables.change_token()
        if version != self._data_version:
            self.reload()
            return True
        return False

    def authenticate(self, key: str) -> ApiKey | None:
        """Return the :class:`ApiKey` of ``key`` (possibly revoked or expired), or None if it is
        not one. A rotated-away secret counts until its grace period ends."""
        match = _KEY.match(key)
        if match is None:
            return None
        entry = self._cache.get(match.group(1))
        if entry is None and self.poll():      # a key created since the last poll
            entry = self._cache.get(match.group(1))
        if entry is None:
            return None
        stored, previous, record = entry
        seen = self._verified.get(record.id)       # its current secret, checked since the last reload
        if seen is not None and hmac.compare_digest(seen[0], key):
            return seen[1]
        digest = _hash(key)
        if hmac.compare_digest(stored, digest):
            if len(self._verified) < 10_000:
                self._verified[record.id] = (key, record)
            return record
        if previous is not None and hmac.compare_digest(previous, digest):
            if record.previous_until is not None and time.time() < record.previous_until:
                return record
            return None
        if self.poll():                        # rotated by another process a moment ago
            return self.authenticate(key) if self._cache.get(match.group(1)) is not entry else None
        return None

    def touch(self, key_id: str, at: float | None = None) -> None:
        """Note that a key was used (in memory; :meth:`flush_used` writes it)."""
        self._used[key_id] = time.time() if at is None else at

    def flush_used(self) -> int:
        """Write the noted last-use times (one transaction); return how many keys."""
        used, self._used = self._used, {}
        if used:
            self._tables.set_last_used(used)
        return len(used)

    def close(self) -> None:
        """Write pending last-use times and close the database connection."""
        try:
            self.flush_used()
        finally:
            self.store.close()
