"""API keys: created once, stored hashed in the store (``registry.db`` or PostgreSQL), checked in
constant time.

A key looks like ``wb_<id>_<secret>``: ``id`` (8 hex characters) is public and names the row,
``secret`` (43 URL-safe characters, 256 random bits) is only ever shown once, when the key is
created. The table keeps the SHA-256 of the whole key — the key has 256 bits of entropy, so a
slow hash adds nothing — and :meth:`KeyStore.authenticate` compares hashes with
:func:`hmac.compare_digest`. Keys are never logged.

Roles are ordered: ``viewer`` < ``predictor`` < ``maintainer`` < ``admin``; a key may do what its
role and every lower role may do.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from ..store import ConflictError, Store

#: roles, lowest first
ROLES = ("viewer", "predictor", "maintainer", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
_KEY = re.compile(r"^wb_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")

@dataclass(frozen=True)
class ApiKey:
    """What is known about a key (never the key itself)."""

    id: str
    name: str
    role: str
    created_at: float
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, role: str) -> bool:
        """Whether this key may act with ``role``."""
        return not self.revoked and RANK[self.role] >= RANK[role]


def check_role(role) -> str:
    """Return ``role`` if it is one of :data:`ROLES`, else raise ``ValueError``."""
    if role not in RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


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
    >>> key = store.create("ci", "predictor")
    >>> store.authenticate(key).role
    'predictor'
    >>> store.revoke("ci").revoked
    True
    """

    def __init__(self, home, *, store: str | None = None):
        self.path = Path(home) / "registry.db"
        self.store = Store(Path(home), store)
        self._tables = self.store.keys
        self._cache: dict[str, tuple[str, ApiKey]] = {}
        #: key id -> (the key as last sent, its record): a repeated key is compared in constant
        #: time without hashing it again; emptied whenever the table is re-read
        self._verified: dict[str, tuple[str, ApiKey]] = {}
        self._data_version = None
        self.reload()

    def __repr__(self) -> str:
        active = sum(not k.revoked for _, k in self._cache.values())
        where = self.path if self.store.backend == "sqlite" else "PostgreSQL"
        return f"<KeyStore {where} keys={len(self._cache)} active={active}>"

    # -- management ------------------------------------------------------------------------
    def create(self, name: str, role: str) -> str:
        """Create a key and return it; this is the only time the key can be seen."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"key name must be 1-64 characters from letters, digits and ._@-, "
                             f"got {name!r}")
        check_role(role)
        for _ in range(5):
            key_id = secrets.token_hex(4)
            key = f"wb_{key_id}_{secrets.token_urlsafe(32)}"
            try:
                self._tables.insert(key_id, name, role, _hash(key), time.time())
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
        return [ApiKey(*row) for row in self._tables.list()]

    def revoke(self, name_or_id: str) -> ApiKey:
        """Revoke a key by name or id; running servers refuse it within a second."""
        found = self._find(name_or_id)
        if found is None:
            raise LookupError(f"no API key named or with id {name_or_id!r}")
        if not found.revoked:
            self._tables.revoke(found.id, time.time())
        self.reload()
        return self._find(name_or_id)

    def _find(self, name_or_id: str) -> ApiKey | None:
        for key in self.list():
            if name_or_id in (key.name, key.id):
                return key
        return None

    # -- request path ----------------------------------------------------------------------
    def reload(self) -> None:
        """Re-read the table into the in-memory cache used by :meth:`authenticate`."""
        rows, self._data_version = self._tables.all_with_hashes()
        self._cache = {row[0]: (row[5], ApiKey(*row[:5])) for row in rows}
        self._verified = {}

    def poll(self) -> bool:
        """Reload if another connection changed the keys; cheap, call it often."""
        version = self._tables.change_token()
        if version != self._data_version:
            self.reload()
            return True
        return False

    def authenticate(self, key: str) -> ApiKey | None:
        """Return the :class:`ApiKey` of ``key`` (possibly revoked), or None if it is not one."""
        match = _KEY.match(key)
        if match is None:
            return None
        entry = self._cache.get(match.group(1))
        if entry is None and self.poll():      # a key created since the last poll
            entry = self._cache.get(match.group(1))
        if entry is None:
            return None
        stored, record = entry
        seen = self._verified.get(record.id)       # this key, checked since the last reload
        if seen is not None and hmac.compare_digest(seen[0], key):
            return seen[1]
        if not hmac.compare_digest(stored, _hash(key)):
            return None
        if len(self._verified) < 10_000:
            self._verified[record.id] = (key, record)
        return record

    def close(self) -> None:
        """Close the database connection."""
        self.store.close()
