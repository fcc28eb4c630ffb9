"""The panels in real Chromium, rendered by Voila from a small notebook that ends, like the
walkthroughs after "Run All", with a clean-up cell: the registry closed, the service stopped.
A click then shows what failed and what to do in the panel's own status line; and no button or
label is cut short (scrollWidth <= clientWidth for every one of them).

Needs Debian's ``chromium`` (installed by ``make test``); never downloads a browser.
"""
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from serving_helpers import make_home
from voila_helpers import chromium_page, wait_until_served

from workbench.processes import stop_process_group
from workbench.registry import Registry
from workbench.serving.endpoint import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow, pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (make test installs it)"),
]

SETUP = """\
import ipywidgets as widgets
from IPython.display import display
from workbench.panels.deployment_panel import DeploymentPanel
from workbench.panels.keys_panel import KeysPanel
from workbench.panels.registry_panel import RegistryPanel
from workbench.panels.rollback_control import RollbackControl
from workbench.panels.training_panel import TrainingPanel
from workbench.registry import Registry
from workbench.serving import deploy
from workbench.serving.client import Client

HOME = {home!r}
reg = Registry(HOME)
endpoint = deploy("iris", home=HOME)
url, key = endpoint.url, endpoint.key


def plan():   # what the dashboard's roll back would do (its own registry stays open)
    with Registry(HOME) as own:
        return ("iris", "production", own.aliases("iris")["production"],
                own.rollback_target("iris", "production"))


def act(alias):
    with Client(url, key) as client:
        return client.rollback("iris", alias)
"""

PANELS = """\
deployment = DeploymentPanel(home=HOME)
probe = widgets.Button(description="promote to production (default width)")
probe.add_class("truncation-probe")   # ipywidgets' default: the check below must catch it
display(RegistryPanel(reg), deployment, KeysPanel(home=HOME), TrainingPanel(dataset="iris"),
        RollbackControl(plan, act), probe)
"""

CLEAN_UP = """\
# clean-up, as at the end of a walkthrough
reg.close()
deployment.registry.close()
endpoint.stop()
"""

#: every visible button or description label whose text does not fit its box
CUT_SHORT = """() => Array.from(document.querySelectorAll(
        'button, .widget-label, .widget-label-basic'))
    .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth)
    .map(e => e.textContent.trim() + ' (' + e.scrollWidth + ' > ' + e.clientWidth + ')')"""

CLOSED = "the registry is closed — run the first cells again to reopen it"


@pytest.fixture
def voila_page_url(tmp_path):
    """Voila serving the test notebook on a free port; always stopped."""
    home = tmp_path / "home"
    make_home(home)
    with Registry(home) as reg:
        reg.set_alias("iris", "production", 2)      # so production has a step to roll back
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP.format(home=str(home))),
                nbformat.v4.new_code_cell(PANELS), nbformat.v4.new_code_cell(CLEAN_UP)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "panels.ipynb"
    nbformat.write(nb, path)
    port, log_path = free_port(), tmp_path / "voila.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voila", str(path), "--no-browser", f"--port={port}",
             "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", "--show_tracebacks=True",
             "--VoilaExecutor.timeout=120"],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    try:
        wait_until_served(f"http://127.0.0.1:{port}", proc, log_path)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_process_group(proc, timeout=10)


def test_panels_show_errors_in_their_status_line_and_labels_fit(voila_page_url):
    from playwright.sync_api import expect

    expect.set_options(timeout=120_000)
    with chromium_page(viewport={"width": 1400, "height": 1000}) as page:
        page.goto(voila_page_url, wait_until="domcontentloaded")
        for panel in (".workbench-registry-panel", ".workbench-deployment-panel",
                      ".workbench-keys-panel", ".workbench-training-panel", ".wb-rollback",
                      ".truncation-probe"):
            expect(page.locator(f"{panel} >> visible=true").first).to_be_visible()
        expect(page.locator(".workbench-deployment-status")).to_contain_text("stopped")
        assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0

        # labels fit: only the probe (a button at ipywidgets' default width) is cut short
        cut = page.evaluate(CUT_SHORT)
        assert len(cut) == 1 and cut[0].startswith("promote to production (default width)"), cut
        bar = page.locator(".workbench-training-progress .progress").bounding_box()
        assert bar is not None and bar["width"] >= 200            # the epoch bar kept its room

        # the registry panel, after the clean-up cell closed the registry
        registry = page.locator(".workbench-registry-panel")
        registry.locator("button", has_text="promote to production").click()
        message = page.locator(".workbench-registry-status .workbench-action-error")
        expect(message).to_have_text(f"promote to production failed: {CLOSED}")
        registry.locator("button", has_text="compare").last.click()
        expect(message).to_have_text(f"compare failed: {CLOSED}")
        page.locator(".workbench-registry-status summary").click()     # the traceback, folded
        expect(page.locator(".workbench-registry-status pre")).to_contain_text("ProgrammingError")

        # the deployment panel, same registry closed
        page.locator(".workbench-deployment-panel button", has_text="roll back production").click()
        expect(page.locator(".workbench-deployment-message .workbench-action-error")).to_have_text(
            f"roll back production failed: {CLOSED}")

        # the dashboard's roll back control, after the service was stopped
        page.locator(".wb-rollback").click()
        expect(page.locator(".wb-rollback-question")).to_contain_text("from v2 → v1")
        page.locator(".wb-rollback-confirm").click()
        expect(page.locator(".wb-rollback-message .workbench-action-error")).to_have_text(re.compile(
            r"roll back production failed: the service at http://127\.0\.0\.1:\d+ does not answer"
            r" — is it running\? \(start or deploy it again\)"))

        # the messages did not push any label out of its box either
        cut = page.evaluate(CUT_SHORT)
        assert len(cut) == 1 and cut[0].startswith("promote to production (default width)"), cut
