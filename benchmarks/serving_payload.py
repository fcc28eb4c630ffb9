"""Payload suite of ``benchmarks/serving.py``: one large batch over three wires.

A 256×784 FP32 batch (a page of MNIST-sized rows) is sent to the same ``workbench serve``
process (auth, validation, prediction log and metrics on) as

* ``json``   — a v2 JSON body (``data`` a flat list of numbers), JSON answer;
* ``binary`` — the REST binary tensor extension both ways (``Inference-Header-Content-Length``,
  ``binary_data_size``, ``binary_data_output``);
* ``grpc``   — ``ModelInfer`` with ``raw_input_contents`` on the ``--grpc-port``.

The load generator (raw asyncio HTTP/1.1 keep-alive connections, or a grpc.aio channel) runs in
its own process, unpinned like ``wrk`` in the other suites, with a fixed number of concurrent
requests; requests/s and p50/p99 latency are printed side by side
and merged into ``<home>/benchmarks/serving.json`` under ``payload``. Target: binary ≥ 3× the
requests/s of JSON.

Usage::

    .venv/bin/python benchmarks/serving.py --suite payload [--seconds 5] [--repeat 3]
"""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODEL, ROWS, FEATURES, CONCURRENCY = "pages", 256, 784, 4
WIRES = ("json", "binary", "grpc")


def prepare(scratch: Path) -> str:
    """Register a 784-64-10 MLP classifier in ``scratch``; return a predictor key."""
    from workbench.models import MLPClassifier
    from workbench.registry import Registry
    from workbench.serving.keys import KeyStore

    rng = np.random.default_rng(0)
    X = rng.random((500, FEATURES), dtype=np.float32)
    y = (X[:, :392].sum(axis=1) > X[:, 392:].sum(axis=1)).astype(int) + 2 * (X[:, 0] > 0.9)
    model = MLPClassifier(hidden_layer_sizes=(64,), epochs=2, random_state=0).fit(X, y)
    with Registry(scratch) as reg:
        reg.register(MODEL, model)
    store = KeyStore(scratch)
    key = store.create("payload-bench", "predictor")
    store.close()
    return key


def _batch() -> np.ndarray:
    return np.random.default_rng(1).random((ROWS, FEATURES), dtype=np.float32)


def _http_request(wire: str, port: int, key: str) -> bytes:
    import orjson

    X = _batch()
    tensor = {"name": "input-0", "shape": [ROWS, FEATURES], "datatype": "FP32"}
    extra = ""
    if wire == "json":
        body = orjson.dumps({"inputs": [{**tensor, "data": X.ravel()}]},
                            option=orjson.OPT_SERIALIZE_NUMPY)
        content_type = "application/json"
    else:
        raw = X.tobytes()
        header = orjson.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}],
                               "parameters": {"binary_data_output": True}})
        body = header + raw
        content_type = "application/octet-stream"
        extra = f"Inference-Header-Content-Length: {len(header)}\r\n"
    head = (f"POST /v2/models/{MODEL}/infer HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Authorization: Bearer {key}\r\n{extra}\r\n")
    return head.encode() + body


async def _http_worker(port, request, stop_at, warm_until, latencies, errors):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (start := time.perf_counter()) < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if start >= warm_until:
                if head[9:12] != b"200":
                    errors.append(head[9:12].decode())
                latencies.append(time.perf_counter() - start)
    finally:
        writer.close()


async def _http_load(port, request, concurrency, seconds, warmup):
    now = time.perf_counter()
    latencies, errors = [], []
    await asyncio.gather(*[_http_worker(port, request, now + warmup + seconds, now + warmup,
                                        latencies, errors) for _ in range(concurrency)])
    return latencies, errors


