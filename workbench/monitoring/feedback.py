"""Feedback: the true answers of served requests, joined later with what was predicted.

A client that sent ``{"id": "r-17", "inputs": ...}`` to ``/v2/models/{name}/infer`` can, hours
later, post the truth to ``/v2/models/{name}/feedback``::

    {"feedback": [{"id": "r-17", "labels": [3, 1]},            # one label per row
                  {"id": "r-9", "rows": [4], "labels": [0]}]}  # or only some rows

The answer is ``{"matched": <rows labelled>, "unknown": [<ids the log has no answer for>]}``.
Each label is stored with the prediction-log row it belongs to (table ``labels``, see
:mod:`workbench.store.loop`), so the join is exact whatever order labels arrive in; posting a label for
the same row again replaces the earlier one. Labels are class labels (as the model answers
them) for classifiers and numbers for regressors.
"""
from __future__ import annotations

import math
import numbers

#: at most this many items per feedback request, and labels per item
MAX_ITEMS, MAX_LABELS = 10_000, 100_000


class FeedbackError(ValueError):
    """A feedback body that cannot be used (the service answers 422 with the message)."""


def _check_label(value, where: str):
    if isinstance(value, bool) or value is None:
        raise FeedbackError(f"{where}: a label must be a number or a string, got {value!r:.40}")
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise FeedbackError(f"{where}: a label must be a finite number, got {value!r}")
        return value
    if isinstance(value, str) and 0 < len(value) <= 200:
        return value
    raise FeedbackError(f"{where}: a label must be a number or a string of 1 to 200 characters, "
                        f"got {value!r:.40}")


def parse_feedback(body) -> list[tuple[str, list | None, list]]:
    """Check a feedback body; return ``[(request_id, rows or None, labels), ...]``."""
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list):
        raise FeedbackError('the body must be {"feedback": [{"id": "<request id>", "labels": '
                            '[<one label per row>]}, ...]}')
    items = body["feedback"]
    if len(items) > MAX_ITEMS:
        raise FeedbackError(f"at most {MAX_ITEMS} feedback items per request, got {len(items)}")
    out, total = [], 0
    for i, item in enumerate(items):
        where = f"feedback[{i}]"
        if not isinstance(item, dict):
            raise FeedbackError(f"{where} must be an object with 'id' and 'labels'")
        unknown = set(item) - {"id", "labels", "rows"}
        if unknown:
            raise FeedbackError(f"{where}: unknown field(s) {sorted(unknown)}; use id, labels, rows")
        rid, labels, rows = item.get("id"), item.get("labels"), item.get("rows")
        if not isinstance(rid, str) or not 0 < len(rid) <= 200:
            raise FeedbackError(f"{where}.id must be the request's id (a string of 1 to 200 "
                                f"characters), got {rid!r:.40}")
        if not isinstance(labels, list) or not labels:
            raise FeedbackError(f"{where}.labels must be a non-empty list, one label per row")
        labels = [_check_label(v, f"{where}.labels[{j}]") for j, v in enumerate(labels)]
        if rows is not None:
            if (not isinstance(rows, list) or len(rows) != len(labels)
                    or not all(type(r) is int and 0 <= r for r in rows)):
                raise FeedbackError(f"{where}.rows must list one row index (an int >= 0) per "
                                    f"label, got {rows!r:.60}")
            if len(set(rows)) != len(rows):
                raise FeedbackError(f"{where}.rows names a row twice: {rows!r:.60}")
        total += len(labels)
        if total > MAX_LABELS:
            raise FeedbackError(f"at most {MAX_LABELS} labels per request")
        out.append((rid, rows, labels))
    return out


def record_feedback(tables, model: str, body) -> dict:
    """Check ``body``, store its labels (``tables``: the store's
    :class:`~workbench.store.LoopTables`) against ``model``'s logged answers and return
    ``{"matched": n_rows, "unknown": [ids]}``; raises :class:`FeedbackError` for a bad body
    (nothing is stored then)."""
    items = parse_feedback(body)
    writes, unknown = [], []
    for rid, rows, labels in items:
        found = tables.find_request(model, rid)
        if found is None:
            unknown.append(rid)
            continue
        pred_id, n_rows = found
        if rows is None:
            if len(labels) != n_rows:
                raise FeedbackError(f"request {rid!r} had {n_rows} row(s) but {len(labels)} "
                                    "label(s) were sent; send one per row or name the rows")
            rows = range(n_rows)
        elif max(rows) >= n_rows:
            raise FeedbackError(f"request {rid!r} had {n_rows} row(s); row {max(rows)} does not "
                                "exist")
        writes.extend((rid, r, label, pred_id) for r, label in zip(rows, labels))
    tables.upsert_labels(model, writes)
    return {"matched": len(writes), "unknown": unknown}


def read_labels_csv(path) -> dict:
    """A feedback body from a CSV file with columns ``id,row,label`` (a header line)."""
    import csv

    grouped: dict = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"id", "row", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{path} must have a header with the columns id,row,label")
        for n, line in enumerate(reader, start=2):
            try:
                row = int(line["row"])
            except (TypeError, ValueError):
                raise ValueError(f"{path} line {n}: row must be an integer, got "
                                 f"{line['row']!r}") from None
            rows, labels = grouped.setdefault(line["id"], ([], []))
            rows.append(row)
            labels.append(_csv_value(line["label"]))
    return {"feedback": [{"id": rid, "rows": rows, "labels": labels}
                         for rid, (rows, labels) in grouped.items()]}


def _csv_value(text: str):
    """``"3"`` → 3, ``"2.5"`` → 2.5, anything else stays text (a class name)."""
    text = (text or "").strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
