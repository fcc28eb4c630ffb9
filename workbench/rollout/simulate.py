"""Rollouts simulated at the level of the statistics (no server): how often does the policy
abort an equal candidate, and how fast does it catch a worse one?

Each simulated request goes to the candidate with the current step's share; it fails with the
arm's error rate and takes a log-normal latency. The controller's rule (:func:`.policy.decide`)
looks every ``look_every`` requests, exactly as the real controller looks every second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .policy import Evidence, RolloutPolicy, decide
from .sequential import ArmStats


@dataclass(frozen=True)
class SimulatedRollout:
    outcome: str            # "promoted" or "aborted"
    requests: int           # requests of both versions until the decision
    candidate_requests: int
    reason: str


class _Arm:
    def __init__(self):
        self.n = self.errors = 0
        self.s = self.ss = 0.0

    def add(self, failed: np.ndarray, log_latency: np.ndarray) -> None:
        self.n += len(failed)
        self.errors += int(failed.sum())
        self.s += float(log_latency.sum())
        self.ss += float((log_latency ** 2).sum())

    def stats(self):
        if self.n < 2:
            return ArmStats.proportion(self.errors, self.n), ArmStats(self.n, math.nan, math.nan)
        mean = self.s / self.n
        var = max(0.0, (self.ss - self.n * mean * mean) / (self.n - 1))
        return ArmStats.proportion(self.errors, self.n), ArmStats(self.n, mean, var)


def simulate_rollout(policy: RolloutPolicy, *, error_b: float, error_c: float,
                     latency_b_ms: float = 5.0, latency_c_ms: float = 5.0, sigma: float = 0.5,
                     look_every: int = 20, rng=None, max_requests: int = 1_000_000):
    """One rollout; latencies are log-normal with median ``latency_*_ms`` and log-sd ``sigma``."""
    rng = np.random.default_rng(rng)
    arms = {"b": _Arm(), "c": _Arm()}
    step, step_samples, total = 0, 0, 0
    while total < max_requests:
        share = policy.steps[step] / 100.0
        to_c = rng.random(look_every) < share
        for name, mask, err, lat in (("c", to_c, error_c, latency_c_ms),
                                     ("b", ~to_c, error_b, latency_b_ms)):
            k = int(mask.sum())
            arms[name].add(rng.random(k) < err, math.log(lat) + sigma * rng.standard_normal(k))
        total += look_every
        step_samples += int(to_c.sum())
        (ec, lc), (eb, lb) = arms["c"].stats(), arms["b"].stats()
        decision = decide(policy, Evidence(ec, eb, lc, lb, step_samples=step_samples,
                                           step_seconds=math.inf), step)
        if decision.action in ("abort", "promote"):
            outcome = "aborted" if decision.action == "abort" else "promoted"
            return SimulatedRollout(outcome, total, arms["c"].n, decision.reason)
        if decision.action == "advance":
            step, step_samples = step + 1, 0
    return SimulatedRollout("undecided", total, arms["c"].n, "max_requests reached")
