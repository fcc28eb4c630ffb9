"""Reaching past the store's API in tests (to corrupt rows, or to check what is stored) on
whichever backend the test runs: the SQLite file in the home, or ``$WORKBENCH_STORE``."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def raw_errors() -> tuple:
    """The exception types a refused raw statement raises on either backend."""
    import psycopg

    return (sqlite3.DatabaseError, psycopg.Error)


def raw_execute(home, sql: str, filename: str = "registry.db") -> list:
    """Run one statement outside the store (autocommit); return its rows, if any."""
    url = os.environ.get("WORKBENCH_STORE")
    if url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []
    conn = sqlite3.connect(Path(home) / filename)
    try:
        rows = conn.execute(sql).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def stored_bytes(home, table: str, filename: str = "registry.db") -> bytes:
    """Everything the store holds that could contain a secret: the SQLite file's bytes, or the
    text of every row of ``table`` on PostgreSQL."""
    if os.environ.get("WORKBENCH_STORE"):
        return repr(raw_execute(home, f"SELECT * FROM {table}")).encode()
    return (Path(home) / filename).read_bytes()
