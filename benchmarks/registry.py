"""Registry latency: register and load the digits MLP, and list 1,000 versions.

Usage::

    python benchmarks/registry.py [--home HOME] [--repeats 50] [--n-list 1000]
                                  [--store postgresql | --store postgresql://user@host/db]

The measurements run in a scratch registry (a temporary folder, removed afterwards; with
``--store``, its metadata in that PostgreSQL database under a fresh model name); only the
results are written, as JSON, to ``<home>/benchmarks/registry.json`` (``registry-postgresql.json``
with a PostgreSQL store; home: ``--home``, else ``$WORKBENCH_HOME``, else the checkout's
``artifacts/``). Target: each median under 50 ms.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import STORE_HELP, store_url

from workbench.data import load_dataset, split
from workbench.home import resolve_home
from workbench.models import MLPClassifier
from workbench.registry import Registry

TARGET_MS = 50.0


def _timed(fn, repeats: int) -> list[float]:
    """Return the wall time of ``repeats`` calls of ``fn`` in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def _summary(times: list[float]) -> dict:
    arr = np.asarray(times)
    return {"median_ms": float(np.median(arr)), "p90_ms": float(np.percentile(arr, 90)),
            "min_ms": float(arr.min()), "n": int(arr.size),
            "under_target": bool(np.median(arr) < TARGET_MS)}


def run(repeats: int = 50, n_list: int = 1000, scratch: Path | None = None,
        store: str | None = None) -> dict:
    """Measure and return the results dict (see the module docstring)."""
    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = split(data.X / 16.0, data.y, random_state=0)
    model = MLPClassifier(hidden_layer_sizes=(100,), epochs=10, random_state=0).fit(X_train, y_train)
    metrics = {"accuracy": float(model.score(X_test, y_test))}
    reg = Registry(scratch, store=store)
    name = "digits-mlp" if store is None else f"digits-mlp-{int(time.time())}"
    register_ms = _timed(lambda: reg.register(name, model, metrics=metrics,
                                              params={"hidden_layer_sizes": [100]}), repeats)
    versions = [v.version for v in reg.versions(name)]
    rng = np.random.default_rng(0)
    picks = iter(rng.choice(versions, size=repeats))
    load_ms = _timed(lambda: reg.load(name, int(next(picks))), repeats)
    for _ in range(n_list - len(versions)):
        reg.register(name, model, metrics=metrics)
    listed = []
    list_ms = _timed(lambda: listed.append(len(reg.versions(name))), max(10, repeats // 5))
    blob_bytes = reg.get_version(name, 1).size_bytes
    reg.close()
    spec, arrays = model.to_spec()
    return {
        "benchmark": "registry",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "model": {"class": "MLPClassifier", "hidden_layer_sizes": [100], "n_features": 64,
                  "n_parameters": int(sum(a.size for a in arrays.values())),
                  "blob_bytes": int(blob_bytes)},
        "store": "postgresql" if store else "sqlite",
        "target_ms": TARGET_MS,
        "register": _summary(register_ms),
        "load": _summary(load_ms),
        f"list_{n_list}_versions": {**_summary(list_ms), "versions_listed": listed[-1]},
    }


def print_table(results: dict) -> None:
    """Print the medians as a small table."""
    print(f"{'measure':<24}{'median ms':>11}{'p90 ms':>10}{'n':>6}  < {results['target_ms']:.0f} ms")
    for key in [k for k in results if k in ("register", "load") or k.startswith("list_")]:
        r = results[key]
        print(f"{key:<24}{r['median_ms']:>11.2f}{r['p90_ms']:>10.2f}{r['n']:>6}  "
              f"{'yes' if r['under_target'] else 'NO'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", default=None, help="where benchmarks/registry.json is written")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per measure")
    parser.add_argument("--n-list", type=int, default=1000, help="versions to list")
    parser.add_argument("--store", default=None, help=STORE_HELP)
    args = parser.parse_args(argv)
    home = resolve_home(args.home)
    scratch = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    try:
        with store_url(args.store) as url:
            results = run(args.repeats, args.n_list, scratch, url)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out = home / "benchmarks" / ("registry.json" if results["store"] == "sqlite"
                                 else "registry-postgresql.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print_table(results)
    print(f"written to {out}")
    return 0 if all(results[k]["under_target"] for k in results
                    if isinstance(results[k], dict) and "under_target" in results[k]) else 1


if __name__ == "__main__":
    sys.exit(main())
