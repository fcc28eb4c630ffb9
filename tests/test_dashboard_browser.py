"""The Voila dashboard in a real browser: Voila serves notebooks/04_monitoring.ipynb against a home
with a running service and simulated traffic; headless Chromium, driven by Playwright, reads it.

Needs Debian's ``chromium`` (installed by ``make test``); never downloads a browser.
"""
import os
import shutil
import subprocess
import time

import httpx
import pytest

from workbench.data import load_dataset
from workbench.demo import ROOT, voila_command
from workbench.loadgen import simulate
from workbench.monitoring import Monitor, read_predictions, wait_until_written
from workbench.processes import stop_process_group
from workbench.serving.endpoint import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (make test installs it)")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def voila(digits_service, tmp_path_factory):
    home, endpoint = digits_service
    port = free_port()
    log_path = tmp_path_factory.mktemp("voila") / "voila.log"
    env = {**os.environ, "WORKBENCH_HOME": str(home), "WORKBENCH_URL": endpoint.url,
           "WORKBENCH_MAINTAINER_KEY": endpoint.key}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(voila_command(port), env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # readiness: a static file, never "/" (each page request starts a kernel)
            assert proc.poll() is None, f"Voila exited early:\n{log_path.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/voila/static/voila.js", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"Voila not ready:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.2)
        yield url
    finally:
        stop_process_group(proc, timeout=10)


def tile(page, key) -> str:
    return page.locator(f".wb-kpi-{key} .wb-kpi-value").inner_text().strip()


def logged_requests(home) -> int:
    return len(read_predictions(home, model="digits"))




def test_dashboard_in_chromium(digits_service, voila, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    home, endpoint = digits_service
    digits = load_dataset("digits")
    simulate(endpoint.url, "digits", digits.X, key=endpoint.key, rps=40, duration=2.5,
                     bad_fraction=0.1, random_state=3)
    wait_until_written(home)  # the service's log writer flushes in batches
    expect.set_options(timeout=60_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.route("**/cdn.jsdelivr.net/**", lambda route: route.abort())
            page = context.new_page()
            page.goto(voila, wait_until="domcontentloaded")
            expect(page.locator(".wb-dashboard")).to_be_visible()
            expect(page.locator(".wb-kpi-requests .wb-kpi-value")).not_to_have_text("")

            # the tiles agree with the log and with Monitor reading the same home
            health = Monitor(home).health("digits", window=300)
            logged = logged_requests(home)
            expect(page.locator(".wb-kpi-requests .wb-kpi-value")).to_have_text(str(logged))
            assert health.requests == logged
            assert tile(page, "version") == "v2"  # production
            errors_pct = float(tile(page, "errors").rstrip(" %"))
            assert errors_pct == pytest.approx(100 * health.error_rate, abs=0.051)
            assert errors_pct > 0
            assert tile(page, "p99").endswith(" ms") and float(tile(page, "p99")[:-3]) > 0

            # new traffic: a refresh a few seconds later shows it
            simulate(endpoint.url, "digits", digits.X, key=endpoint.key, rps=40, duration=1.5,
                              random_state=4)
            wait_until_written(home)
            expect(page.locator(".wb-kpi-requests .wb-kpi-value")).to_have_text(str(logged_requests(home)))
            assert int(tile(page, "requests")) > logged

            # only the dashboard: no code, no walkthrough prose, no error output
            assert page.locator(".jp-InputArea-editor, .CodeMirror, .cm-editor").count() == 0
            text = page.inner_text("body")
            assert "Traceback" not in text and "Error" not in text.replace("errors", "")
            assert "A small service to watch" not in text and "import os" not in text
            assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
            expect(page.locator(".wb-drift")).to_contain_text("Feature drift")
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            assert (tmp_path / "dashboard.png").stat().st_size > 10_000
        finally:
            browser.close()
