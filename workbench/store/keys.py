"""The API keys table (``serving_api_keys``, next to the registry's tables): only hashes of keys.

Columns: ``id`` (public part of the key), ``name`` (unique, kept after revocation), ``role``,
``sha256`` (of the whole key), ``created_at``, ``revoked_at`` (NULL while the key is valid).
"""
from __future__ import annotations

from .migrations import Migration

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

#: the keys' schema, oldest first (append to change it)
MIGRATIONS = [
    Migration(1, "API keys: id, unique name, role, SHA-256, created and revoked times",
              _V1.format(real="REAL"), _V1.format(real="DOUBLE PRECISION")),
]


class ConflictError(ValueError):
    """A row with the same unique value (key id or name) exists already."""


class KeyTables:
    """Named statements on ``serving_api_keys``.

    Parameters
    ----------
    db : SQLiteDatabase or PostgresDatabase
    """

    def __init__(self, db):
        self.db = db

    def __repr__(self) -> str:
        return f"<KeyTables {self.db.url}>"

    def insert(self, key_id: str, name: str, role: str, sha256: str, created_at: float) -> None:
        """Add a key; :class:`ConflictError` when its id or name is taken."""
        try:
            with self.db.write(lock="keys") as conn:
                conn.execute("INSERT INTO serving_api_keys (id, name, role, sha256, created_at) "
                             "VALUES (?, ?, ?, ?, ?)", (key_id, name, role, sha256, created_at))
        except self.db.IntegrityError as exc:
            raise ConflictError(str(exc)) from None

    def list(self) -> list[tuple]:
        """``(id, name, role, created_at, revoked_at)`` of every key, oldest first."""
        return [tuple(r) for r in self.db.query(
            "SELECT id, name, role, created_at, revoked_at FROM serving_api_keys "
            "ORDER BY created_at")]

    def all_with_hashes(self) -> tuple[list[tuple], object]:
        """``(id, name, role, created_at, revoked_at, sha256)`` of every key, and the
        :meth:`change_token` they were read at."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT id, name, role, created_at, revoked_at, sha256 "
                                "FROM serving_api_keys").fetchall()
            token = self._token(conn)
        return [tuple(r) for r in rows], token

    def revoke(self, key_id: str, at: float) -> None:
        with self.db.write(lock="keys") as conn:
            conn.execute("UPDATE serving_api_keys SET revoked_at = ? WHERE id = ? AND "
                         "revoked_at IS NULL", (at, key_id))

    def change_token(self):
        """A value that changes whenever a key is created or revoked, by any process."""
        if self.db.dialect == "sqlite":
            return self.db.change_token()
        with self.db.read() as conn:
            return self._token(conn)

    def _token(self, conn):
        if self.db.dialect == "sqlite":
            return conn.execute("PRAGMA data_version").fetchone()[0]
        return tuple(conn.execute("SELECT COUNT(*), MAX(created_at), COUNT(revoked_at), "
                                  "MAX(revoked_at) FROM serving_api_keys").fetchone())
