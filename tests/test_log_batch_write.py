"""The prediction log's batched write keeps every value exactly: SQLite writes a batch as one
statement over a JSON array (``json_each``), which must store what row-by-row binding would."""
import math
import sqlite3

import numpy as np
import orjson
import pytest

from workbench.monitoring import rollup
from workbench.monitoring.log import PredictionLog, read_predictions
from workbench.store import Store
from workbench.store import predictions
from workbench.store.predictions import COLUMNS, _INSERT


def _rows(n=300, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        outputs = None if i % 9 == 0 else orjson.dumps(
            rng.normal(size=(2, 3)) if i % 4 == 0 else rng.integers(0, 10, size=3),
            option=orjson.OPT_SERIALIZE_NUMPY).decode()
        rows.append((1.7e9 + float(rng.random()) * 1e6, None if i % 3 else f"id-{i}\u00e9\"\n",
                     None if i % 11 == 0 else "digits", None if i % 11 == 0 else int(i % 4),
                     "v2" if i % 2 else "v1", int(rng.choice([200, 404, 422])),
                     float(rng.exponential(3.0)), int(i % 5), outputs,
                     "[[1.5,2.0,-0.0,3.4028234663852886e+38]]" if i % 10 == 0 else None,
                     "bad input: 'x' \\ é" if i % 7 == 0 else None,
                     "shadow" if i % 13 == 0 else None, 2 if i % 13 == 0 else None,
                     float(rng.random()) if i % 13 == 0 else None,
                     None if i % 6 == 0 else f"key{i % 3}"))
    return rows


@pytest.mark.parametrize("json_batch", [True, False], ids=["json_each", "sqlite-before-3.38"])
def test_a_sqlite_batch_stores_exactly_what_row_by_row_binding_stores(tmp_path, monkeypatch,
                                                                       json_batch):
    monkeypatch.setattr(predictions, "JSON_BATCH", json_batch)
    rows = _rows()
    store = Store(tmp_path / "batched")
    try:
        store.predictions.append(rows)
    finally:
        store.close()
    reference = Store(tmp_path / "reference")      # the same schema, rows bound one by one
    try:
        with reference.predictions.db.write() as conn:
            conn.executemany(_INSERT, rows)
    finally:
        reference.close()
    expected = sqlite3.connect(tmp_path / "reference" / "predictions.db").execute(
        f"SELECT {', '.join(COLUMNS)} FROM predictions ORDER BY id").fetchall()
    got = sqlite3.connect(tmp_path / "batched" / "predictions.db").execute(
        f"SELECT {', '.join(COLUMNS)} FROM predictions ORDER BY id").fetchall()
    assert got == expected == rows
    types = sqlite3.connect(tmp_path / "batched" / "predictions.db").execute(
        "SELECT DISTINCT typeof(time), typeof(version), typeof(latency_ms) FROM predictions "
        "WHERE version IS NOT NULL").fetchall()
    assert types == [("real", "integer", "real")]


def test_summarise_rows_matches_summarise_of_records():
    rng = np.random.default_rng(1)
    records = [{"time": 100 + float(rng.random()) * 3, "model": rng.choice(["a", "b", None]),
                "version": int(rng.integers(0, 3)) or None, "status": int(rng.choice([200, 422])),
                "latency_ms": float(rng.lognormal(0, 2)), "rows": int(rng.integers(0, 4)),
                "outputs": [int(v) for v in rng.integers(0, 3, 2)] if i % 3 else
                [float(rng.normal()), True, "x", [1.25, 2.0]]} for i in range(500)]
    fast = rollup.summarise_rows((r["time"], r["model"], r["version"], r["status"],
                                  r["latency_ms"], r["rows"], r["outputs"]) for r in records)
    assert fast == rollup.summarise(records)
    # an independent oracle: every sum counted by brute force over the records
    for model, version, second, code, n, rows, latency in fast[0]:
        mine = [r for r in records if (r["model"] or "", r["version"] or 0, int(r["time"]),
                                       r["status"]) == (model, version, second, code)]
        assert (n, rows) == (len(mine), sum(r["rows"] for r in mine))
        assert math.isclose(latency, sum(r["latency_ms"] for r in mine))
    for model, version, second, bucket, n in fast[1]:
        assert n == sum(1 for r in records if (r["model"] or "", r["version"] or 0, int(r["time"]),
                                               rollup.latency_bucket(r["latency_ms"]))
                        == (model, version, second, bucket))
    for model, version, second, output, n in fast[2]:
        assert n == sum(1 for r in records if (r["model"] or "", r["version"] or 0, int(r["time"]))
                        == (model, version, second)
                        for v in r["outputs"] or () if rollup.output_key(v) == output)
    assert sum(row[4] for row in fast[2]) == sum(len(r["outputs"] or ()) for r in records)
    status = {r[:4]: r[4:] for r in fast[0]}
    assert sum(v[0] for v in status.values()) == len(records)
    assert math.isclose(sum(v[2] for v in status.values()),
                        sum(r["latency_ms"] for r in records))


@pytest.mark.parametrize("outputs", [np.array([3, 1]), np.array([[0.5], [1.5]]),
                                     np.asfortranarray(np.ones((2, 2))), ["cat", "dog"]])
def test_the_writer_logs_outputs_and_inputs_as_json(tmp_path, outputs):
    log = PredictionLog(tmp_path / "predictions.db", input_fraction=1.0, flush_interval=60)
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    log.record(model="m", version=1, status=200, latency_ms=1.25, rows=2, outputs=outputs,
               inputs=X, time_=1.7e9 + 0.125)
    log.close()
    [row] = read_predictions(tmp_path / "predictions.db")
    expected = outputs.tolist() if isinstance(outputs, np.ndarray) else outputs
    assert orjson.loads(row.outputs if isinstance(row.outputs, str) else orjson.dumps(row.outputs)) == expected
    assert row.time == 1.7e9 + 0.125 and row.latency_ms == 1.25


def test_an_integer_json_cannot_hold_exactly_falls_back_to_binding(tmp_path):
    """2**53 + 1 would be rounded by a JSON double: the batch is bound row by row instead, and
    2**63 is refused by sqlite3 as binding always refused it (the writer counts it as dropped)."""
    rows = _rows(5)
    big = [rows[0][:7] + (2**53 + 1,) + rows[0][8:]]
    store = Store(tmp_path / "home")
    try:
        store.predictions.append(big)
        with pytest.raises(OverflowError):
            store.predictions.append([rows[1][:7] + (2**63,) + rows[1][8:]])
    finally:
        store.close()
    got = sqlite3.connect(tmp_path / "home" / "predictions.db").execute(
        "SELECT rows FROM predictions").fetchall()
    assert got == [(2**53 + 1,)]
