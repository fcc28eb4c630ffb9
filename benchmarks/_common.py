"""Small helpers shared by the benchmark scripts: where results go, and a plain-text table."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from pathlib import Path

from workbench.home import resolve_home


def results_path(name: str, home: str | None = None) -> Path:
    folder = resolve_home(home) / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.json"


def machine() -> dict:
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_results(name: str, results: dict, home: str | None = None) -> Path:
    path = results_path(name, home)
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **results}, indent=2))
    return path


def table(rows: list[dict], columns: list[str]) -> str:
    """Rows of dicts as a Markdown table (so it pastes straight into the README)."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    def line(vals):
        return "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"
    out = [line(columns), "| " + " | ".join("-" * w for w in widths) + " |"]
    return "\n".join(out + [line(row) for row in cells])


@contextlib.contextmanager
def store_url(store: str | None):
    """The store URL to benchmark: None (SQLite in the home), a ``postgresql://`` URL as given,
    or ``postgresql`` alone: a throwaway server from Debian's package, started here and stopped
    afterwards (as the tests start theirs: tests/postgres_server.py)."""
    if store != "postgresql":
        yield store
        return
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from postgres_server import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL server binaries: apt-get install postgresql "
                         "(make bench does), or pass --store postgresql://user@host/db")
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server.create_database()
    finally:
        server.stop()


STORE_HELP = ("store to measure: a postgresql:// URL (a scratch database), 'postgresql' for a "
              "throwaway local server, or nothing for SQLite files (default)")
