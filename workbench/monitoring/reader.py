"""Reading the prediction log back: :func:`read_predictions` and :class:`PredictionRecord`
(the schema is described in :mod:`.log`)."""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import orjson

#: every column of table ``predictions`` but ``id``, in order
COLUMNS = ("time", "request_id", "model", "version", "protocol", "status", "latency_ms",
           "rows", "outputs", "inputs", "error", "role", "shadow_of", "agreement")
FILENAME = "predictions.db"   # as in .log


@dataclass(frozen=True)
class PredictionRecord:
    """One logged request, as read back by :func:`read_predictions`."""

    id: int
    time: float
    request_id: str | None
    model: str | None
    version: int | None
    protocol: str
    status: int
    latency_ms: float
    rows: int
    outputs: list | None
    inputs: list | None
    error: str | None
    role: str | None = None
    shadow_of: int | None = None
    agreement: float | None = None


def read_predictions(path: str | os.PathLike, *, model: str | None = None,
                     since: float | None = None, limit: int | None = None) -> list[PredictionRecord]:
    """Return logged requests, oldest first.

    Parameters
    ----------
    path : path-like
        ``predictions.db`` file, or a workbench home folder holding one.
    model : str, optional
        Only requests answered by this model.
    since : float, optional
        Only requests that arrived at or after this UNIX time.
    limit : int, optional
        At most this many of the most recent matching rows.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    if not path.exists():
        return []
    where, args = [], []
    if model is not None:
        where.append("model = ?")
        args.append(model)
    if since is not None:
        where.append("time >= ?")
        args.append(float(since))
    sql = "SELECT id, " + ", ".join(COLUMNS) + " FROM predictions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    columns = COLUMNS
    try:
        have = {r[1] for r in conn.execute("PRAGMA table_info(predictions)")}
        if not set(COLUMNS) <= have:       # a log written before role/shadow_of/agreement
            columns = tuple(c for c in COLUMNS if c in have)
            sql = sql.replace(", ".join(COLUMNS), ", ".join(columns), 1)
        rows = conn.execute(sql, args).fetchall()
    finally:
        conn.close()
    out = []
    for row in reversed(rows):
        values = dict(zip(("id",) + columns, row))
        for key in ("outputs", "inputs"):
            if values[key] is not None:
                values[key] = orjson.loads(values[key])
        out.append(PredictionRecord(**values))
    return out
