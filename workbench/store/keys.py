"""The API keys table (``serving_api_keys``, next to the registry's tables): only hashes of keys.

Columns of schema 1: ``id`` (public part of the key), ``name`` (unique, kept after revocation),
``role``, ``sha256`` (of the whole key), ``created_at``, ``revoked_at`` (NULL while the key is
valid). Schema 2 (access governance) adds, NULL in older rows (= every model, no expiry, no
limits):

===============  ======================================================================
column           meaning
===============  ======================================================================
models           JSON list of model names or fnmatch patterns the key may use
expires_at       UNIX time after which the key is refused
last_used_at     last successful authentication (written at most once a minute)
previous_sha256  the key before the last rotation …
previous_until   … valid until then (the rotation's grace period)
rate, burst      token bucket: requests per second and bucket size
daily_rows       input rows per UTC day
changed_at       last create / revoke / rotate / limit (what running servers poll)
===============  ======================================================================

Every change to a key is appended to the registry's ``audit`` table in the same transaction
(``name = "key:<key name>"``), never with a secret.
"""
from __future__ import annotations

import json

from .migrations import Migration
from .registry import RegistryTx
from .tables import Tables

_V1 = """
CREATE TABLE IF NOT EXISTS serving_api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at {real} NOT NULL,
    revoked_at {real}
)
"""
_ADDED = (("models", "TEXT"), ("expires_at", "{real}"), ("last_used_at", "{real}"),
          ("previous_sha256", "TEXT"), ("previous_until", "{real}"), ("rate", "{real}"),
          ("burst", "INTEGER"), ("daily_rows", "BIGINT"), ("changed_at", "{real}"))
_V2_SQLITE = ";\n".join(f"ALTER TABLE serving_api_keys ADD COLUMN {c} {k.format(real='REAL')}"
                        for c, k in _ADDED)
_V2_POSTGRESQL = ";\n".join(
    f"ALTER TABLE serving_api_keys ADD COLUMN IF NOT EXISTS {c} "
    f"{k.format(real='DOUBLE PRECISION')}" for c, k in _ADDED)

#: the keys' schema, oldest first (append to change it)
MIGRATIONS = [
    Migration(1, "API keys: id, unique name, role, SHA-256, created and revoked times",
              _V1.format(real="REAL"), _V1.format(real="DOUBLE PRECISION")),
    Migration(2, "API keys: model scope, expiry, last use, rotation grace, quotas",
              _V2_SQLITE, _V2_POSTGRESQL),
]

#: what :meth:`KeyTables.list` returns per key, in order
FIELDS = ("id", "name", "role", "created_at", "revoked_at", "models", "expires_at",
          "last_used_at", "previous_until", "rate", "burst", "daily_rows")
_SELECT = f"SELECT {', '.join(FIELDS)} FROM serving_api_keys"
_SELECT_HASHES = f"SELECT {', '.join(FIELDS)}, sha256, previous_sha256 FROM serving_api_keys"


class ConflictError(ValueError):
    """A row with the same unique value (key id or name) exists already."""


