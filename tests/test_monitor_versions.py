"""Versions side by side during a canary and a shadow: share, latency, errors, agreement and
prediction distribution, in the Monitor and in the dashboard's versions table."""
import numpy as np
import pytest

from workbench.models import LogisticRegression
from workbench.monitoring import Monitor, PredictionLog
from workbench.panels.dashboard_html import versions_html
from workbench.registry import Registry

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


NOW = 1_800_000_000.0


@pytest.fixture
def home(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    with Registry(tmp_path) as reg:
        for _ in range(3):
            reg.register("m", LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)))
        reg.set_split("m", "production", {1: 0.8, 2: 0.2})
        reg.set_shadow("m", "production", 3)
    with PredictionLog(tmp_path / "predictions.db", random_state=0) as log:
        for i in range(100):
            version = 2 if i % 5 == 0 else 1
            status = 500 if (version == 2 and i % 10 == 0) else 200
            outputs = None if status != 200 else [version - 1, 1]
            log.record(model="m", version=version, status=status, latency_ms=2.0 * version,
                       rows=2, outputs=outputs, time_=NOW - 10 - i * 0.1)
            if status == 200:
                log.record(model="m", version=3, status=200, latency_ms=8.0, rows=2,
                           outputs=[0, 1] if i % 4 else [1, 1], role="shadow",
                           shadow_of=version, agreement=1.0 if i % 4 else 0.5,
                           time_=NOW - 10 - i * 0.1)
    return tmp_path


def test_compare_versions_side_by_side(home):
    mon = Monitor(home)
    try:
        cmp = mon.compare_versions("m", window=60, now=NOW)
        assert cmp.active and cmp.weights == {1: 0.8, 2: 0.2} and cmp.shadow == 3
        primary, canary, shadow = cmp.versions
        assert (primary.version, primary.role, primary.weight) == (1, "primary", 0.8)
        assert (canary.version, canary.role, canary.weight) == (2, "canary", 0.2)
        assert primary.requests == 80 and canary.requests == 20
        assert primary.share == pytest.approx(0.8) and canary.share == pytest.approx(0.2)
        assert canary.error_rate == pytest.approx(0.5) and primary.error_rate == 0
        assert canary.p50_ms > primary.p50_ms
        assert primary.predictions == {"0": 80, "1": 80} and canary.predictions == {"1": 20}
        assert shadow.role == "shadow" and shadow.requests == 90 and shadow.share == 0
        assert shadow.agreement == pytest.approx((1.0 * 67 + 0.5 * 23) / 90, abs=0.02)
        assert shadow.p99_ms == pytest.approx(8.0) and sum(shadow.predictions.values()) == 180
        health = mon.health("m", window=60, now=NOW)
        assert health.comparison == cmp
        assert health.requests == 100          # shadow answers are not client traffic
    finally:
        mon.close()


def test_versions_table_shows_roles_weights_and_agreement(home):
    mon = Monitor(home)
    try:
        html = versions_html(mon.health("m", window=60, now=NOW))
    finally:
        mon.close()
    assert "Versions side by side" in html
    for text in ("wb-version-primary", "wb-version-canary", "wb-version-shadow", "80%", "20%",
                 "copy", "%</td>"):
        assert text in html, text


def test_no_canary_no_shadow(tmp_path):
    with Registry(tmp_path) as reg:
        X = np.random.default_rng(1).normal(size=(20, 2))
        reg.register("m", LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)))
    mon = Monitor(tmp_path)
    try:
        cmp = mon.compare_versions("m", now=NOW)
        assert not cmp.active and cmp.versions == ()
        assert "no traffic" in versions_html(mon.health("m", now=NOW))
    finally:
        mon.close()
