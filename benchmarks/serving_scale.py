"""Scale suites of ``benchmarks/serving.py``: adaptive batching on/off, and Ray Serve against
uvicorn.

``batching``
    Single-row v2 requests at concurrency 64 to the digits MLP (64-128-10) and to a wide MLP
    (784-1024-1024-10, synthetic inputs), each served by one uvicorn worker with batching off and
    with ``--batch-max-rows 64 --batch-max-delay-ms 2``. Target: ≥ 2× requests/s with batching on the wide model.
``ray``
    The digits MLP behind ``--backend ray --replicas 2`` against ``--workers 2`` (uvicorn), at
    concurrency 8 and 64. Target: ≥ 1,000 req/s for 2 replicas on a 2-core machine.

Load comes from ``wrk``, unpinned; runs of the compared servers are interleaved and the medians
reported, as in the baseline.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BATCH_FLAGS = ["--batch-max-rows", "64", "--batch-max-delay-ms", "2"]
#: Ray Serve's throughput-optimised settings ("Enable high throughput" in Serve's docs): user code
#: on the replica's event loop, gRPC between proxy and replicas, buffered request logs, direct
#: ingress, GC frozen after start. Read by every Ray process from the environment.
THROUGHPUT_OPTIMIZED = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}


def prepare(scratch: Path, wide: bool = False) -> str:
    """Register ``digits`` (64-128-10) and, with ``wide``, ``wide`` (784-1024-1024-10); return a
    predictor key."""
    from workbench.data import load_dataset
    from workbench.models import MLPClassifier
    from workbench.registry import Registry
    from workbench.serving.keys import KeyStore

    digits = load_dataset("digits")
    rng = np.random.default_rng(0)
    Xw = rng.normal(size=(256, 784)).astype(np.float32)
    yw = rng.integers(0, 10, size=256)
    with Registry(scratch) as reg:
        reg.register("digits", MLPClassifier((128,), epochs=5, random_state=0)
                     .fit(digits.X, digits.y))
        if wide:
            reg.register("wide", MLPClassifier((1024, 1024), epochs=1, random_state=0)
                         .fit(Xw, yw))
    store = KeyStore(scratch)
    key = store.create("bench-scale", "predictor")
    store.close()
    return key


def _server(scratch, port, *extra):
    return [sys.executable, "-m", "workbench.serving.server", "--home", str(scratch), "--port",
            str(port), "--log-level", "warning", *extra]


def _compare(bench, args, scratch, targets, key, cases, *, ready_timeout=60):
    """Start every target, then for each (model, features, concurrency) run wrk on each target
    ``args.repeat`` times, interleaved (see ``serving.compare``)."""
    return bench.compare(scratch, targets, {t: key for t in targets}, cases,
                         seconds=args.seconds, repeat=args.repeat, warmup=args.warmup,
                         threads=args.threads, ready_timeout=ready_timeout,
                         stop=lambda proc: _stop_gracefully(bench, proc))


def _stop_gracefully(bench, proc):
    """SIGTERM to the server alone first (the ray backend then shuts Ray down), then its group."""
    import signal

    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    bench._stop(proc)


def batching(bench, args, scratch: Path, key: str) -> dict:
    targets = {"batching off": lambda port: _server(scratch, port),
               "batching on": lambda port: _server(scratch, port, *BATCH_FLAGS)}
    cases = [("digits", 64, 64), ("wide", 784, 64)]
    found = _compare(bench, args, scratch, targets, key, cases)
    results = found["results"]
    ratios = {}
    for i, (model, _, _) in enumerate(cases):
        off, on = results["batching off"][i], results["batching on"][i]
        ratios[model] = on["requests_per_s"] / off["requests_per_s"] if off["requests_per_s"] else None
    return {"results": results, "speedup": ratios, "target_speedup_wide": 2.0,
            "flags": BATCH_FLAGS, "rss_mb": found["rss_mb"]}


def ray(bench, args, scratch: Path, key: str) -> dict:
    ray2 = ["--backend", "ray", "--replicas", "2"]
    targets = {"uvicorn 2 workers": lambda port: _server(scratch, port, "--workers", "2"),
               "ray 2 replicas": lambda port: _server(scratch, port, *ray2)}
    if args.ray_throughput_optimized:      # Serve's documented fast mode, as a third server
        targets["ray 2 replicas, RAY_SERVE_THROUGHPUT_OPTIMIZED=1"] = lambda port: (
            _server(scratch, port, *ray2), THROUGHPUT_OPTIMIZED)
    cases = [("digits", 64, 8), ("digits", 64, 64)]
    return _compare(bench, args, scratch, targets, key, cases, ready_timeout=240)


def run(args, report: dict, bench) -> dict:
    """Run the ``batching`` and/or ``ray`` suites, print tables, merge into serving.json."""
    from workbench.home import resolve_home

    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-scale-"))
    try:
        key = prepare(scratch, wide=args.suite in ("batching", "all"))
        if args.suite in ("batching", "all"):
            report["batching"] = batching(bench, args, scratch, key)
        if args.suite in ("ray", "all"):
            report["ray"] = ray(bench, args, scratch, key)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out = resolve_home(args.home) / "benchmarks" / "serving.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(out.read_text()) if out.exists() and args.suite != "all" else {}
    merged = {**old, **report, "time": time.time()}
    out.write_text(json.dumps(merged, indent=2))
    for suite in ("batching", "ray"):
        if suite not in report:
            continue
        print(f"\n{suite}:")
        print("| server | model | concurrency | req/s | p50 ms | p99 ms | errors |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for target, rows in report[suite]["results"].items():
            for r in rows:
                print(f"| {target} | {r['model']} | {r['concurrency']} | "
                      f"{r['requests_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                      f"{r['errors']} |")
        if suite == "batching":
            for model, ratio in report[suite]["speedup"].items():
                print(f"batching speed-up on {model}: {ratio:.2f}x"
                      + (" (target ≥ 2x)" if model == "wide" else ""))
    print(f"written to {out}")
    return report
