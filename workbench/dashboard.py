"""The stakeholder dashboard: Voila on the monitoring notebook, and ``workbench dashboard``.

:func:`start_dashboard` is how ``workbench demo`` and ``workbench dashboard`` start it, from any
working directory and from an installed package alike (the notebook ships inside the package,
see :mod:`workbench.walkthroughs`): Voila on 127.0.0.1 behind a fresh random token, walkthrough
cells removed, read-only unless rollback is explicitly allowed, kernels capped and culled.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from .walkthroughs import notebook_path

#: defaults of the dashboard's kernel limits (see workbench.panels.voila_kernels)
CULL_IDLE_TIMEOUT, CULL_INTERVAL, MAX_KERNELS = 120, 10, 8
KERNEL_MANAGER = "workbench.panels.voila_kernels.DashboardKernelManager"
#: the only JupyterLab extensions the page loads: the widget manager (ipywidgets 8). Voila loads
#: every installed one otherwise (jupytext, themes, ...): more JavaScript before the tiles show
PAGE_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8")
#: seconds Voila waits, after a page took the pre-heated kernel, before starting the next one:
#: not at once, so the new kernel's start does not compete with that page's first render
POOL_REFILL_DELAY = 4
#: what the dashboard's first *full* refresh imports (SciPy for drift, matplotlib for the charts):
#: a pre-heated kernel imports it before it runs the notebook, so that this refresh, 0.5 s after
#: the page was rendered, does not hold up the first page that attaches to the kernel
PRELOAD = ("workbench.panels.monitoring_panel", "workbench.monitoring.quality", "scipy.stats",
           "matplotlib.figure", "matplotlib.backends.backend_agg")


def dashboard_notebook() -> Path:
    """The monitoring notebook that Voila turns into the dashboard."""
    return notebook_path("04_monitoring.ipynb")


def voila_command(port: int, notebook: Path | None = None, *, cull_idle_timeout: int = CULL_IDLE_TIMEOUT,
                  cull_interval: int = CULL_INTERVAL, max_kernels: int = MAX_KERNELS,
                  preheat: bool = True) -> list[str]:
    """How the dashboard is started, from any working directory.

    Voila on 127.0.0.1 with a token (taken from ``$JUPYTER_TOKEN``, never from argv: see
    :func:`voila_env`), walkthrough cells left out and one pre-heated kernel (set here, not
    only in ``voila.json``, which Voila reads only from its working directory), and the kernel
    limits of :class:`workbench.panels.voila_kernels.DashboardKernelManager` (the pool counts).
    For a quick first render: the pre-heated kernel imports :data:`PRELOAD` before it runs the
    notebook, the page loads only :data:`PAGE_EXTENSIONS`, and the pool is refilled
    :data:`POOL_REFILL_DELAY` seconds after a page took its kernel.
    """
    notebook = Path(notebook or dashboard_notebook()).resolve()
    return [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
            "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", f"--Voila.root_dir={notebook.parent}",
            "--Voila.auto_token=True", "--VoilaExecutor.timeout=120",
            "--TagRemovePreprocessor.remove_cell_tags=walkthrough",
            f"--VoilaConfiguration.preheat_kernel={preheat}", "--VoilaConfiguration.default_pool_size=1",
            f"--VoilaKernelManager.fill_delay={POOL_REFILL_DELAY}",
            f"--VoilaConfiguration.extension_allowlist={list(PAGE_EXTENSIONS)!r}",
            f"--VoilaConfiguration.multi_kernel_manager_class={KERNEL_MANAGER}",
            f"--DashboardKernelManager.max_kernels={max_kernels}",
            *(f"--DashboardKernelManager.preload={name}" for name in PRELOAD),
            f"--DashboardKernelManager.cull_idle_timeout={cull_idle_timeout}",
            f"--DashboardKernelManager.cull_interval={cull_interval}",
            "--DashboardKernelManager.cull_connected=False"]


def voila_env(token: str, home, *, url: str | None = None, maintainer_key: str | None = None,
              allow_rollback: bool = False, base: dict | None = None) -> dict:
    """The environment of the dashboard's Voila: its token, the home, and — only with
    ``allow_rollback`` — the service URL and maintainer key the *Roll back* control needs."""
    from .panels.rollback_control import ROLLBACK_ENV

    env = {k: v for k, v in (os.environ if base is None else base).items()
           if k not in ("WORKBENCH_MAINTAINER_KEY", ROLLBACK_ENV)}
    env.update(JUPYTER_TOKEN=token, WORKBENCH_HOME=str(home))
    if url:
        env["WORKBENCH_URL"] = url
    if allow_rollback:
        env.update({ROLLBACK_ENV: "1", "WORKBENCH_MAINTAINER_KEY": maintainer_key or ""})
    return env


def start_dashboard(home, port: int = 8866, *, url: str | None = None,
                    maintainer_key: str | None = None, allow_rollback: bool = False,
                    cull_after: int = CULL_IDLE_TIMEOUT, max_pages: int = MAX_KERNELS):
    """Start Voila on the dashboard; return ``(process, page URL with its token)``.

    The process runs in its own session (stop it with
    :func:`workbench.processes.stop_process_group`); the token is fresh for every start.
    """
    token = secrets.token_urlsafe(32)
    env = voila_env(token, home, url=url, maintainer_key=maintainer_key,
                    allow_rollback=allow_rollback)
    notebook = dashboard_notebook()
    command = voila_command(port, notebook, cull_idle_timeout=cull_after,
                            cull_interval=min(CULL_INTERVAL, max(1, cull_after // 4)),
                            max_kernels=max_pages)
    process = subprocess.Popen(command, env=env, cwd=notebook.parent, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    return process, f"http://127.0.0.1:{port}/?token={token}"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "dashboard", help="serve the monitoring dashboard (Voila) for a home",
        description="Serve the stakeholder dashboard of a workbench home with Voila on 127.0.0.1. "
                    "The printed URL carries a fresh token. The page is read-only unless "
                    "--allow-rollback is given (it then also needs --url and a maintainer key in "
                    "$WORKBENCH_MAINTAINER_KEY, never on the command line).")
    p.add_argument("--home", help="workbench home (default: $WORKBENCH_HOME or artifacts/)")
    p.add_argument("--port", type=int, default=8866, help="dashboard port (default 8866)")
    p.add_argument("--url", default=None, help="the inference service's URL (for Roll back)")
    p.add_argument("--allow-rollback", action="store_true",
                   help="show the Roll back control (asks for confirmation)")
    p.add_argument("--cull-after", type=int, default=CULL_IDLE_TIMEOUT, help="seconds after which "
                   f"the kernel of a closed page is shut down (default {CULL_IDLE_TIMEOUT})")
    p.add_argument("--max-pages", type=int, default=MAX_KERNELS,
                   help=f"most pages (kernels) open at once (default {MAX_KERNELS})")
    p.set_defaults(func=run)


def run(args) -> int:
    from .home import resolve_home
    from .processes import interrupt_on_sigterm, stop_process_group
    from .serving.preflight import check_port

    interrupt_on_sigterm()
    home = resolve_home(args.home)
    key = os.environ.get("WORKBENCH_MAINTAINER_KEY")
    if args.allow_rollback and not (args.url and key):
        raise ValueError("--allow-rollback needs --url URL and a maintainer key in "
                         "$WORKBENCH_MAINTAINER_KEY")
    check_port("127.0.0.1", args.port)
    voila, page = start_dashboard(home, args.port, url=args.url, maintainer_key=key,
                                  allow_rollback=args.allow_rollback, cull_after=args.cull_after,
                                  max_pages=args.max_pages)
    print(f"dashboard of {home}: {page}" + ("" if args.allow_rollback else "   (read-only)"),
          flush=True)
    print("Ctrl-C stops it.", flush=True)
    try:
        while voila.poll() is None:
            time.sleep(0.5)
        return voila.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop_process_group(voila, timeout=10)
