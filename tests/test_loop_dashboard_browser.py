"""The monitoring dashboard in Chromium shows live quality (from posted labels) and the state of
an automatic rollout: Voila serves notebooks/04_monitoring.ipynb over a home whose service has
answered labelled requests and runs a rollout."""
import os
import re

import numpy as np
import pytest
from test_dashboard_browser import CHROMIUM, voila  # noqa: F401 - the fixture
from voila_helpers import chromium_page

from workbench.data import load_dataset
from workbench.monitoring import Monitor
from workbench.rollout import RolloutController, RolloutPolicy

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


def test_dashboard_shows_live_quality_and_the_rollout(digits_service, voila, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    home, endpoint = digits_service
    digits = load_dataset("digits")
    rng = np.random.default_rng(0)
    rows = rng.choice(len(digits.X), 40, replace=False)
    answers = [endpoint.infer(digits.X[i:i + 1], id=f"b-{i}") for i in rows]
    assert all(a["model_version"] == "2" for a in answers)
    truth = {f"b-{i}": [int(digits.y[i])] for i in rows}
    assert endpoint.feedback(truth) == {"matched": 40, "unknown": []}
    hits = sum(int(a["outputs"][0]["data"][0] == digits.y[i]) for a, i in zip(answers, rows))
    expected = f"{100 * hits / 40:.1f} %"
    ctl = RolloutController(home)
    try:
        ctl.start("digits", to=1, policy=RolloutPolicy(steps=(5, 100), min_samples=100_000))
        mon = Monitor(home)
        assert mon.quality("digits").get(2).accuracy == hits / 40
        mon.close()
        expect.set_options(timeout=60_000)
        with chromium_page(viewport={"width": 1400, "height": 1400}) as page:
            page.goto(voila, wait_until="domcontentloaded")
            row = page.locator(".wb-quality-row[data-version='2']")
            expect(row.locator(".wb-quality-main")).to_contain_text(f"accuracy {expected}")
            expect(row.locator(".wb-quality-labelled")).to_contain_text(re.compile(r"^40 / "))
            expect(page.locator(".wb-rollout-state")).to_have_text("running")
            expect(page.locator(".wb-rollout")).to_contain_text("v2 → v1")
            expect(page.locator(".wb-rollout-weight")).to_have_text("5 %")
            page.screenshot(path=str(tmp_path / "loop.png"), full_page=True)
    finally:
        if ctl.status("digits").running:
            ctl.stop("digits")
        ctl.close()
