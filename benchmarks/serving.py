"""Benchmark the inference service against a bare Starlette + uvicorn endpoint, with ``wrk``.

Both servers answer single-row v2 JSON requests with the same numpy forward pass of the same
registered model (digits, MLP 64-128-10), each as one uvicorn process with the same settings
(uvloop + httptools, no access log, no proxy-headers middleware, BLAS on one thread). The
workbench service runs with everything on: API-key auth, v2 validation, the prediction log and
Prometheus metrics. The bare endpoint does only orjson → numpy → forward →
argmax → orjson. Load comes from ``wrk`` (Debian package ``wrk``; a Lua script POSTs the body),
**unpinned**, as a user would measure, at concurrency 1, 8 and 64.

A third server, ``workbench serve --no-log-process``, writes the prediction log from a thread of
the worker instead of its helper process (the setting before issue 12's third round), for
comparison; the targets apply to the default.

Each (server, concurrency) is measured ``--repeat`` times, interleaving the two servers so that
load from elsewhere on the machine hits both alike; the medians are reported. The resident
memory (RSS) of each server process is read from ``/proc`` after the runs.

Usage::

    .venv/bin/python benchmarks/serving.py [--suite baseline|batching|ray|payload|all]
                                           [--seconds 10] [--repeat 3] [--home DIR]

Writes ``<home>/benchmarks/serving.json`` and prints a table. Targets: workbench ≥ 80 % of the
bare endpoint's requests/s at concurrency 8 and 64, p99 at 64 ≤ 1.5× bare, RSS ≤ 100 MB for one
worker with one model. The ``batching`` and ``ray`` suites are in ``serving_scale.py``; the
``payload`` suite (a 256×784 FP32 batch over JSON, REST binary and gRPC; target binary ≥ 3× JSON
requests/s) in ``serving_payload.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "digits"
N_FEATURES = 64
CONCURRENCY = (1, 8, 64)


# -- the bare endpoint ------------------------------------------------------------------------
def bare_app(home: str):
    """Starlette app doing only: orjson → numpy → forward → argmax → orjson."""
    import orjson
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from workbench.models.forward import build_forward
    from workbench.registry import Registry

    with Registry(home) as reg:
        model = build_forward(*reg.load_spec(MODEL))
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
    """Serve :func:`bare_app` as ``workbench serve`` serves: the same uvicorn settings (uvloop,
    httptools, no access log, no server header, no proxy-headers middleware) and the same
    process tuning (BLAS on one thread), so the ratio measures the workbench's own work only."""
    import uvicorn
    from threadpoolctl import threadpool_limits

    # as workbench.serving.app.tune_worker_process does (not imported: FastAPI would add RSS)
    threadpool_limits(limits=1, user_api="blas")
    uvicorn.run(bare_app(home), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, server_header=False, proxy_headers=False)


# -- the load generator: wrk ------------------------------------------------------------------
#: wrk script: POST the body with the headers, and print a JSON summary at the end
_LUA = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
%(auth)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "socket_errors": %%d, "status_errors": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def request_body(n_features: int = N_FEATURES) -> bytes:
    """One single-row v2 request: the first digits image (what every server is sent)."""
    row = np.random.default_rng(0).integers(0, 17, size=n_features).astype(float).tolist()
    return json.dumps({"inputs": [{"name": "input-0", "shape": [1, n_features],
                                   "datatype": "FP32", "data": row}]}).encode()


def wrk_script(folder: Path, key: str | None, n_features: int = N_FEATURES) -> Path:
    """Write the wrk Lua script (body, headers, JSON summary) and return its path."""
    path = folder / f"post-{n_features}-{'key' if key else 'open'}.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    path.write_text(_LUA % {"body": request_body(n_features).decode(), "auth": auth})
    return path


