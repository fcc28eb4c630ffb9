"""The Voila dashboard in a real browser: Voila serves notebooks/04_monitoring.ipynb against a home
with a running service and simulated traffic; headless Chromium, driven by Playwright, reads it.

Needs Debian's ``chromium`` (installed by ``make test``); never downloads a browser.
"""
import os
import re
import shutil

import pytest
from voila_helpers import CHROMIUM_ARGS, chromium_page, running_voila

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


TILE_KEYS = ("version", "rps", "requests", "p50", "p99", "errors", "drift", "quality")
# read in one go in the page, so a refresh cannot land between the tile and the table
READ_PAGE = """() => {
  const text = (sel) => { const el = document.querySelector(sel); return el ? el.innerText.trim() : null; };
  const tone = (key) => { const el = document.querySelector(`.wb-kpi-${key} .wb-tile`);
                          return el ? [...el.classList].find(c => c.startsWith('wb-tone-')) : null; };
  const keys = %s;
  return {
    tiles: Object.fromEntries(keys.map(k => [k, {value: text(`.wb-kpi-${k} .wb-kpi-value`),
      caption: text(`.wb-kpi-${k} .wb-kpi-caption`), target: text(`.wb-kpi-${k} .wb-kpi-target`),
      tone: tone(k)}])),
    drifted: document.querySelectorAll('.wb-drift-table .wb-verdict-drifted').length,
    shifting: document.querySelectorAll('.wb-drift-table .wb-verdict-shifting').length,
    rows: document.querySelectorAll('.wb-drift-table .wb-drift-row').length,
    alerts: [...document.querySelectorAll('.wb-alert')].map(a => a.innerText),
    summary: text('.wb-drift-summary'),
  };
}""" % list(TILE_KEYS)


def expected_tone(value: float, target: str) -> str:
    """The colour a 'target ≤ A … · alert above B' line calls for."""
    numbers = [float(n) for n in re.findall(r"(\d+(?:\.\d+)?)", target)]
    good, bad = numbers[0], numbers[1]
    return "wb-tone-good" if value <= good else ("wb-tone-bad" if value > bad else "wb-tone-warn")


def test_tiles_say_what_they_mean_and_agree_with_the_tables(digits_service, voila):
    """Every tile carries its plain-language caption and target; its colour is the one its stated
    target calls for; the drift tile counts the rows the folded drift table marks; a red tile
    has its alert; the details section opens on a click."""
    from playwright.sync_api import expect

    home, endpoint = digits_service
    digits = load_dataset("digits")
    # drifting inputs and one bad request in ten: the drift and errors tiles have something to say
    simulate(endpoint.url, "digits", digits.X, key=endpoint.key, rps=40, duration=3, drift=3.0,
             drift_start=0.0, bad_fraction=0.1, random_state=5)
    wait_until_written(home)
    logged = logged_requests(home)
    expect.set_options(timeout=60_000)
    with chromium_page(viewport={"width": 1400, "height": 1000}) as page:
        page.goto(voila, wait_until="domcontentloaded")
        expect(page.locator(".wb-kpi-requests .wb-kpi-value")).to_have_text(str(logged))
        expect(page.locator(".wb-kpi-drift .wb-kpi-value")).to_have_text(re.compile(r"^\d+ of 64$"))
        expect(page.locator(".wb-page-note")).to_contain_text("How to read it")

        # the PSI/KS table is folded away until the details title is clicked
        table = page.locator(".wb-details .wb-drift-table")
        expect(table).to_be_hidden()
        page.locator(".wb-details").get_by_text("Details: drift per feature").click()
        expect(table).to_be_visible()
        expect(table).to_contain_text("Bonferroni")
        updated = page.locator(".wb-updated").inner_text()
        expect(page.locator(".wb-updated")).not_to_have_text(updated)   # a refresh later ...
        expect(table).to_be_visible()                                   # ... still open
        expect(page.locator(".wb-drift-summary .wb-drift-todo")).to_contain_text("What to do")

        for _attempt in range(20):   # a refresh may land between two widgets' updates: read again
            seen = page.evaluate(READ_PAGE)
            drifted, n = (int(x) for x in seen["tiles"]["drift"]["value"].split(" of "))
            if drifted == seen["drifted"] and seen["rows"] == n:
                break
            page.wait_for_timeout(500)
        assert (drifted, n) == (seen["drifted"], seen["rows"]), seen
        assert f"{drifted} of {n} input features drifted" in seen["summary"]
        assert drifted > 0 and seen["tiles"]["drift"]["tone"] in ("wb-tone-warn", "wb-tone-bad")
        if seen["tiles"]["drift"]["tone"] == "wb-tone-bad":   # above the alert share: the alert says so
            assert any("input features drifted — the rule fires above 25 %" in a for a in seen["alerts"])

        for key in TILE_KEYS:
            tile = seen["tiles"][key]
            assert tile["caption"] and len(tile["caption"].split()) >= 4, (key, tile)
            assert re.match(r"(target|expected)\b", tile["target"]), (key, tile)
        for key in ("p99", "errors"):   # the colour is the one the stated target asks for
            tile = seen["tiles"][key]
            value = float(tile["value"].split()[0])
            assert tile["tone"] == expected_tone(value, tile["target"]), (key, tile)
        assert seen["tiles"]["errors"]["tone"] != "wb-tone-good"   # ~10 % refused on purpose
        assert "400 malformed" in page.locator(".wb-kpi-errors .wb-kpi-note").inner_text()
        if seen["tiles"]["errors"]["tone"] == "wb-tone-bad":
            assert any("of requests were refused or failed — the rule fires above 5 %" in a
                       and "What to do" in a for a in seen["alerts"])
        assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
