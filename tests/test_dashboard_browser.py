"""The Voila dashboard in a real browser: Voila serves notebooks/04_monitoring.ipynb against a home
with a running service and simulated traffic; headless Chromium, driven by Playwright, reads it.

Needs Debian's ``chromium`` (installed by ``make test``); never downloads a browser.
"""
import os
import shutil

import pytest
from voila_helpers import CHROMIUM_ARGS, running_voila

from workbench.data import load_dataset
from workbench.demo import ROOT
from workbench.loadgen import simulate
from workbench.monitoring import Monitor, read_predictions, wait_until_written

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def voila(digits_service, tmp_path_factory):
    """The demo's Voila, as ``workbench demo`` starts it without ``--allow-rollback``: the maintainer
    key is not handed to the page, so it is read-only. Yields the URL carrying the token."""
    home, endpoint = digits_service
    log_path = tmp_path_factory.mktemp("voila") / "voila.log"
    with running_voila(home, log_path, cwd=ROOT, url=endpoint.url,
                       maintainer_key=endpoint.key) as server:
        yield server.url_with_token


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
            # read-only: the page holds no production lever
            assert page.locator(".wb-rollback, .wb-rollback-confirm").count() == 0
            assert "Roll back" not in text
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            assert (tmp_path / "dashboard.png").stat().st_size > 10_000
        finally:
            browser.close()
