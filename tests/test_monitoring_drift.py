"""Drift maths on known values: PSI by hand, KS against scipy, bands, reports."""
import math

import numpy as np
import pytest
from scipy import stats

from workbench.monitoring.drift import EPS, drift_report, psi, psi_band
from workbench.registry.reference import build_reference, as_dict


def test_psi_of_identical_samples_is_zero():
    assert psi([10, 20, 30, 40], [10, 20, 30, 40]) == 0.0
    assert psi([10, 20, 30, 40], [1, 2, 3, 4]) == pytest.approx(0.0, abs=1e-15)  # shares, not counts


def test_psi_of_a_known_shift_matches_a_hand_computation():
    expected = [25, 25, 25, 25]
    actual = [10, 20, 30, 40]
    hand = sum((a - 0.25) * math.log(a / 0.25) for a in (0.1, 0.2, 0.3, 0.4))
    assert psi(expected, actual) == pytest.approx(hand, rel=1e-12)
    assert hand == pytest.approx(0.2282, abs=1e-4)


def test_empty_bins_are_smoothed_not_infinite():
    value = psi([50, 50, 0], [0, 50, 50])
    hand = (EPS - 0.5) * math.log(EPS / 0.5) + (0.5 - EPS) * math.log(0.5 / EPS)
    assert value == pytest.approx(hand)


@pytest.mark.parametrize("value, band", [(0.0, "stable"), (0.099, "stable"), (0.1, "moderate"),
                                         (0.2499, "moderate"), (0.25, "major"), (3.0, "major")])
def test_psi_bands(value, band):
    assert psi_band(value) == band


def test_psi_rejects_mismatched_histograms():
    with pytest.raises(ValueError, match="same bins"):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="at least one row"):
        psi([0, 0], [1, 2])


def _reference(X, names=None):
    spec, arrays = build_reference(X, names)
    return as_dict(spec, arrays)


def test_report_on_unshifted_data_is_stable_and_ks_matches_scipy():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(5000, 3))
    live = rng.normal(size=(1000, 3))
    ref = _reference(train, ["a", "b", "c"])
    report = drift_report(ref, live, model="m", version=2)
    assert report.status == "stable" and report.drift_share == 0.0 and report.n_live_rows == 1000
    for i, f in enumerate(report.features):
        expected = stats.ks_2samp(ref["sample"][:, i], live[:, i])
        assert f.ks_statistic == pytest.approx(expected.statistic)
        assert f.ks_pvalue == pytest.approx(expected.pvalue)
        assert f.psi < 0.1


def test_report_flags_exactly_the_shifted_feature():
    rng = np.random.default_rng(1)
    train = rng.normal(size=(5000, 4))
    live = rng.normal(size=(1000, 4))
    live[:, 2] += 1.5
    report = drift_report(_reference(train), live)
    assert [f.feature for f in report.features if f.drifted] == ["x2"]
    assert report.drift_share == 0.25 and report.status == "major"
    assert report.top(1)[0].feature == "x2" and report.top(1)[0].ks_pvalue < 1e-6


def test_report_without_live_rows_says_no_data():
    report = drift_report(_reference(np.eye(3)), np.empty((0, 3)))
    assert report.status == "no data" and report.drift_share == 0.0


def test_report_rejects_the_wrong_width():
    with pytest.raises(ValueError, match=r"shape \(n_rows, 3\)"):
        drift_report(_reference(np.eye(3)), np.ones((5, 2)))


def test_a_large_psi_from_a_small_noisy_sample_is_not_called_drift():
    rng = np.random.default_rng(2)
    train = (rng.random((5000, 1)) < 0.1).astype(float)  # a pixel that is mostly 0
    live = (rng.random((60, 1)) < 0.2).astype(float)       # a small sample, by chance brighter
    f = drift_report(_reference(train), live).features[0]
    assert f.band in ("moderate", "major") and not f.significant and not f.drifted


def test_significance_is_shared_over_the_features():
    rng = np.random.default_rng(3)
    train = rng.normal(size=(3000, 20))
    report = drift_report(_reference(train), rng.normal(size=(300, 20)))
    assert all(f.alpha == pytest.approx(0.05 / 20) for f in report.features)
    # with no drift, an uncorrected 5 % test would flag about one feature in twenty
    assert report.drift_share == 0.0 and report.status == "stable"