class KeyTables(Tables):
    """Named statements on ``serving_api_keys`` (and the key events of the audit log).

    ``audit`` arguments are ``{"name", "action", "author", "at", "detail"}`` of the event written
    with the change.

    Parameters
    ----------
    db : SQLiteDatabase or PostgresDatabase
    """


    @staticmethod
    def _audit(conn, audit) -> None:
        if audit is not None:
            RegistryTx(conn).add_audit(name=f"key:{audit['name']}", action=audit["action"],
                                       author=audit["author"], at=audit["at"],
                                       detail=audit.get("detail"))

    def insert(self, key_id: str, name: str, role: str, sha256: str, created_at: float, *,
               models=None, expires_at=None, rate=None, burst=None, daily_rows=None,
               audit=None) -> None:
        """Add a key; :class:`ConflictError` when its id or name is taken."""
        try:
            with self.db.write(lock="keys") as conn:
                conn.execute(
                    "INSERT INTO serving_api_keys (id, name, role, sha256, created_at, models, "
                    "expires_at, rate, burst, daily_rows, changed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key_id, name, role, sha256, created_at,
                     None if models is None else json.dumps(list(models)), expires_at, rate,
                     burst, daily_rows, created_at))
                self._audit(conn, audit)
        except self.db.IntegrityError as exc:
            raise ConflictError(str(exc)) from None

    def list(self) -> list[tuple]:
        """:data:`FIELDS` of every key (``models`` as a tuple or None), oldest first."""
        return [_decode(r) for r in self.db.query(_SELECT + " ORDER BY created_at")]

    def names(self) -> dict:
        """``{id: name}`` of every key (works on a read-only file of any schema version)."""
        return {r[0]: r[1] for r in self.db.query("SELECT id, name FROM serving_api_keys")}

    def all_with_hashes(self) -> tuple[list[tuple], object]:
        """:data:`FIELDS` plus ``sha256`` and ``previous_sha256`` of every key, and the
        :meth:`change_token` they were read at."""
        with self.db.read() as conn:
            rows = conn.execute(_SELECT_HASHES).fetchall()
            token = self._token(conn)
        return [_decode(r) for r in rows], token

    def revoke(self, key_id: str, at: float, *, audit=None) -> None:
        with self.db.write(lock="keys") as conn:
            conn.execute("UPDATE serving_api_keys SET revoked_at = ?, changed_at = ? WHERE id = ? "
                         "AND revoked_at IS NULL", (at, at, key_id))
            self._audit(conn, audit)

    def rotate(self, key_id: str, sha256: str, previous_until: float, at: float, *,
               audit=None) -> None:
        """Make ``sha256`` the key's hash; the current one stays valid until ``previous_until``."""
        with self.db.write(lock="keys") as conn:
            conn.execute("UPDATE serving_api_keys SET previous_sha256 = sha256, "
                         "previous_until = ?, sha256 = ?, changed_at = ? WHERE id = ?",
                         (previous_until, sha256, at, key_id))
            self._audit(conn, audit)

    def set_limits(self, key_id: str, at: float, *, rate, burst, daily_rows, audit=None) -> None:
        with self.db.write(lock="keys") as conn:
            conn.execute("UPDATE serving_api_keys SET rate = ?, burst = ?, daily_rows = ?, "
                         "changed_at = ? WHERE id = ?", (rate, burst, daily_rows, at, key_id))
            self._audit(conn, audit)

    def set_last_used(self, used: dict) -> None:
        """Record last-use times (``{key_id: unix seconds}``), never moving one backwards."""
        with self.db.write(lock="keys") as conn:
            conn.executemany("UPDATE serving_api_keys SET last_used_at = ? WHERE id = ? AND "
                             "(last_used_at IS NULL OR last_used_at < ?)",
                             [(at, key_id, at) for key_id, at in used.items()])

    def events(self, name: str | None = None) -> list[tuple]:
        """``(key name, action, author, at, detail)`` of key events (of one key), oldest first."""
        if name is None:
            sql, args = ("SELECT name, action, author, at, detail FROM audit "
                         "WHERE name LIKE 'key:%' ORDER BY id", ())
        else:
            sql, args = ("SELECT name, action, author, at, detail FROM audit WHERE name = ? "
                         "ORDER BY id", (f"key:{name}",))
        return [(n[4:], a, who, float(at), json.loads(d))
                for n, a, who, at, d in self.db.query(sql, args)]

    def change_token(self):
        """A value that changes whenever a key is created, revoked, rotated or limited."""
        if self.db.dialect == "sqlite":
            return self.db.change_token()
        with self.db.read() as conn:
            return self._token(conn)

    def _token(self, conn):
        if self.db.dialect == "sqlite":
            return conn.execute("PRAGMA data_version").fetchone()[0]
        return tuple(conn.execute("SELECT COUNT(*), MAX(created_at), COUNT(revoked_at), "
                                  "MAX(changed_at) FROM serving_api_keys").fetchone())


def _decode(row) -> tuple:
    row = tuple(row)
    models = row[5]
    return row[:5] + (None if models is None else tuple(json.loads(models)),) + row[6:]
