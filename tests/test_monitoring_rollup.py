"""Roll-ups: counts add up across batches and writers; percentiles within the bucket error."""
import numpy as np
import pytest

from workbench.monitoring import rollup
from workbench.store import Store

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


@pytest.fixture
def tables(tmp_path):
    store = Store(tmp_path)
    yield store.predictions
    store.close()


class _Reader:
    """Reads what the tables hold, past the store (the SQLite file or $WORKBENCH_STORE)."""

    def __init__(self, home):
        self.home = home

    def execute(self, sql):
        from store_helpers import raw_execute

        return _Rows(raw_execute(self.home, sql, "predictions.db"))


class _Rows(list):
    def fetchall(self):
        return [tuple(r) for r in self]

    def fetchone(self):
        return tuple(self[0])


@pytest.fixture
def conn(tables, tmp_path):
    return _Reader(tmp_path)


def record(t, latency, status=200, version=1, outputs=(3,), model="digits", rows=1):
    return {"time": t, "model": model, "version": version, "status": status,
            "latency_ms": latency, "rows": rows, "outputs": list(outputs) if status == 200 else None}


def test_counts_add_up_over_batches(tables, conn):
    rollup.add_batch(tables, [record(100.2, 1.0), record(100.7, 2.0, status=422)])
    rollup.add_batch(tables, [record(100.9, 3.0), record(101.1, 4.0, version=2, outputs=(1, 2), rows=2)])
    rows = conn.execute("SELECT version, second, status, requests, rows, latency_sum FROM rollup_status "
                        "ORDER BY second, version, status").fetchall()
    assert rows == [(1, 100, 200, 2, 2, 4.0), (1, 100, 422, 1, 1, 2.0), (2, 101, 200, 1, 2, 4.0)]
    outputs = dict(conn.execute("SELECT output, SUM(count) FROM rollup_outputs GROUP BY output").fetchall())
    assert outputs == {"3": 2, "1": 1, "2": 1}
    assert conn.execute("SELECT SUM(requests) FROM rollup_latency").fetchone()[0] == 4


def test_unknown_model_requests_are_kept_under_an_empty_name(tables, conn):
    rollup.add_batch(tables, [record(5, 1.0, status=404, version=None, model=None)])
    assert conn.execute("SELECT model, version, status FROM rollup_status").fetchall() == [("", 0, 404)]


@pytest.mark.parametrize("q", [50, 95, 99])
def test_percentiles_from_buckets_are_within_the_bucket_error(q):
    latencies = np.random.default_rng(0).lognormal(mean=1.0, sigma=0.8, size=20_000)
    buckets = np.array([rollup.latency_bucket(x) for x in latencies])
    b, n = np.unique(buckets, return_counts=True)
    estimate = rollup.percentile_from_buckets(b, n, q)
    truth = np.percentile(latencies, q)
    assert abs(estimate / truth - 1) < 2 ** (1 / rollup.BUCKETS_PER_OCTAVE) - 1  # < 9.1 %
    low, high = rollup.bucket_bounds(rollup.latency_bucket(truth))
    assert low <= truth < high


def test_percentile_of_nothing_is_nan():
    assert np.isnan(rollup.percentile_from_buckets([], [], 50))


def test_regression_outputs_are_rounded_to_two_significant_digits():
    assert rollup.output_key(123.456) == "120"
    assert rollup.output_key(0.123456) == "0.12"
    assert rollup.output_key("cat") == "cat"
    assert rollup.output_key([1.234, 5.0]) == "[1.2, 5]"


@pytest.mark.sqlite_only
def test_read_predictions_reads_a_log_from_before_the_shadow_columns(tmp_path):
    import sqlite3

    from workbench.monitoring import read_predictions

    conn = sqlite3.connect(tmp_path / "predictions.db")
    conn.execute("CREATE TABLE predictions (id INTEGER PRIMARY KEY, time REAL, request_id TEXT, "
                 "model TEXT, version INTEGER, protocol TEXT, status INTEGER, latency_ms REAL, "
                 "rows INTEGER, outputs TEXT, inputs TEXT, error TEXT)")
    conn.execute("INSERT INTO predictions VALUES (1, 1.0, NULL, 'm', 1, 'v2', 200, 1.5, 1, "
                 "'[0]', NULL, NULL)")
    conn.commit()
    conn.close()
    (record,) = read_predictions(tmp_path)
    assert record.model == "m" and record.outputs == [0] and record.role is None
