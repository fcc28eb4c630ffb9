"""Write the SQL dumps of a home made by the previous release (the schema before schema versions).

Run once from a checkout of that release (commit a89e09c, before ``workbench/store/``):

    python tests/data/previous_release/make_dump.py tests/data/previous_release

It fills a temporary home through the public API only (registry, keys, prediction log, alerts)
and writes ``registry.sql``, ``predictions.sql`` (``sqlite3`` ``iterdump`` text) and the
``blobs/`` the registry rows point at. ``tests/test_store_migrations.py`` rebuilds a home from
them and opens it with the current code.
"""
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.registry_fakes import FakeModel
from workbench.monitoring import Monitor, PredictionLog
from workbench.monitoring.alerts import latency_above
from workbench.registry import Registry
from workbench.serving.keys import KeyStore

NOW = 1_700_000_000.0


def main(out):
    out = Path(out)
    home = Path(tempfile.mkdtemp())
    reg = Registry(home, author="alice")
    for seed in range(3):
        reg.register("m", FakeModel(seed), metrics={"rmse": 1.0 + seed}, tags={"seed": seed},
                     reference=np.random.default_rng(seed).normal(size=(50, 4)))
    reg.register("other", FakeModel(7), description="second model")
    reg.set_alias("m", "production", 1)
    reg.set_alias("m", "production", 2)
    reg.set_split("m", "production", {2: 0.9, 3: 0.1})
    reg.set_shadow("m", "production", 1)
    reg.set_alias("other", "staging", 1)
    reg.register("m", FakeModel(9))
    reg.archive("m", 4)
    reg.close()
    keys = KeyStore(home)
    keys.create("ci", "predictor")
    keys.create("old", "admin")
    keys.revoke("old")
    keys.close()
    with PredictionLog(home / "predictions.db", input_fraction=1.0, random_state=0) as log:
        for i in range(20):
            log.record(model="m", version=2 if i % 5 else 3, status=200 if i % 7 else 422,
                       latency_ms=1.0 + i, rows=1, outputs=[float(i)], inputs=[[0.1 * i] * 4],
                       request_id=f"r{i}", time_=NOW + i)
        log.record(model="m", version=1, status=200, latency_ms=2.0, rows=1, outputs=[1.0],
                   role="shadow", shadow_of=2, agreement=1.0, time_=NOW + 3)
    mon = Monitor(home, rules=[latency_above(5)])
    mon.snapshot(window=60, now=NOW + 20)
    mon.close()
    out.mkdir(parents=True, exist_ok=True)
    for name in ("registry", "predictions"):
        conn = sqlite3.connect(home / f"{name}.db")
        (out / f"{name}.sql").write_text("\n".join(conn.iterdump()) + "\n")
        conn.close()
    shutil.rmtree(out / "blobs", ignore_errors=True)
    shutil.copytree(home / "blobs", out / "blobs")
    shutil.rmtree(home)


if __name__ == "__main__":
    main(sys.argv[1])
