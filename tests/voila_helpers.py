"""Start the dashboard's Voila exactly as ``workbench demo`` does (token, kernel limits), wait for
it, count its kernels, and always stop it."""
from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import time

import httpx
import psutil

from workbench.dashboard import voila_command, voila_env
from workbench.processes import stop_process_group
from workbench.serving.endpoint import free_port

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic"]


class VoilaServer:
    """A running Voila: ``url`` (no token), ``token``, ``proc``; :meth:`kernels` counts kernels."""

    def __init__(self, proc, url, token, log_path):
        self.proc, self.url, self.token, self.log_path = proc, url, token, log_path

    @property
    def url_with_token(self) -> str:
        return f"{self.url}/?token={self.token}"

    def kernels(self) -> int:
        """Live kernel processes started by this Voila."""
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return 0
        count = 0
        for child in children:
            with contextlib.suppress(psutil.Error):
                if "ipykernel_launcher" in " ".join(child.cmdline()) and child.is_running() \
                        and child.status() != psutil.STATUS_ZOMBIE:
                    count += 1
        return count

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@contextlib.contextmanager
def running_voila(home, log_path, *, cwd, url=None, maintainer_key=None, allow_rollback=False,
                  **limits):
    """Voila on a free port with a fresh token; ``limits`` go to :func:`voila_command`."""
    port, token = free_port(), secrets.token_urlsafe(24)
    env = voila_env(token, home, url=url, maintainer_key=maintainer_key,
                    allow_rollback=allow_rollback)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(voila_command(port, **limits), env=env, cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    server = VoilaServer(proc, f"http://127.0.0.1:{port}", token, log_path)
    try:
        wait_until_served(server.url, proc, log_path, seconds=60)
        yield server
    finally:
        stop_process_group(proc, timeout=10)


def wait_until_served(url: str, proc, log_path, seconds: float = 120) -> None:
    """Wait until the Voila at ``url`` (a page URL is fine) serves its static files.

    Readiness is a static file, never "/": each page request starts a kernel.
    """
    base = url.split("/?", 1)[0].rstrip("/")
    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None, f"exited early:\n{log_path.read_text(errors='replace')[-4000:]}"
        try:
            if httpx.get(f"{base}/voila/static/voila.js", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"not ready:\n{log_path.read_text(errors='replace')[-4000:]}"
        time.sleep(0.2)


def url_in_log(proc, log_path, pattern: str, seconds: float = 240) -> str:
    """The first match of ``pattern``'s group 1 in a command's log, once the command prints it."""
    deadline = time.monotonic() + seconds
    while True:
        text = log_path.read_text(errors="replace")
        found = re.search(pattern, text)
        if found:
            return found.group(1)
        assert proc.poll() is None, text[-3000:]
        assert time.monotonic() < deadline, text[-3000:]
        time.sleep(0.2)


@contextlib.contextmanager
def chromium_page(**page_options):
    """A page in headless Debian Chromium with the template's CDN requests aborted (no internet
    here); the browser is always closed."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(**page_options)
            page.route("**/cdn.jsdelivr.net/**", lambda route: route.abort())
            yield page
        finally:
            browser.close()
