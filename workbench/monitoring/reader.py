"""Reading the prediction log back: :func:`read_predictions` and :class:`PredictionRecord`
(the schema is described in :mod:`.log`)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..store import Store
from ..store.predictions import COLUMNS  # noqa: F401 - every column but ``id``, in order

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
    key_id: str | None = None


def read_predictions(path: str | os.PathLike, *, model: str | None = None,
                     since: float | None = None, limit: int | None = None,
                     store: str | None = None) -> list[PredictionRecord]:
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
    store : str, optional
        Store URL (``postgresql://…``) to read instead of the file; ``$WORKBENCH_STORE`` when None.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    holder = Store(path.parent, store, predictions_path=path, readonly=True)
    try:
        if not holder.exists("predictions"):
            return []
        columns, rows = holder.predictions.read(model=model, since=since, limit=limit)
    finally:
        holder.close()
    out = []
    for row in reversed(rows):
        values = dict(zip(columns, row))
        for key in ("outputs", "inputs"):
            if values[key] is not None:
                values[key] = orjson.loads(values[key])
        out.append(PredictionRecord(**values))
    return out
