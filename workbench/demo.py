"""The main job, ``workbench demo``: open the walkthrough notebooks in JupyterLab.

JupyterLab listens on 127.0.0.1 only; Ctrl-C stops it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("demo", help="open the walkthrough notebooks in JupyterLab",
                              description=__doc__)
    p.add_argument("--home", help="workbench home (default: $WORKBENCH_HOME or artifacts/)")
    p.add_argument("--port", type=int, default=8888, help="JupyterLab port (default 8888)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(func=run)


def run(args) -> int:
    env = dict(os.environ)
    if args.home:
        env["WORKBENCH_HOME"] = str(Path(args.home).resolve())
    cmd = [sys.executable, "-m", "jupyter", "lab", str(NOTEBOOKS), "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={args.port}", "--ServerApp.port_retries=0"]
    if args.no_browser:
        cmd.append("--no-browser")
    print("Starting JupyterLab on the walkthroughs (Ctrl-C stops it):", " ".join(cmd[2:]))
    proc = subprocess.Popen(cmd, env=env, cwd=NOTEBOOKS.parent)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0
