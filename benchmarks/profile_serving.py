"""Where a served request's CPU goes: ``py-spy record`` on the server under ``wrk`` load.

Starts the workbench service (uvicorn, or ``--backend ray``) on the digits MLP in a scratch
home, loads it with ``wrk`` at concurrency ``-c`` and samples every process of the server
(``--subprocesses``: uvicorn workers, or Ray's proxy and replicas) with py-spy. The samples are
summarised by *where* they fall (the innermost frame that belongs to a known part: HTTP parsing,
routing, auth, validation, model, response encoding, metrics, prediction log, Ray, …) and by
function (self time), and printed as Markdown tables for ``benchmarks/README.md``.

Usage::

    .venv/bin/python benchmarks/profile_serving.py [--backend uvicorn|ray] [--workers 1]
                                                   [--seconds 15] [-c 64] [--out DIR]

Needs ``wrk`` and ``py-spy`` (``pip install py-spy``; root or ``ptrace`` permission). The raw
collapsed stacks go to ``--out`` (default: a scratch folder) as ``profile-<backend>.txt``; open
them in speedscope or ``flamegraph.pl`` for the full picture.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serving as bench

#: (part, regex on a frame "function (file:line)"), tried from the innermost frame outwards
PARTS = [
    ("model forward (numpy)", r"models/forward\.py|models/activations\.py|models/losses\.py"),
    ("v2/v1 parsing + validation", r"serving/protocol(_v1)?\.py"),
    ("response encoding (orjson)", r"_v2_content|_v1_content|outputs_of|dumps"),
    ("auth (key lookup)", r"serving/auth\.py|serving/keys\.py"),
    ("metrics", r"serving/metrics\.py|prometheus_client"),
    ("prediction log: enqueue", r"PredictionLog\.record "),
    ("prediction log: writer thread", r"monitoring/(log|rollup)\.py|sqlite3"),
    ("model lookup / routing", r"serving/(models_cache|routing)\.py|get_model"),
    ("workbench endpoint (rest)", r"serving/inference\.py"),
    ("starlette / fastapi routing", r"starlette/|fastapi/"),
    ("uvicorn HTTP (httptools)", r"uvicorn/|httptools"),
    ("ray serve", r"ray/serve/"),
    ("ray core", r"ray/"),
    ("event loop (asyncio/uvloop)", r"asyncio/|uvloop"),
]
_PARTS = [(name, re.compile(pattern)) for name, pattern in PARTS]


def part_of(frames: list[str]) -> str:
    """The part a sample belongs to: its innermost frame that matches :data:`PARTS`."""
    for frame in reversed(frames):
        for name, pattern in _PARTS:
            if pattern.search(frame):
                return name
    return "other (interpreter, threads, …)"


def summarise(raw: Path, top: int = 15) -> dict:
    """Parts and self-time functions of py-spy's collapsed stacks, as shares of all samples."""
    parts, functions, total = Counter(), Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        parts[part_of(frames)] += n
        leaf = re.sub(r":\d+\)$", ")", frames[-1])
        functions[leaf] += n
    def share(counts):
        return {k: round(100 * v / max(total, 1), 1) for k, v in counts.most_common(top)}
    return {"samples": total, "parts": share(parts), "self": share(functions)}


def markdown(summary: dict) -> str:
    out = [f"{summary['samples']} samples", "", "| part | % of CPU samples |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in summary["parts"].items()]
    out += ["", "| function (self) | % |", "| --- | --- |"]
    out += [f"| `{k}` | {v} |" for k, v in summary["self"].items()]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["uvicorn", "ray"], default="uvicorn")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers / Ray replicas")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds sampled")
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--all-threads", action="store_true",
                        help="sample every active thread, not only the one holding the GIL "
                             "(default: --gil, so threads waiting for the GIL are not counted)")
    parser.add_argument("--ray-throughput-optimized", action="store_true",
                        help="with --backend ray: set RAY_SERVE_THROUGHPUT_OPTIMIZED=1")
    parser.add_argument("--out", help="folder for the raw profile (default: scratch)")
    args = parser.parse_args(argv)
    for tool in ("wrk", "py-spy"):
        if shutil.which(tool) is None and not (Path(sys.executable).parent / tool).exists():
            parser.error(f"{tool} is not installed (wrk: apt-get install wrk; py-spy: pip "
                         f"install py-spy)")
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    scratch = Path(tempfile.mkdtemp(prefix="workbench-profile-"))
    out = Path(args.out) if args.out else scratch
    out.mkdir(parents=True, exist_ok=True)
    raw = out / f"profile-{args.backend}.txt"
    from workbench.serving.endpoint import free_port

    key = bench._prepare(scratch)
    port = free_port()
    extra = (["--backend", "ray", "--replicas", str(args.workers)] if args.backend == "ray"
             else ["--workers", str(args.workers)])
    command = [sys.executable, "-m", "workbench.serving.server", "--home", str(scratch),
               "--port", str(port), "--log-level", "warning", *extra]
    log = open(scratch / "server.log", "wb")
    env = None
    if args.ray_throughput_optimized:
        import os

        env = {**os.environ, "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}
    proc = bench._start(command, log, env)
    try:
        bench._wait_ready(port, proc, timeout=240)
        script = bench.wrk_script(scratch, key)
        path = f"/v2/models/{bench.MODEL}/infer"
        bench.run_wrk(port, path, script, args.concurrency, 3)            # warm up
        load = {}
        thread = threading.Thread(target=lambda: load.update(bench.run_wrk(
            port, path, script, args.concurrency, args.seconds + 4)))
        thread.start()
        subprocess.run([spy, "record", "--pid", str(proc.pid), "--subprocesses", "--format",
                        "raw", "--rate", str(args.rate), "--duration", str(int(args.seconds)),
                        "--nonblocking", "--output", str(raw),
                        *([] if args.all_threads else ["--gil"])], check=True,
                       capture_output=True, timeout=args.seconds + 120)
        thread.join()
    finally:
        from serving_scale import _stop_gracefully

        _stop_gracefully(bench, proc)
        log.close()
    summary = summarise(raw)
    print(f"{args.backend}, {args.workers} worker(s), wrk c={args.concurrency}: "
          f"{load.get('requests_per_s', 0):,.0f} req/s, p99 {load.get('p99_ms', 0):.1f} ms "
          f"while sampled (py-spy itself costs some CPU)")
    print(markdown(summary))
    print(f"raw profile: {raw}")
    if not args.out:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
