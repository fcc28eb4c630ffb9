"""Per-second roll-ups of the prediction log, so dashboard queries stay fast on huge logs.

Every batch the log writer commits is also added, in the same transaction, to three small
tables keyed by ``(model, version, second)`` (their SQL is in :mod:`workbench.store.predictions`).
Each update is an ``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n``, so several server
processes may write at once without losing a count. A dashboard then reads a few thousand roll-up rows instead of millions of requests.

- ``rollup_status``: requests, rows and summed latency per HTTP status;
- ``rollup_latency``: request counts per latency bucket (log-spaced: bucket ``k`` holds latencies
  in ``[2^(k/8), 2^((k+1)/8))`` ms, so a percentile read from it is within one bucket, 9 %,
  of the truth);
- ``rollup_outputs``: how often each prediction was given (class labels as they are; regression
  values rounded to two significant digits);
- ``rollup_usage``: per caller (``key_id``) too, requests, rows answered, errors and summed
  latency, for usage reports (:mod:`workbench.store.usage`).

Requests that named no known model are kept under model ``""`` and version ``0``.
"""
from __future__ import annotations

import math

# numpy is imported inside the two functions that need it: the log's write process
# (:mod:`.write_process`) imports this module for :func:`summarise_rows` and stays small

#: latency buckets per doubling
BUCKETS_PER_OCTAVE = 8

def latency_bucket(ms: float) -> int:
    """The bucket of a latency in milliseconds (``floor(8 * log2(ms))``; tiny values share one)."""
    return math.floor(BUCKETS_PER_OCTAVE * math.log2(max(ms, 1e-3)))


def bucket_bounds(bucket) -> tuple:
    """``(low, high)`` in milliseconds of a bucket (or of an array of buckets)."""
    import numpy as np

    b = np.asarray(bucket, dtype=np.float64)
    return 2.0 ** (b / BUCKETS_PER_OCTAVE), 2.0 ** ((b + 1) / BUCKETS_PER_OCTAVE)


def output_key(value) -> str:
    """How one prediction is counted: labels as text, numbers to two significant digits."""
    if isinstance(value, float):
        return f"{float(f'{value:.2g}'):g}"
    if isinstance(value, (list, tuple)):  # one row of a multi-output regression
        return "[" + ", ".join(output_key(v) for v in value) + "]"
    return str(value)


def summarise(records) -> tuple[list, list, list, list]:
    """Roll-up rows of a batch of log records: ``(status, latency, outputs, usage)`` as
    :meth:`workbench.store.PredictionTables.append` takes them.

    ``records`` are dicts with ``time, model, version, status, latency_ms, rows``, ``outputs``
    (a list of predictions, or None) and optionally ``key_id`` (the caller).
    """
    return summarise_rows((r["time"], r["model"], r["version"], r["status"], r["latency_ms"],
                           r["rows"], r["outputs"], r.get("key_id")) for r in records)


def summarise_rows(rows) -> tuple[list, list, list, list]:
    """:func:`summarise` of tuples ``(time, model, version, status, latency_ms, rows,
    outputs[, key_id])``: what the log writer calls, once per batch, without a dict per record."""
    status, latency, outputs, usage = {}, {}, {}, {}
    log2, floor = math.log2, math.floor
    for at, model, version, code, ms, n_rows, values, *caller in rows:
        key = (model or "", version or 0, int(at))
        skey = key + (code,)
        entry = status.get(skey)
        if entry is None:
            status[skey] = [1, n_rows or 0, 0 + ms]
        else:
            entry[0] += 1
            entry[1] += n_rows or 0
            entry[2] += ms
        ukey = (key[2], (caller[0] if caller else None) or "", key[0], key[1])
        entry = usage.get(ukey)
        if entry is None:
            entry = usage[ukey] = [0, 0, 0, 0.0]
        entry[0] += 1
        if code < 400:
            entry[1] += n_rows or 0
        else:
            entry[2] += 1
        entry[3] += ms
        lkey = key + (floor(BUCKETS_PER_OCTAVE * log2(max(ms, 1e-3))),)
        latency[lkey] = latency.get(lkey, 0) + 1
        for value in values or ():
            okey = key + (str(value) if type(value) is int else output_key(value),)
            outputs[okey] = outputs.get(okey, 0) + 1
    return ([k + tuple(v) for k, v in status.items()],
            [k + (n,) for k, n in latency.items()],
            [k + (n,) for k, n in outputs.items()],
            [k + tuple(u) for k, u in usage.items()])


def add_batch(tables, records) -> None:
    """Add a batch of log records to the roll-ups of ``tables`` (a
    :class:`workbench.store.PredictionTables`), in one transaction."""
    tables.add_rollups(*summarise(records))


def percentile_from_buckets(buckets, counts, q: float) -> float:
    """Estimate the ``q``-th percentile (0–100) from bucket counts, interpolating inside a bucket
    on the log scale. Returns NaN when there are no counts. A bucket may appear more than once
    (one row per version, say): its counts are added up first."""
    import numpy as np

    buckets = np.asarray(buckets)
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    buckets, where = np.unique(buckets, return_inverse=True)   # sorted, each bucket once
    counts = np.bincount(where.ravel(), weights=counts, minlength=len(buckets))
    cum = np.cumsum(counts)
    rank = q / 100.0 * total
    i = int(np.searchsorted(cum, rank, side="left"))
    i = min(i, len(buckets) - 1)
    before = cum[i - 1] if i else 0.0
    frac = (rank - before) / counts[i] if counts[i] else 0.0
    return float(2.0 ** ((buckets[i] + min(max(frac, 0.0), 1.0)) / BUCKETS_PER_OCTAVE))
