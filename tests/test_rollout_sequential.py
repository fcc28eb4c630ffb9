"""The rollout statistics against simulation (no server): the always-valid test keeps its
false-abort rate under continuous looks, catches worse candidates, promotes equal ones."""
import math

import numpy as np
import pytest

from workbench.rollout import ArmStats, RolloutPolicy, msprt
from workbench.rollout.policy import Evidence, decide
from workbench.rollout.simulate import simulate_rollout

POLICY = RolloutPolicy(steps=(5, 25, 50, 100), min_samples=200, alpha=0.05)
pytestmark = pytest.mark.slow      # a few thousand simulated rollouts: ~15 s
N_RUNS = 200


def tolerance(rate, n):
    """Three binomial standard errors: the sampling tolerance of a rate measured on n runs."""
    return 3 * math.sqrt(rate * (1 - rate) / n)


def test_aa_false_abort_rate_is_at_most_alpha():
    rng = np.random.default_rng(2024)
    runs = [simulate_rollout(POLICY, error_b=0.03, error_c=0.03, rng=rng) for _ in range(N_RUNS)]
    aborted = sum(r.outcome == "aborted" for r in runs)
    assert all(r.outcome in ("aborted", "promoted") for r in runs)
    assert aborted / N_RUNS <= POLICY.alpha + tolerance(POLICY.alpha, N_RUNS), aborted


def test_repeated_fixed_sample_test_would_not_keep_alpha():
    """Why the sequential test: a z-test at 5 % after every look of an A/A comparison raises
    false alarms far more often than 5 %, while the mSPRT stays below it."""
    rng = np.random.default_rng(7)
    naive = valid = 0
    for _ in range(N_RUNS):
        b = rng.random(4000) < 0.05
        c = rng.random(4000) < 0.05
        fired_naive = fired_valid = False
        for n in range(50, 4001, 50):
            cb, cc = ArmStats.proportion(b[:n].sum(), n), ArmStats.proportion(c[:n].sum(), n)
            se = math.sqrt((cb.var + cc.var) / n) or 1e-9
            fired_naive |= abs(cc.mean - cb.mean) / se > 1.96
            fired_valid |= msprt(cc, cb, tau=0.05, alpha=0.05).likelihood_ratio >= 20
        naive += fired_naive
        valid += fired_valid
    assert valid / N_RUNS <= 0.05 + tolerance(0.05, N_RUNS)
    assert naive / N_RUNS > 2 * 0.05          # peeking at a fixed test inflates alpha


#: stated in docs/CONTRACTS.md: candidate requests until a worse candidate is aborted
ABORT_WITHIN = {"errors": 400, "slower": 200}


def test_higher_error_rate_is_aborted_within_the_stated_requests():
    rng = np.random.default_rng(11)
    runs = [simulate_rollout(POLICY, error_b=0.02, error_c=0.12, rng=rng) for _ in range(50)]
    assert all(r.outcome == "aborted" and "error rate" in r.reason for r in runs)
    assert max(r.candidate_requests for r in runs) <= ABORT_WITHIN["errors"]


def test_slower_candidate_is_aborted_within_the_stated_requests():
    rng = np.random.default_rng(12)
    runs = [simulate_rollout(POLICY, error_b=0.01, error_c=0.01, latency_b_ms=2,
                             latency_c_ms=8, rng=rng) for _ in range(50)]
    assert all(r.outcome == "aborted" and "latency" in r.reason for r in runs)
    assert max(r.candidate_requests for r in runs) <= ABORT_WITHIN["slower"]


def test_equal_candidate_is_promoted_through_every_step():
    runs = [simulate_rollout(POLICY, error_b=0.0, error_c=0.0, rng=s) for s in range(20)]
    assert all(r.outcome == "promoted" for r in runs)
    # every step but the last needs min_samples candidate requests
    assert all(r.candidate_requests >= 3 * POLICY.min_samples for r in runs)


def test_msprt_interval_and_p_value():
    c = msprt(ArmStats.proportion(60, 1000), ArmStats.proportion(20, 1000), tau=0.02, alpha=0.05)
    assert c.worse and c.ci_low > 0 and c.ci_low < c.effect < c.ci_high
    assert c.p_value == pytest.approx(1 / c.likelihood_ratio)
    same = msprt(ArmStats.proportion(20, 1000), ArmStats.proportion(20, 1000), tau=0.02, alpha=0.05)
    assert not same.worse and same.ci_low < 0 < same.ci_high and same.p_value == 1.0
    better = msprt(ArmStats.proportion(0, 1000), ArmStats.proportion(90, 1000), tau=0.02, alpha=0.05)
    assert not better.worse                    # a better candidate is never aborted


def test_decide_waits_for_min_samples_and_reports_evidence():
    ev = Evidence(ArmStats.proportion(0, 50), ArmStats.proportion(1, 900),
                  ArmStats(50, 1.0, 0.1), ArmStats(900, 1.0, 0.1), step_samples=50)
    d = decide(POLICY, ev, 0)
    assert d.action == "wait" and d.evidence["samples"] == {"candidate": 50, "baseline": 900,
                                                             "step": 50}
    assert set(d.evidence) >= {"error rate", "latency", "samples"}
    d = decide(POLICY, Evidence(ev.errors_c, ev.errors_b, ev.log_latency_c, ev.log_latency_b,
                                step_samples=200), 2)
    assert d.action == "promote"


@pytest.mark.parametrize("bad, match", [
    ({"steps": [5, 50]}, "ending at 100"), ({"steps": [50, 5, 100]}, "increasing"),
    ({"alpha": 0.7}, "alpha"), ({"min_samples": 0}, "min_samples"), ({"speed": 1}, "unknown"),
    ({"error_tau": 0}, "error_tau"), ({"max_slowdown": -1}, "max_slowdown")])
def test_bad_policies_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        RolloutPolicy.from_dict(bad)
