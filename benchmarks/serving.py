"""Benchmark the inference service against a bare Starlette + uvicorn endpoint.

Both servers run the same numpy forward pass of the same registered model, each as a uvicorn
process with one worker (uvloop + httptools, no access log). The workbench service runs with
everything on: API-key auth, v2 validation, the prediction log and Prometheus metrics. A load
generator in a separate process (raw asyncio HTTP/1.1 keep-alive connections, so it is cheap
and does not starve the server) sends single-row v2 requests at concurrency 1, 8 and 64.
On machines with two or more CPUs the server and the load generator are pinned to different
CPUs.

Each (server, concurrency) is measured ``--repeat`` times, interleaving the two servers so
that load from elsewhere on the machine hits both alike; the medians are reported.

Usage::

    .venv/bin/python benchmarks/serving.py [--home DIR] [--seconds 5] [--repeat 3]
                                           [--suite baseline|batching|ray|all]

Writes ``<home>/benchmarks/serving.json`` and prints a table. Target: workbench requests/s at
concurrency 8 ≥ 70 % of the bare endpoint's. The ``batching`` and ``ray`` suites are in
``serving_scale.py``: adaptive batching on/off at concurrency 64 (target ≥ 2× requests/s on the
wide MLP) and Ray Serve with 2 replicas against uvicorn with 2 workers.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "bench"
N_FEATURES = 16
CONCURRENCY = (1, 8, 64)


# -- the bare endpoint ------------------------------------------------------------------------
def bare_app(home: str):
    """Starlette app doing only: orjson → numpy → forward → argmax → orjson."""
    import orjson
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from workbench.registry import Registry

    with Registry(home) as reg:
        model = reg.load(MODEL)
    classes = np.asarray(model.classes_)

    async def infer(request):
        payload = orjson.loads(await request.body())
        tensor = payload["inputs"][0]
        X = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        proba = model.forward(X)
        labels = classes[proba.argmax(axis=1)]
        return Response(orjson.dumps({
            "model_name": MODEL, "model_version": "1",
            "outputs": [{"name": "label", "datatype": "INT64", "shape": [len(X)], "data": labels},
                        {"name": "probabilities", "datatype": "FP32", "shape": list(proba.shape),
                         "data": proba.ravel()}]}, option=orjson.OPT_SERIALIZE_NUMPY),
            media_type="application/json")

    async def ready(request):
        return Response(b'{"ready": true}', media_type="application/json")

    return Starlette(routes=[Route("/v2/models/{name}/infer", infer, methods=["POST"]),
                             Route("/v2/health/ready", ready)])


def run_bare(home: str, port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(home), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, server_header=False)


# -- the load generator -----------------------------------------------------------------------
async def _worker(port, request, stop_at, warm_until, latencies, errors):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            start = time.perf_counter()
            if start >= stop_at:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            end = time.perf_counter()
            if start >= warm_until:
                if head[9:12] != b"200":
                    errors.append(head[9:12].decode())
                latencies.append(end - start)
    finally:
        writer.close()


async def _load(port, request, concurrency, seconds, warmup):
    now = time.perf_counter()
    latencies, errors = [], []
    await asyncio.gather(*[_worker(port, request, now + warmup + seconds, now + warmup, latencies,
                                   errors) for _ in range(concurrency)])
    return latencies, errors


def run_load(port: int, path: str, key: str | None, concurrency: int, seconds: float,
             warmup: float, n_features: int = N_FEATURES) -> dict:
    """Load one server; return requests/s and latency percentiles (ms)."""
    try:
        import uvloop
        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    row = np.random.default_rng(0).normal(size=n_features).round(4).tolist()
    body = json.dumps({"inputs": [{"name": "input-0", "shape": [1, n_features],
                                   "datatype": "FP32", "data": row}]}).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n")
    if key:
        head += f"Authorization: Bearer {key}\r\n"
    request = (head + "\r\n").encode() + body
    latencies, errors = asyncio.run(_load(port, request, concurrency, seconds, warmup))
    lat = np.asarray(latencies) * 1000
    return {"concurrency": concurrency, "requests": len(lat), "errors": len(errors),
            "requests_per_s": len(lat) / seconds,
            "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
            "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None}


# -- orchestration ----------------------------------------------------------------------------
def _cpus():
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return None, None
    return (cpus[:1], cpus[1:]) if len(cpus) >= 2 else (None, None)


def _start(command, cpus, log):
    def pin():
        if cpus:
            os.sched_setaffinity(0, cpus)
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=pin)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_ready(port, proc, timeout=60):
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("server not ready")


def _prepare(scratch: Path) -> str:
    """Register a small MLP classifier in a scratch home; return a predictor key."""
    from workbench.models import MLPClassifier
    from workbench.registry import Registry
    from workbench.serving.keys import KeyStore

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, N_FEATURES)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(int) + (X[:, 3] > 1)
    model = MLPClassifier(hidden_layer_sizes=(64, 32), epochs=3, random_state=0).fit(X, y)
    with Registry(scratch) as reg:
        reg.register(MODEL, model)
    store = KeyStore(scratch)
    key = store.create("bench", "predictor")
    store.close()
    return key


def _median(runs: list[dict]) -> dict:
    """Median of repeated runs (requests/s and latencies), with every run's requests/s."""
    out = dict(runs[0])
    for key in ("requests_per_s", "p50_ms", "p99_ms"):
        out[key] = float(np.median([r[key] for r in runs]))
    out["requests"] = sum(r["requests"] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    out["runs_requests_per_s"] = [round(r["requests_per_s"], 1) for r in runs]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", help="where benchmarks/serving.json goes (default: the "
                                       "workbench home); the model lives in a scratch home")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per run")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per server and concurrency, interleaved; medians reported")
    parser.add_argument("--bare-server", nargs=2, metavar=("HOME", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--suite", choices=["baseline", "batching", "ray", "all"], default="all",
                        help="baseline: workbench vs bare endpoint; batching: on/off at "
                             "concurrency 64 (digits and a 784-1024-1024-10 MLP); ray: Ray Serve "
                             "2 replicas vs uvicorn 2 workers (default: all)")
    parser.add_argument("--load", nargs=5, metavar=("PORT", "PATH", "KEY", "C", "S"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--features", type=int, default=N_FEATURES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        run_bare(args.bare_server[0], int(args.bare_server[1]))
        return 0
    if args.load:
        port, path, key, c, s = args.load
        print(json.dumps(run_load(int(port), path, None if key == "-" else key, int(c), float(s),
                                  args.warmup, args.features)))
        return 0
    report = {}
    if args.suite in ("baseline", "all"):
        report = baseline(args)
    if args.suite != "baseline":
        import serving_scale

        report = serving_scale.run(args, report, sys.modules[__name__])
    return 0


def baseline(args) -> dict:
    """Workbench against the bare endpoint at concurrency 1, 8, 64 (the original benchmark)."""
    from workbench.home import resolve_home
    from workbench.serving.endpoint import free_port

    out_dir = resolve_home(args.home) / "benchmarks"
    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    key = _prepare(scratch)
    server_cpus, load_cpus = _cpus()
    path = f"/v2/models/{MODEL}/infer"
    targets = {
        "bare": lambda port: [sys.executable, __file__, "--bare-server", str(scratch), str(port)],
        "workbench": lambda port: [sys.executable, "-m", "workbench.serving.server", "--home",
                                   str(scratch), "--port", str(port), "--log-level", "warning"],
    }
    procs, ports, logs = {}, {}, []
    results = {target: [] for target in targets}
    try:
        for target, command in targets.items():
            ports[target] = free_port()
            logs.append(open(scratch / f"{target}.log", "wb"))
            procs[target] = _start(command(ports[target]), server_cpus, logs[-1])
        for target in targets:
            _wait_ready(ports[target], procs[target])
        for c in CONCURRENCY:
            runs = {target: [] for target in targets}
            for _ in range(args.repeat):          # interleaved, so drifting load hits both
                for target in targets:
                    load = subprocess.run(
                        [sys.executable, __file__, "--warmup", str(args.warmup), "--load",
                         str(ports[target]), path, key if target == "workbench" else "-", str(c),
                         str(args.seconds)], capture_output=True, text=True, check=True,
                        preexec_fn=(lambda: os.sched_setaffinity(0, load_cpus)) if load_cpus
                        else None)
                    runs[target].append(json.loads(load.stdout))
            for target, found in runs.items():
                results[target].append(_median(found))
    finally:
        for proc in procs.values():
            _stop(proc)
        for log in logs:
            log.close()
    bare8 = next(r for r in results["bare"] if r["concurrency"] == 8)["requests_per_s"]
    wb8 = next(r for r in results["workbench"] if r["concurrency"] == 8)["requests_per_s"]
    report = {"model": f"MLPClassifier(hidden_layer_sizes=(64, 32)), {N_FEATURES} features, "
                       f"single-row v2 requests",
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "pinned": server_cpus is not None},
              "seconds": args.seconds, "repeat": args.repeat, "results": results,
              "ratio_at_8": wb8 / bare8 if bare8 else None, "target_ratio_at_8": 0.70,
              "time": time.time()}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "serving.json").write_text(json.dumps(report, indent=2))
    print(f"{'server':<11}{'conc.':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for target, rows in results.items():
        for r in rows:
            print(f"{target:<11}{r['concurrency']:>6}{r['requests_per_s']:>10.0f}"
                  f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['errors']:>8}")
    print(f"workbench / bare at concurrency 8: {report['ratio_at_8']:.0%} (target ≥ 70 %)")
    print(f"written to {out_dir / 'serving.json'}")
    return report


if __name__ == "__main__":
    sys.exit(main())
