"""Monitoring speed: a full dashboard refresh over large prediction logs, and Voila's first render.

1. For logs of 10^5 and 10^6 requests (digits model, 10 % of requests with their input rows),
   the time of ``Monitor.snapshot`` (traffic, latency percentiles, errors, predictions, drift,
   alerts) and of a whole ``MonitoringDashboard.refresh`` (the same plus drawing), with the window
   covering the whole log. Baseline, in the same run: the naive way, reading every request row
   of the window to compute the same traffic figures with numpy.
2. Voila first render, Voila started as ``workbench dashboard`` starts it
   (:func:`workbench.dashboard.voila_command`): seconds from opening the page to the KPI tiles
   showing numbers in headless Chromium (a fresh browser, nothing cached) — target ≤ 3 s —
   once the server is ready: its pre-heated kernel has run the notebook (Voila's log says
   ``Pre-heated kernel ... has rendered``). Also: opening the page as soon as that kernel has
   started (the page then waits for the notebook's cells), and from starting Voila with the
   page opened at once. Baseline: the same for Voila rendering a one-cell notebook.

    python benchmarks/monitoring.py [--sizes 100000 1000000] [--repeats 5] [--home DIR] [--no-voila]
                                    [--store postgresql | --store postgresql://user@host/db]

``--store postgresql`` measures the PostgreSQL store on a throwaway local server (one fresh
database per size); a ``postgresql://`` URL must name an empty scratch database (one size only).
Results go to ``monitoring.json`` (``monitoring-postgresql.json`` with a PostgreSQL store).
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import STORE_HELP, store_url, table, write_results

from workbench.dashboard import voila_command
from workbench.demo import ROOT, train_digits_versions
from workbench.monitoring import Monitor, PredictionLog
from workbench.monitoring.log import FILENAME
from workbench.processes import stop_process_group


def fill_log(home: Path, n: int, rate: float = 500.0) -> float:
    """Write ``n`` requests at ``rate`` per second ending now; return the span in seconds."""
    from workbench.data import load_dataset

    X = load_dataset("digits").X
    rng = np.random.default_rng(0)
    span = n / rate
    now = time.time()
    times = now - span + np.arange(n) / rate
    latencies = rng.lognormal(0.0, 0.6, n)
    statuses = np.where(rng.random(n) < 0.02, 422, 200)
    labels = rng.integers(0, 10, n)
    sampled = rng.random(n) < 0.1
    rows = rng.integers(0, len(X), n)
    log = PredictionLog(home / FILENAME, input_fraction=1.0, flush_interval=3600)
    chunk = 50_000
    for start in range(0, n, chunk):
        for i in range(start, min(n, start + chunk)):
            ok = statuses[i] == 200
            log.record(model="digits", version=2 if i % 10 else 1, status=int(statuses[i]),
                       latency_ms=float(latencies[i]), rows=1,
                       outputs=[int(labels[i])] if ok else None,
                       inputs=X[rows[i]:rows[i] + 1] if (ok and sampled[i]) else None,
                       error=None if ok else "wrong shape", time_=float(times[i]))
        log.flush()
    log.store.predictions.analyze()  # fresh planner statistics after the bulk load, as a
    log.close()                      # long-running server has them (autovacuum, upkeep)
    return span


def naive_traffic(home: Path, window: float, url: str | None = None) -> dict:
    """The baseline: read every request of the window and compute the traffic figures."""
    sql = ("SELECT time, status, latency_ms, version FROM predictions WHERE model = ? AND "
           "time >= ?")
    if url:
        import psycopg

        with psycopg.connect(url) as conn:
            rows = np.array(conn.execute(sql.replace("?", "%s"),
                                         ("digits", time.time() - window)).fetchall())
    else:
        conn = sqlite3.connect(home / FILENAME)
        rows = np.array(conn.execute(sql, ("digits", time.time() - window)).fetchall())
        conn.close()
    lat = rows[:, 2]
    return {"requests": len(rows), "p50": np.percentile(lat, 50), "p99": np.percentile(lat, 99),
            "error_rate": float(np.mean(rows[:, 1] >= 400)),
            "versions": dict(zip(*np.unique(rows[:, 3], return_counts=True)))}


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def refresh_rows(sizes, repeats, store=None):
    if store and store != "postgresql" and len(sizes) > 1:
        raise SystemExit("a --store URL takes one --sizes value (its log would add up)")
    out = []
    for n in sizes:
        with store_url(store) as url:
            out.append(refresh_row(n, repeats, url))
    return out


def refresh_row(n, repeats, url=None):
    from workbench.panels.monitoring_panel import MonitoringDashboard
    from workbench.store import ENV

    home = Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
    before = os.environ.get(ENV)
    try:
        if url:     # every layer below (registry, log, monitor, dashboard) reads it
            os.environ[ENV] = url
        train_digits_versions(home, progress=False)
        started = time.time()
        span = fill_log(home, n)
        window = span + (time.time() - started) + 60     # the whole log, however long filling took
        monitor = Monitor(home)
        assert monitor.health("digits", window=window).requests == n
        dash = MonitoringDashboard(home, model="digits", monitor=monitor)
        dash._window.options = [("whole log", int(window))]
        naive = timed(lambda: naive_traffic(home, window, url), repeats)
        snap = timed(lambda: monitor.snapshot(window=window, models=["digits"]), repeats)
        full = timed(dash.refresh, repeats)
        size_mb = (_pg_size(url) if url else (home / FILENAME).stat().st_size) / 1e6
        monitor.close()
        return {"store": "postgresql" if url else "sqlite",
                "requests in log": f"{n:,}", "log size (MB)": f"{size_mb:.0f}",
                "naive traffic figures (s)": f"{naive:.3f}", "Monitor.snapshot (s)": f"{snap:.3f}",
                "dashboard refresh (s)": f"{full:.3f}", "refresh / naive": f"{full / naive:.2f}",
                "_raw": {"n": n, "naive_s": naive, "snapshot_s": snap, "refresh_s": full}}
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
        shutil.rmtree(home, ignore_errors=True)


def _pg_size(url) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])


#: what Voila's log says when the page can be opened (see voila_first_render)
READY = {"rendered": b"has rendered", "started": b"is filled with", None: None}


def voila_first_render(notebook: Path, selector: str, env: dict, *,
                       ready: str | None = None) -> tuple[float, float]:
    """Seconds from starting Voila, and from opening the page, until ``selector`` shows text in
    headless Chromium. ``ready``: open the page once Voila's pre-heated kernel has ``"rendered"``
    the notebook (what a visitor of a running dashboard sees), or once it has ``"started"`` (the
    page waits for the notebook's cells), or at once (``None``)."""
    import httpx
    from playwright.sync_api import sync_playwright

    from workbench.serving.endpoint import free_port

    port = free_port()
    token = secrets.token_urlsafe(24)  # the dashboard's Voila needs a token (from $JUPYTER_TOKEN)
    env = {**env, "JUPYTER_TOKEN": token}
    start = time.perf_counter()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(voila_command(port, notebook), env=env, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                         args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                               "--disable-background-networking", "--no-first-run"])
            page = browser.new_page()
            page.route("**/cdn.jsdelivr.net/**", lambda r: r.abort())
            while True:  # readiness from a static file: each request of "/" would start a kernel
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/voila/static/voila.js", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - start > 120:
                    raise TimeoutError("Voila did not start within 120 s")
                time.sleep(0.05)
            while READY[ready]:  # what Voila's log says about its pre-heated kernel
                log.seek(0)
                if READY[ready] in log.read():
                    break
                if time.perf_counter() - start > 300:
                    log.seek(0)
                    raise TimeoutError(f"Voila's log never said {READY[ready]!r}:\n"
                                       + log.read().decode(errors="replace")[-3000:])
                time.sleep(0.05)
            opened = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/?token={token}", wait_until="domcontentloaded",
                      timeout=120_000)
            page.wait_for_function(f"document.querySelector({selector!r})?.innerText.trim().length > 0",
                                   timeout=120_000, polling=50)
            done = time.perf_counter()
            browser.close()
        return done - start, done - opened
    finally:
        stop_process_group(proc)
        log.close()


