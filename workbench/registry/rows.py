"""Records from the store's rows: :class:`ModelVersion` and :class:`AuditEvent`.

The tables themselves (schema, transactions, statements) are in :mod:`workbench.store.registry`.
"""
from __future__ import annotations

import json

import orjson

from .records import AuditEvent, ModelVersion


def _loads(text):
    """Parse a JSON column (``orjson``: listing 1,000 versions parses 4,000 of them)."""
    return {} if text == "{}" else orjson.loads(text)


def row_to_version(row, aliases=()) -> ModelVersion:
    """Build a :class:`ModelVersion` from a ``versions`` row."""
    parent = None
    if row["parent_name"] is not None:
        parent = (row["parent_name"], int(row["parent_version"]))
    return ModelVersion(
        name=row["name"], version=int(row["version"]), sha256=row["sha256"],
        size_bytes=int(row["size_bytes"]), created_at=float(row["created_at"]),
        author=row["author"], metrics=_loads(row["metrics"]), params=_loads(row["params"]),
        tags=_loads(row["tags"]), description=row["description"], parent=parent,
        signature=_loads(row["signature"]) if row["signature"] else None,
        model_class=row["model_class"], aliases=tuple(sorted(aliases)),
        archived=bool(row["archived"]), reference_sha256=row["reference_sha256"],
        origin=_loads(row["origin"]) if row["origin"] else None)


def row_to_event(row) -> AuditEvent:
    """Build an :class:`AuditEvent` from an ``audit`` row."""
    return AuditEvent(id=int(row["id"]), name=row["name"], action=row["action"],
                      version=row["version"], alias=row["alias"], previous=row["previous"],
                      author=row["author"], at=float(row["at"]), detail=json.loads(row["detail"]))
