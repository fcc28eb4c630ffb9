"""The stakeholder page, attacked and used in a real browser (Playwright + Debian chromium).

Voila is started the way ``workbench demo --allow-rollback`` starts it, but from a temporary
working directory (where no ``voila.json`` is), with a short kernel cull timeout and a cap of a
few kernels. Checked: no token → refused and no kernel started; with the token the tiles show
and no walkthrough cell is rendered; the Roll back control asks, naming v2 → v1, and the audit
log names the dashboard; 20 page loads and closes leave no kernel behind once the cull timeout
has passed (only the one pre-heated kernel stays), and never more than the cap at once.
"""
import os
import shutil
import time

import httpx
import pytest
from voila_helpers import CHROMIUM_ARGS, running_voila

from workbench.registry import Registry

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                 reason="Debian's chromium is not installed (make test installs it)")]
CULL_AFTER, CULL_INTERVAL, MAX_KERNELS = 30, 2, 4  # 30 s: a loaded machine takes a while to connect a page
POOL = 1  # voila_command keeps one pre-heated kernel


@pytest.fixture(scope="module")
def voila(digits_service, tmp_path_factory):
    home, endpoint = digits_service
    elsewhere = tmp_path_factory.mktemp("elsewhere")  # the working directory: not the checkout
    with running_voila(home, elsewhere / "voila.log", cwd=elsewhere, url=endpoint.url,
                       maintainer_key=endpoint.key, allow_rollback=True,
                       cull_idle_timeout=CULL_AFTER, cull_interval=CULL_INTERVAL,
                       max_kernels=MAX_KERNELS) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/cdn.jsdelivr.net/**", lambda route: route.abort())
    return context, context.new_page()


def wait_for_kernels(voila, condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition(voila.kernels()):
        assert time.monotonic() < deadline, f"kernels: {voila.kernels()}\n{voila.log()}"
        time.sleep(0.5)
    return voila.kernels()


def test_without_the_token_the_page_is_refused(voila, browser):
    wait_for_kernels(voila, lambda n: n == POOL, 120)  # the pre-heated kernel is up
    for url in (voila.url + "/", voila.url + "/?token=wrong" + voila.token[:8]):
        r = httpx.get(url, timeout=30, follow_redirects=False)
        assert r.status_code in (302, 401, 403), r.status_code
        assert "wb-dashboard" not in r.text
    context, page = new_page(browser)
    try:
        page.goto(voila.url + "/", wait_until="domcontentloaded")
        assert "/login" in page.url
        assert page.locator(".wb-dashboard").count() == 0
        assert "Traceback" not in page.inner_text("body")
    finally:
        context.close()
    time.sleep(2)
    assert voila.kernels() == POOL  # refused before any kernel was started: only the pool's


def test_with_the_token_tiles_show_without_walkthrough_and_rollback_asks(voila, browser,
                                                                         digits_service):
    from playwright.sync_api import expect

    home, _ = digits_service
    with Registry(home) as reg:
        assert reg.aliases("digits")["production"] == 2
    context, page = new_page(browser)
    try:
        page.goto(voila.url_with_token, wait_until="domcontentloaded")
        expect(page.locator(".wb-dashboard")).to_be_visible()
        expect(page.locator(".wb-kpi-version .wb-kpi-value")).to_have_text("v2")
        expect(page.locator(".wb-kpi-requests .wb-kpi-value")).not_to_have_text("")
        # started from another directory: still no walkthrough cell (and no code, no error)
        text = page.inner_text("body")
        assert "a walkthrough" not in text and "A small service to watch" not in text
        assert "example_home" not in page.content() and "Latency percentiles" not in text
        assert "Exercise 1" not in text and "The rule the dashboard applies" not in text
        assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
        assert "Traceback" not in text

        # the control asks first, naming the versions; Cancel changes nothing
        question = page.locator(".wb-rollback-question")
        button = page.locator("button.wb-rollback")
        expect(button).to_have_text("Roll back production…")
        assert button.evaluate("b => b.scrollWidth <= b.clientWidth"), "the label is cut off"
        page.locator("button.wb-rollback").click()
        expect(question).to_contain_text("from v2 → v1")
        page.locator("button.wb-rollback-cancel").click()
        expect(page.locator(".wb-rollback-box")).to_be_hidden()
        time.sleep(1)
        with Registry(home) as reg:
            assert reg.aliases("digits")["production"] == 2
        # confirmed: the service rolls back, and the audit log says the dashboard did it
        page.locator("button.wb-rollback").click()
        expect(question).to_contain_text("from v2 → v1")
        page.locator("button.wb-rollback-confirm").click()
        expect(page.locator(".wb-message")).to_contain_text("rolled back to v1")
        with Registry(home) as reg:
            assert reg.aliases("digits")["production"] == 1
            event = reg.history("digits")[-1]
        assert event.action == "rolled back" and event.version == 1 and event.previous == 2
        assert event.author.startswith("dashboard (key "), event.author
        assert voila.kernels() >= 1
    finally:
        context.close()


def test_kernels_of_closed_pages_are_culled_and_bounded(voila, browser):
    statuses, most = [], 0
    context, _ = new_page(browser)
    try:
        for _ in range(20):
            page = context.new_page()
            response = page.goto(voila.url_with_token, wait_until="commit")
            statuses.append(response.status)
            if response.status == 503:
                assert "Too many dashboard pages" in response.text()
            page.close()
            most = max(most, voila.kernels())
    finally:
        context.close()
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 503}, statuses
    assert most <= MAX_KERNELS, most
    assert 503 in statuses  # 20 quick loads > the cap: the rest were refused, not started
    # every page is closed: within the cull timeout (plus a few intervals) only the pre-heated
    # kernel is left
    assert wait_for_kernels(voila, lambda n: n <= POOL, CULL_AFTER + 6 * CULL_INTERVAL + 30) <= POOL
    # and the server is still there for the next visitor
    assert httpx.get(f"{voila.url}/voila/static/voila.js", timeout=5).status_code == 200