def run_wrk(port: int, path: str, script: Path, concurrency: int, seconds: float,
            threads: int = 2) -> dict:
    """Load one server with ``wrk`` (unpinned); return requests/s and latency percentiles."""
    command = ["wrk", "-t", str(max(1, min(threads, concurrency))), "-c", str(concurrency),
               "-d", f"{seconds:g}s", "--timeout", "10s", "-s", str(script),
               f"http://127.0.0.1:{port}{path}"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    summary = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    duration = summary["duration_us"] / 1e6
    return {"concurrency": concurrency, "requests": summary["requests"],
            "errors": summary["socket_errors"] + summary["status_errors"],
            "requests_per_s": summary["requests"] / duration if duration else 0.0,
            "p50_ms": summary["p50_us"] / 1000, "p90_ms": summary["p90_us"] / 1000,
            "p99_ms": summary["p99_us"] / 1000, "max_ms": summary["max_us"] / 1000}


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (from /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


# -- orchestration ----------------------------------------------------------------------------
def _start(command, log, env=None):
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env)


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
    """Register the digits MLP (64-128-10) in a scratch home; return a predictor key."""
    from serving_scale import prepare

    return prepare(scratch)


def _median(runs: list[dict]) -> dict:
    """Median of repeated runs (requests/s and latencies), with every run's requests/s."""
    out = dict(runs[0])
    for key in ("requests_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms"):
        out[key] = float(np.median([r[key] for r in runs]))
    out["requests"] = sum(r["requests"] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    out["runs_requests_per_s"] = [round(r["requests_per_s"], 1) for r in runs]
    return out


def compare(scratch: Path, targets: dict, keys: dict, cases, *, seconds: float, repeat: int,
            warmup: float, threads: int = 2, ready_timeout: float = 60, stop=None) -> dict:
    """Start every target server, then for each ``(model, features, concurrency)`` run wrk
    ``repeat`` times per target, interleaved; return ``{target: [median result, ...]}`` and
    each server's RSS (MB) after the runs under ``"rss_mb"``."""
    from workbench.serving.endpoint import free_port

    procs, ports, logs, scripts = {}, {}, [], {}
    results = {t: [] for t in targets}
    rss = {}
    try:
        for target, command in targets.items():
            ports[target] = free_port()
            logs.append(open(scratch / f"{target.replace(' ', '-')}.log", "wb"))
            found = command(ports[target])      # a command, or (command, extra environment)
            command, env = found if isinstance(found, tuple) else (found, None)
            procs[target] = _start(command, logs[-1],
                                   None if env is None else {**os.environ, **env})
            # one at a time: two local Ray clusters starting at once on a small machine can
            # time out (the raylet waits for its agents); a ready server only idles meanwhile
            try:
                _wait_ready(ports[target], procs[target], timeout=ready_timeout)
            except (RuntimeError, TimeoutError) as exc:
                logs[-1].flush()
                tail = Path(logs[-1].name).read_text(errors="replace").splitlines()[-15:]
                raise RuntimeError(f"{target}: {exc}; the end of its log:\n"
                                   + "\n".join(tail)) from None
        for model, features, c in cases:
            path = f"/v2/models/{model}/infer"
            for target in targets:
                scripts[target] = wrk_script(scratch, keys.get(target), features)
                if warmup:
                    run_wrk(ports[target], path, scripts[target], c, warmup, threads)
            runs = {t: [] for t in targets}
            for _ in range(repeat):          # interleaved, so drifting load hits both alike
                for target in targets:
                    runs[target].append(run_wrk(ports[target], path, scripts[target], c,
                                                seconds, threads))
            for target, found in runs.items():
                results[target].append({"model": model, **_median(found)})
        for target, proc in procs.items():
            rss[target] = round(rss_mb(proc.pid), 1)
    finally:
        for proc in procs.values():
            (stop or _stop)(proc)
        for log in logs:
            log.close()
    return {"results": results, "rss_mb": rss}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", help="where benchmarks/serving.json goes (default: the "
                                       "workbench home); the model lives in a scratch home")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="unmeasured seconds per server and concurrency")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per server and concurrency, interleaved; medians reported")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (at most c)")
    parser.add_argument("--bare-server", nargs=2, metavar=("HOME", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--suite", choices=["baseline", "batching", "ray", "payload", "all"],
                        default="baseline",
                        help="baseline: workbench vs bare endpoint (default); batching: on/off "
                             "at concurrency 64 (digits and a 784-1024-1024-10 MLP); ray: Ray "
                             "Serve 2 replicas vs uvicorn 2 workers; payload: a 256x784 FP32 "
                             "batch over JSON, REST binary and gRPC; all: the four")
    parser.add_argument("--ray-throughput-optimized", action="store_true",
                        help="ray suite: also run Ray with RAY_SERVE_THROUGHPUT_OPTIMIZED=1")
    args = parser.parse_args(argv)
    if args.bare_server:
        run_bare(args.bare_server[0], int(args.bare_server[1]))
        return 0
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: `apt-get install wrk` (or `make bench`)")
    report = {}
    if args.suite in ("baseline", "all"):
        report = baseline(args)
    if args.suite in ("payload", "all"):
        import serving_payload

        report["payload"] = serving_payload.run(args, sys.modules[__name__])
    if args.suite in ("batching", "ray", "all"):
        import serving_scale

        report = serving_scale.run(args, report, sys.modules[__name__])
    return 0


def baseline(args) -> dict:
    """Workbench against the bare endpoint at concurrency 1, 8, 64."""
    from workbench.home import resolve_home

    out_dir = resolve_home(args.home) / "benchmarks"
    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    try:
        key = _prepare(scratch)
        targets = {
            "bare": lambda port: [sys.executable, __file__, "--bare-server", str(scratch),
                                  str(port)],
            "workbench": lambda port: [sys.executable, "-m", "workbench.serving.server",
                                       "--home", str(scratch), "--port", str(port),
                                       "--log-level", "warning"],
            # the prediction log written from a thread of the worker, as before issue 12's fix
            "workbench --no-log-process": lambda port: [
                sys.executable, "-m", "workbench.serving.server", "--home", str(scratch),
                "--port", str(port), "--log-level", "warning", "--no-log-process"],
        }
        found = compare(scratch, targets, {"workbench": key, "workbench --no-log-process": key},
                        [(MODEL, N_FEATURES, c) for c in CONCURRENCY], seconds=args.seconds,
                        repeat=args.repeat, warmup=args.warmup, threads=args.threads)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results = found["results"]
    by_c = {t: {r["concurrency"]: r for r in rows} for t, rows in results.items()}
    ratio = {c: by_c["workbench"][c]["requests_per_s"] / by_c["bare"][c]["requests_per_s"]
             for c in CONCURRENCY if by_c["bare"][c]["requests_per_s"]}
    p99_ratio = by_c["workbench"][64]["p99_ms"] / by_c["bare"][64]["p99_ms"]
    process = "workbench --no-log-process"
    ratio_process = {c: by_c[process][c]["requests_per_s"] / by_c["bare"][c]["requests_per_s"]
                     for c in CONCURRENCY if by_c["bare"][c]["requests_per_s"]}
    p99_ratio_process = by_c[process][64]["p99_ms"] / by_c["bare"][64]["p99_ms"]
    report = {"model": "digits MLPClassifier(hidden_layer_sizes=(128,)) 64-128-10, single-row "
                       "v2 JSON requests",
              "load": f"wrk -t{args.threads} (at most c), unpinned",
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "loadavg_at_start": os.getloadavg()},
              "seconds": args.seconds, "repeat": args.repeat, "results": results,
              "rss_mb": found["rss_mb"], "ratio": ratio, "p99_ratio_at_64": p99_ratio,
              "ratio_no_log_process": ratio_process,
              "p99_ratio_at_64_no_log_process": p99_ratio_process,
              "targets": {"ratio_at_8_and_64": 0.80, "p99_ratio_at_64": 1.5,
                          "workbench_rss_mb": 100},
              "time": time.time()}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "serving.json").write_text(json.dumps(report, indent=2))
    print("| server | c | req/s | p50 ms | p99 ms | errors | RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for target, rows in results.items():
        for r in rows:
            print(f"| {target} | {r['concurrency']} | {r['requests_per_s']:,.0f} | "
                  f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | "
                  f"{found['rss_mb'][target]} |")
    for name, ratios, p99 in (("ratio", ratio, p99_ratio),
                              ("ratio --no-log-process", ratio_process, p99_ratio_process)):
        print(f"| {name} | " + " / ".join(f"c={c}: {v:.2f}" for c, v in ratios.items())
              + f" | p99 c=64: {p99:.2f}x | | | |")
    print("targets: ratio ≥ 0.80 at c=8 and c=64, p99 at c=64 ≤ 1.5x bare, workbench RSS ≤ 100 MB")
    print(f"written to {out_dir / 'serving.json'}")
    return report


if __name__ == "__main__":
    sys.exit(main())
