"""`make demo` tells the whole story in the browser: a worse candidate is rolled out, the labels
that arrive late show it is worse, the controller aborts, and production is back on v2 — with no
person pressing a button. Started as the README starts it (`workbench demo`), stopped with SIGTERM.
"""
import subprocess
import sys

import pytest

from voila_helpers import chromium_page, url_in_log, wait_until_served
from workbench.processes import stop_process_group
from workbench.registry import Registry
from workbench.serving.endpoint import free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_the_demo_page_shows_the_rollout_abort_and_the_rollback(tmp_path):
    from playwright.sync_api import expect

    home, log_path = tmp_path / "home", tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        demo = subprocess.Popen([sys.executable, "-m", "workbench.cli", "demo", "--home", str(home),
                                 "--port", str(free_port()), "--voila-port", str(free_port()),
                                 "--rps", "30", "--duration", "600"], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        page_url = url_in_log(demo, log_path, r"dashboard \(Voila\) : (http://127\.0\.0\.1:\d+/\?token=\S+)")
        wait_until_served(page_url, demo, log_path)
        assert url_in_log(demo, log_path, r"rollout +: (digits production: v2 → v3 \w+)") == \
            "digits production: v2 → v3 running"
        expect.set_options(timeout=120_000)
        with chromium_page() as page:
            page.goto(page_url, wait_until="domcontentloaded")
            expect(page.locator(".wb-dashboard")).to_be_visible()
            # the dashboard refreshes itself; the decision comes once enough labels are in
            expect(page.locator(".wb-rollout-state")).to_have_text("aborted", timeout=400_000)
            expect(page.locator(".wb-rollout-reason")).to_contain_text("worse")
            expect(page.locator(".wb-kpi-version .wb-kpi-value")).to_have_text("v2")
            # the history says who acted: the controller, not a bare login name
            expect(page.locator(".wb-history")).to_contain_text("rollout controller (automatic)")
            assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
        with Registry(home) as registry:
            assert registry.aliases("digits")["production"] == 2
            actions = [e.action for e in registry.history("digits")]
        assert "rollout aborted" in actions and actions.index("rollout started") < actions.index(
            "rollout aborted")
    finally:
        stop_process_group(demo, timeout=30)
    assert "stopped: dashboard, service and simulator" in log_path.read_text(errors="replace")