def voila_rows(repeats):
    import nbformat

    tmp = Path(tempfile.mkdtemp(prefix="bench-voila-"))
    try:
        trivial = tmp / "hello.ipynb"
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            "from IPython.display import HTML\nHTML(\"<div class='hello'>hello</div>\")")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, trivial)
        home = tmp / "home"
        train_digits_versions(home, progress=False)
        fill_log(home, 2000)
        env = {**os.environ, "WORKBENCH_HOME": str(home)}
        runs = {"one-cell notebook (baseline)": (trivial, ".hello"),
                 "monitoring dashboard": (ROOT / "notebooks" / "04_monitoring.ipynb",
                                          ".wb-kpi-requests .wb-kpi-value")}
        found = {label: [] for label in runs}
        for _ in range(repeats):              # interleaved, so drifting load hits both alike
            for label, (notebook, selector) in runs.items():
                ready = voila_first_render(notebook, selector, env, ready="rendered")
                started = voila_first_render(notebook, selector, env, ready="started")
                cold = voila_first_render(notebook, selector, env)
                found[label].append((ready[1], started[1], cold[0]))
        rows, base = [], None
        for label, times in found.items():
            from_open, while_rendering, from_start = (statistics.median(t[i] for t in times)
                                                      for i in range(3))
            base = base or from_open
            rows.append({"page": label, "page open → tiles (s)": f"{from_open:.2f}",
                         "ratio (page open)": f"{from_open / base:.2f}",
                         "page open, kernel still rendering (s)": f"{while_rendering:.2f}",
                         "Voila start → tiles (s)": f"{from_start:.2f}"})
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--home", default=None, help="workbench home (results go to HOME/benchmarks)")
    parser.add_argument("--no-voila", action="store_true", help="skip the Voila first-render figure")
    parser.add_argument("--store", default=None, help=STORE_HELP)
    args = parser.parse_args(argv)

    refresh = refresh_rows(args.sizes, args.repeats, args.store)
    shown = [{k: v for k, v in r.items() if k != "_raw"} for r in refresh]
    print("Dashboard refresh, window = the whole log, median of", args.repeats)
    print(table(shown, list(shown[0])))
    voila = [] if args.no_voila else voila_rows(max(1, min(args.repeats, 3)))
    if voila:
        print("\nVoila first render: KPI tiles filled in headless Chromium (target ≤ 3 s from page open, "
              "the pre-heated kernel ready)")
        print(table(voila, list(voila[0])))
    name = "monitoring" if not args.store else "monitoring-postgresql"
    path = write_results(name, {"store": refresh[0]["store"], "refresh": [r["_raw"] for r in refresh],
                                "voila": voila}, args.home)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
