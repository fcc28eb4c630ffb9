"""Comparing two versions while the data arrive: the mixture sequential probability ratio test.

The question
------------
During a canary, a baseline version B and a candidate C each answer a stream of requests. For
each request we record a number ``x``: 1 if it failed and 0 if not (error rate), the log of its
latency, 1 if the prediction was wrong once its label arrived (misclassification), ... We want
to stop *as soon as* the data show that C is worse, ``theta = mean_C - mean_B > margin``, and we
look after every batch of requests.

Why not a t-test after every batch?
-----------------------------------
A fixed-sample test promises a false-alarm rate alpha for ONE look at a sample size fixed in
advance. Looking again and again and stopping at the first "significant" look inflates it: with
a z-test at 5 % checked 100 times, an A/A comparison (two identical versions) raises a false
alarm in roughly a third of the runs. A rollout controller looks continuously, so it needs a
test whose guarantee survives that.

The mixture SPRT (mSPRT)
------------------------
Robbins (1970); used for online experiments by Johari, Pekelis & Walsh, "Always valid
inference" (2017). Let ``d`` be the observed difference of means minus the margin and ``V`` its
variance estimate, ``var_C / n_C + var_B / n_B``. Under the normal approximation ``d ~ N(delta,
V)``. Compare "delta = 0" with "delta is drawn from N(0, tau^2)" (the *mixture*; ``tau`` is the
size of effect we care about). The likelihood ratio has a closed form::

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * d^2 / (2 * V * (V + tau^2)))

When the versions are equal, ``Lambda`` is (approximately) a non-negative martingale with mean
1, and Ville's inequality gives ``P(Lambda ever reaches 1/alpha) <= alpha``: stopping the first
time ``Lambda >= 1/alpha`` is a test whose false-alarm rate stays below alpha *however often we
look and however long we run*. ``p = min(1, 1/Lambda)`` (its running minimum) is the
*always-valid p-value*, and the values of ``delta`` not rejected form the always-valid
confidence interval::

    d  +/-  sqrt( V (V + tau^2) / tau^2  *  (2 log(1/alpha) + log((V + tau^2) / V)) )

We only act on one side (abort when C is worse), so the actual false-abort rate is about
alpha / 2; several guardrails share alpha (Bonferroni: each gets alpha / k).

Limits: the normal approximation is poor for a handful of requests, so no test is made before
``min_samples`` per arm (looking less often never breaks the guarantee), and requests are taken
as independent (a burst of failures of one client is counted as many).
See ``tests/test_rollout_sequential.py`` for the simulation that checks the false-alarm rate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArmStats:
    """Count, mean and variance of one version's per-request values."""

    n: int
    mean: float
    var: float

    @classmethod
    def of(cls, values) -> ArmStats:
        values = np.asarray(values, dtype=np.float64)
        if not len(values):
            return cls(0, math.nan, math.nan)
        return cls(len(values), float(values.mean()),
                   float(values.var(ddof=1)) if len(values) > 1 else 0.0)

    @classmethod
    def proportion(cls, hits: int, n: int) -> ArmStats:
        """A 0/1 stream with ``hits`` ones out of ``n`` (variance p(1-p))."""
        if n <= 0:
            return cls(0, math.nan, math.nan)
        p = hits / n
        return cls(int(n), p, p * (1 - p))


@dataclass(frozen=True)
class Comparison:
    """The evidence of one look: effect ``mean_C - mean_B``, its always-valid 95 %-level
    (``1 - alpha``) interval, the likelihood ratio and the always-valid p-value."""

    effect: float
    ci_low: float
    ci_high: float
    likelihood_ratio: float
    p_value: float
    n_candidate: int
    n_baseline: int
    alpha: float
    margin: float = 0.0

    @property
    def worse(self) -> bool:
        """The candidate is worse than the baseline by more than the margin (reject H0)."""
        return self.likelihood_ratio >= 1 / self.alpha and self.effect > self.margin

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("effect", "ci_low", "ci_high", "likelihood_ratio",
                                             "p_value", "n_candidate", "n_baseline", "alpha",
                                             "margin")}
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in out.items()}


def msprt(candidate: ArmStats, baseline: ArmStats, *, tau: float, alpha: float,
          margin: float = 0.0, min_variance: float = 1e-6) -> Comparison:
    """One look of the mixture SPRT of ``mean_C - mean_B`` against ``margin``.

    Parameters
    ----------
    candidate, baseline : ArmStats
    tau : float
        Standard deviation of the mixing prior: the effect size the test is tuned for.
    alpha : float
        False-alarm rate guaranteed over any number of looks.
    margin : float, default=0
        Effects up to this are tolerated (the null is ``effect = margin``).
    min_variance : float
        Floor of each arm's per-request variance (a version that never failed has variance 0).

    Examples
    --------
    >>> c = msprt(ArmStats.proportion(60, 1000), ArmStats.proportion(20, 1000), tau=0.02, alpha=0.05)
    >>> c.worse, round(c.effect, 3)
    (True, 0.04)
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau!r}")
    if candidate.n < 1 or baseline.n < 1:
        return Comparison(math.nan, -math.inf, math.inf, 1.0, 1.0, candidate.n, baseline.n,
                          alpha, margin)
    effect = candidate.mean - baseline.mean
    v = (max(candidate.var, min_variance) / candidate.n
         + max(baseline.var, min_variance) / baseline.n)
    t2 = tau * tau
    d = effect - margin
    log_lr = 0.5 * math.log(v / (v + t2)) + t2 * d * d / (2 * v * (v + t2))
    lr = math.exp(min(log_lr, 700.0))
    half = math.sqrt(v * (v + t2) / t2 * (2 * math.log(1 / alpha) + math.log((v + t2) / v)))
    return Comparison(effect, effect - half, effect + half, lr, min(1.0, 1 / lr),
                      candidate.n, baseline.n, alpha, margin)
