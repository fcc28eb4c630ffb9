"""The prediction log's write process (what a serving worker uses on SQLite) stores exactly what
the in-process writer stores, refuses what it refuses, and loses nothing when the process dies."""
import os
import signal
import sqlite3

import numpy as np
import pytest

from workbench.monitoring.log import PredictionLog

TABLES = ("predictions", "rollup_status", "rollup_latency", "rollup_outputs", "rollup_usage")


def _traffic(log, n=2000, seed=0, start=0):
    """Records of every shape the server logs: labels of each type, regression values (one and
    several outputs), errors, no model, shadow copies, sampled float32 and float64 inputs."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        kind = i % 7
        X = rng.normal(size=(1 + i % 3, 4)).astype(np.float32 if i % 2 else np.float64)
        outputs = {0: np.array([i % 10]), 1: rng.normal(size=2) * 1e3,
                   2: ["setosa", 'ünï"code\n'], 3: rng.normal(size=(2, 2)).astype(np.float32),
                   4: None, 5: np.array([True, False]), 6: np.array([0.5, -0.0])}[kind]
        shadow = i % 11 == 0
        log.record(model=None if i % 13 == 0 else "digits",
                   version=None if i % 13 == 0 else 1 + i % 2,
                   status=422 if kind == 4 else 200, latency_ms=float(rng.exponential(3)),
                   rows=len(X), outputs=outputs, inputs=X, error="bad input" if kind == 4 else None,
                   request_id=f"r{i}" if i % 3 else None, time_=1.7e9 + (start + i) * 0.01,
                   key_id="key1" if i % 2 else None, role="shadow" if shadow else None,
                   shadow_of=1 if shadow else None, agreement=0.5 if shadow else None)


def _contents(path):
    db = sqlite3.connect(path)
    try:
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    finally:
        db.close()


def _log(tmp_path, name, **kwargs):
    """A log whose thread stays asleep unless ``flush_interval`` says otherwise (the tests
    flush themselves, so batches do not depend on the machine's speed)."""
    kwargs.setdefault("flush_interval", 1e6)
    return PredictionLog(tmp_path / name / "predictions.db", random_state=1, input_fraction=0.5,
                         **kwargs)


def _wait_for_rows(path, n, timeout=30.0):
    import time

    deadline = time.monotonic() + timeout
    while True:
        db = sqlite3.connect(path)
        try:
            count = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
        except sqlite3.OperationalError:        # not created yet
            count = 0
        finally:
            db.close()
        if count >= n or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def test_the_write_process_stores_exactly_what_the_thread_stores(tmp_path, monkeypatch):
    # the same batches (a roll-up's float sums are added batch by batch: other batch sizes may
    # differ in the last bit)
    monkeypatch.setattr(PredictionLog, "PROCESS_CHUNK", PredictionLog.CHUNK)
    contents = {}
    for process in (False, True):
        log = _log(tmp_path, f"process-{process}", write_process=process)
        assert (log._tables.appender is not None) is process
        _traffic(log)
        log.flush()
        assert log.written_ == 2000
        helper = log._tables.appender
        log.close()
        if process:
            assert not helper.alive         # closing the log stops its process
        contents[process] = _contents(tmp_path / f"process-{process}" / "predictions.db")
    assert contents[True]["predictions"]
    for table in TABLES:
        assert contents[True][table] == contents[False][table], table


def test_the_writer_thread_hands_chunks_over_without_waiting_and_stores_the_same(tmp_path):
    """Left to its own thread (no flush() call), the log sends a chunk each turn and collects
    its outcome the next turn; the rows equal the thread writer's, the roll-ups count the same
    (their float sums, added chunk by chunk, may differ in the last bits), close() settles the
    last chunk."""
    contents = {}
    for process in (False, True):
        log = _log(tmp_path, f"pumped-{process}", write_process=process, flush_interval=0.02)
        try:
            for round_ in range(5):
                _traffic(log, n=400, seed=round_)
            assert _wait_for_rows(log.path, 2000) == 2000
            assert (log._tables.appender is not None) is process and log.dropped_ == 0
        finally:
            log.close()
        assert log.written_ == 2000 and log.health()["waiting"] == 0
        contents[process] = _contents(log.path)
    for table in TABLES:
        got, expected = contents[True][table], contents[False][table]
        if table in ("rollup_status", "rollup_usage"):      # the last column is a float sum
            assert [r[:-1] for r in got] == [r[:-1] for r in expected], table
            assert np.allclose([r[-1] for r in got], [r[-1] for r in expected], rtol=1e-12)
        else:
            assert got == expected, table


def test_a_write_process_dying_with_a_chunk_in_flight_loses_nothing(tmp_path):
    """The chunk it was writing is written in-process; if it had committed it just before dying
    its rows are there twice (the documented price), never missing."""
    log = _log(tmp_path, "in-flight", write_process=True)
    try:
        _traffic(log, n=300)
        log._pump()                          # sent, not settled
        assert log._in_flight is not None
        helper = log._tables.appender
        os.kill(helper.pid, signal.SIGKILL)
        helper._proc.wait(timeout=10)
        _traffic(log, n=300, seed=1, start=300)
        log.flush()
        assert log._tables.appender is None and log.dropped_ == 0
    finally:
        log.close()
    times = [r[0] for r in sqlite3.connect(log.path).execute(
        "SELECT time FROM predictions").fetchall()]
    assert len(set(times)) == 600                  # every request is there
    assert len(times) in (600, 900)                # the first 300 once or, at worst, twice
    assert log.written_ == 600


def test_records_json_cannot_carry_exactly_are_written_in_process(tmp_path):
    log = _log(tmp_path, "odd", write_process=True)
    try:
        big = 2 ** 60                        # beyond 2**53: JSON would round it
        log.record(model="digits", version=big, status=200, latency_ms=1.0, rows=1,
                   outputs=np.array(["a", None], dtype=object))
        log.record(model="digits", version=1, status=200, latency_ms=1.0, rows=2,
                   outputs=np.arange(6).reshape(2, 3)[:, 0])      # not C-contiguous
        assert log.flush() == 2
        assert log._tables.appender is not None and log._tables.appender.alive
    finally:
        log.close()
    rows = sqlite3.connect(tmp_path / "odd" / "predictions.db").execute(
        "SELECT version, outputs FROM predictions ORDER BY id").fetchall()
    assert rows == [(big, '["a",null]'), (1, "[0,3]")]


@pytest.mark.parametrize("process", [True, False], ids=["process", "thread"])
def test_an_unwritable_record_is_dropped_visibly_and_the_rest_are_kept(tmp_path, process):
    drops = []
    log = _log(tmp_path, "bad", write_process=process,
               on_drop=lambda reason, n: drops.append(reason))
    try:
        log.record(model="digits", version=1, status=200, latency_ms=1.0, rows=1, outputs=[1])
        log.record(model="digits", version=1, status=200, latency_ms=float("nan"), rows=1,
                   outputs=[2])
        log.record(model="digits", version=1, status=200, latency_ms=3.0, rows=1, outputs=[3])
        log.flush()
        assert (log._tables.appender is not None and log._tables.appender.alive) is process
    finally:
        log.close()
    assert drops == ["unwritable"] and log.drops_["unwritable"] == 1
    rows = sqlite3.connect(tmp_path / "bad" / "predictions.db").execute(
        "SELECT outputs FROM predictions ORDER BY id").fetchall()
    assert rows == [("[1]",), ("[3]",)]


def test_when_the_write_process_dies_the_log_writes_in_process_and_loses_nothing(tmp_path):
    log = _log(tmp_path, "killed", write_process=True)
    try:
        _traffic(log, n=300)
        log.flush()
        helper = log._tables.appender
        os.kill(helper.pid, signal.SIGKILL)
        helper._proc.wait(timeout=10)
        _traffic(log, n=300, seed=1)
        log.flush()
        assert log._tables.appender is None          # in-process from now on
        assert log.written_ == 600 and log.dropped_ == 0
    finally:
        log.close()
    count = sqlite3.connect(tmp_path / "killed" / "predictions.db").execute(
        "SELECT COUNT(*) FROM predictions").fetchone()[0]
    assert count == 600


def test_the_write_process_exits_when_its_parent_goes(tmp_path):
    """Its input closing (the parent exited, however) is the signal to stop."""
    log = _log(tmp_path, "orphan", write_process=True)
    helper = log._tables.appender
    helper._proc.stdin.close()          # what the kernel does when the parent dies
    assert helper._proc.wait(timeout=10) == 0
    log.close()


def _write_processes(home) -> list[int]:
    """Live write processes of the log in ``home`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            continue
        if (b"workbench.monitoring.write_process" in argv and state != "Z"
                and any(str(home).encode() in a for a in argv)):
            found.append(int(entry))
    return found


@pytest.mark.parametrize("flags", [[], ["--no-log-process"]], ids=["default", "no-log-process"])
def test_workbench_serve_logs_every_request_with_or_without_the_write_process(tmp_path, flags):
    """``workbench serve`` runs a write process beside each worker (none with
    ``--no-log-process``); every answered request is logged either way, and stopping the server
    (SIGTERM to its process group, as Ctrl-C or ``Endpoint.stop`` do) stops the child too."""
    import subprocess
    import sys
    import time

    import httpx

    from workbench import LogisticRegression, load_dataset
    from workbench.registry import Registry
    from workbench.serving.endpoint import free_port

    iris = load_dataset("iris")
    with Registry(tmp_path) as reg:
        reg.register("iris", LogisticRegression(epochs=5, random_state=0).fit(iris.X, iris.y))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "workbench.serving.server", "--home",
                               str(tmp_path), "--port", str(port), "--no-auth",
                               "--log-level", "warning", *flags], start_new_session=True)
    helpers = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        body = {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64",
                            "data": iris.X[:2].ravel().tolist()}]}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(50):
                assert client.post("/v2/models/iris/infer", json=body).status_code == 200
        helpers = _write_processes(tmp_path)
        assert len(helpers) == (0 if flags else 1), helpers
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert _write_processes(tmp_path) == []
    count = sqlite3.connect(tmp_path / "predictions.db").execute(
        "SELECT COUNT(*), SUM(rows) FROM predictions WHERE status = 200").fetchone()
    assert count == (50, 100)