async def _grpc_load(port, key, concurrency, seconds, warmup):
    import grpc

    from workbench.serving.grpc import grpc_predict_v2_pb2 as pb2
    from workbench.serving.grpc import grpc_predict_v2_pb2_grpc as pb2_grpc

    request = pb2.ModelInferRequest(model_name=MODEL)
    request.inputs.add(name="input-0", datatype="FP32", shape=[ROWS, FEATURES])
    request.raw_input_contents.append(_batch().tobytes())
    metadata = (("authorization", f"Bearer {key}"),)
    latencies, errors = [], []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb2_grpc.GRPCInferenceServiceStub(channel)
        now = time.perf_counter()
        stop_at, warm_until = now + warmup + seconds, now + warmup

        async def worker():
            while (start := time.perf_counter()) < stop_at:
                try:
                    await stub.ModelInfer(request, metadata=metadata)
                except grpc.aio.AioRpcError as exc:
                    errors.append(exc.code().name)
                    continue
                if start >= warm_until:
                    latencies.append(time.perf_counter() - start)
        await asyncio.gather(*[worker() for _ in range(concurrency)])
    return latencies, errors


def run_wire(wire: str, port: int, key: str, concurrency: int, seconds: float,
             warmup: float) -> dict:
    """Load one wire of the server (in the load-generator process); return its figures."""
    import uvloop

    uvloop.install()
    if wire == "grpc":
        latencies, errors = asyncio.run(_grpc_load(port, key, concurrency, seconds, warmup))
    else:
        latencies, errors = asyncio.run(_http_load(port, _http_request(wire, port, key),
                                                   concurrency, seconds, warmup))
    lat = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    return {"wire": wire, "concurrency": concurrency, "requests": len(latencies),
            "errors": len(errors), "requests_per_s": len(latencies) / seconds,
            **{f"p{q}_ms": float(np.percentile(lat, q)) for q in (50, 90, 99)},
            "max_ms": float(lat.max())}


def payload(args, bench) -> dict:
    """Start one server with ``--grpc-port`` and load it over each wire, interleaved."""
    from workbench.serving.endpoint import free_port

    scratch = Path(tempfile.mkdtemp(prefix="workbench-payload-"))
    key = prepare(scratch)
    port, grpc_port = free_port(), free_port()
    log = open(scratch / "server.log", "wb")
    proc = bench._start([sys.executable, "-m", "workbench.serving.server", "--home", str(scratch),
                         "--port", str(port), "--grpc-port", str(grpc_port), "--log-level",
                         "warning"], log)
    runs = {wire: [] for wire in WIRES}
    try:
        bench._wait_ready(port, proc)
        for _ in range(args.repeat):
            for wire in WIRES:
                load = subprocess.run(
                    [sys.executable, __file__, wire, str(grpc_port if wire == "grpc" else port),
                     key, str(CONCURRENCY), str(args.seconds), str(args.warmup)],
                    capture_output=True, text=True, check=True)
                runs[wire].append(json.loads(load.stdout))
    finally:
        bench._stop(proc)
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)
    results = {wire: bench._median(found) for wire, found in runs.items()}
    json_rps = results["json"]["requests_per_s"]
    return {"batch": f"{ROWS}x{FEATURES} FP32", "model": "MLPClassifier(hidden_layer_sizes=(64,))",
            "concurrency": CONCURRENCY, "seconds": args.seconds, "repeat": args.repeat,
            "results": results,
            "binary_over_json": results["binary"]["requests_per_s"] / json_rps if json_rps else None,
            "grpc_over_json": results["grpc"]["requests_per_s"] / json_rps if json_rps else None,
            "target_binary_over_json": 3.0, "time": time.time()}


def run(args, bench) -> dict:
    """Run the payload suite, print its table and merge it into serving.json."""
    from workbench.home import resolve_home

    report = payload(args, bench)
    print(f"\npayload ({report['batch']}, concurrency {CONCURRENCY}):")
    print(f"{'wire':<8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for wire, r in report["results"].items():
        print(f"{wire:<8}{r['requests_per_s']:>9.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{r['errors']:>8}")
    print(f"binary / json: {report['binary_over_json']:.1f}x (target >= 3x); "
          f"grpc / json: {report['grpc_over_json']:.1f}x")
    out = resolve_home(args.home) / "benchmarks" / "serving.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**old, "payload": report}, indent=2))
    print(f"written to {out}")
    return report


if __name__ == "__main__":      # the load generator: WIRE PORT KEY CONCURRENCY SECONDS WARMUP
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    wire, port, key, c, s, w = sys.argv[1:7]
    print(json.dumps(run_wire(wire, int(port), key, int(c), float(s), float(w))))
