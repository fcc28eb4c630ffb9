"""``RolloutPolicy``: how a candidate version earns its traffic, and the decision rule.

A rollout moves an alias's traffic to the candidate in steps (5 % → 25 % → 50 % → 100 % by
default). At every look the guardrails compare the candidate with the baseline over everything
since the rollout started, with the always-valid test of :mod:`.sequential`:

==============  =====================================================  ======================
guardrail       per-request value                                       aborts when
==============  =====================================================  ======================
error rate      1 if the answer was a 4xx/5xx, else 0                   C worse than B
latency         log(latency) (a ratio of typical latencies)             C slower by more than
                                                                        ``max_slowdown``
quality         1 if the labelled prediction was wrong (classifiers),   C worse than B
                squared error (regressors); only once labels exist
p99 cap         (no test) candidate p99 over ``max_p99_ms``             at once, when set
agreement       (no test) mean shadow agreement below ``min_agreement``  at once, when set
==============  =====================================================  ======================

The three tests share ``alpha`` (each gets ``alpha / 3``), so **the chance that a rollout of a
candidate as good as the baseline is aborted is at most ``alpha``**, however long it runs.
Without an abort, the rollout moves to the next step once the candidate has answered
``min_samples`` requests in the current one (and ``min_step_seconds`` have passed), and the last
step (100 %) promotes the candidate.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .sequential import ArmStats, msprt

#: the tests that share alpha
N_TESTS = 3


@dataclass(frozen=True)
class RolloutPolicy:
    """Steps, sample sizes and guardrails of a rollout (see the module docstring)."""

    steps: tuple = (5, 25, 50, 100)
    min_samples: int = 200
    min_step_seconds: float = 0.0
    alpha: float = 0.05
    min_test_samples: int = 30
    error_tau: float = 0.05
    max_error_increase: float = 0.0
    max_slowdown: float = 0.5
    latency_tau: float = 0.5
    max_p99_ms: float | None = None
    quality_tau: float = 0.05
    min_agreement: float | None = None

    def __post_init__(self):
        steps = tuple(self.steps)
        object.__setattr__(self, "steps", steps)
        if (not steps or any(not isinstance(s, (int, float)) or not 0 < s <= 100 for s in steps)
                or list(steps) != sorted(set(steps)) or steps[-1] != 100):
            raise ValueError(f"steps must be increasing percentages in (0, 100] ending at 100, "
                             f"got {list(steps)}")
        if not (isinstance(self.min_samples, int) and self.min_samples >= 1):
            raise ValueError(f"min_samples must be an int >= 1, got {self.min_samples!r}")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha (the false-abort rate) must be in (0, 0.5), got {self.alpha!r}")
        for name in ("error_tau", "latency_tau", "quality_tau"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not self.max_slowdown >= 0:
            raise ValueError(f"max_slowdown must be >= 0 (0.5 = 50 % slower), got {self.max_slowdown!r}")

    def as_dict(self) -> dict:
        out = asdict(self)
        out["steps"] = list(self.steps)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> RolloutPolicy:
        if not isinstance(data, dict):
            raise ValueError(
                f"a rollout policy is a JSON object, got {type(data).__name__}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown rollout policy field(s) {sorted(unknown)}; known: "
                             f"{sorted(cls.__dataclass_fields__)}")
        return cls(**data)

    @classmethod
    def load(cls, path) -> RolloutPolicy:
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass(frozen=True)
class Evidence:
    """What the controller measured for the candidate (``c``) and baseline (``b``) since the
    rollout started, and in the current step."""

    errors_c: ArmStats
    errors_b: ArmStats
    log_latency_c: ArmStats
    log_latency_b: ArmStats
    p99_ms_c: float = math.nan
    p99_ms_b: float = math.nan
    quality_c: ArmStats | None = None
    quality_b: ArmStats | None = None
    agreement: tuple | None = None      # (shadow rows, mean agreement)
    step_samples: int = 0
    step_seconds: float = 0.0


@dataclass(frozen=True)
class Decision:
    """``action``: ``"wait"``, ``"advance"`` (to ``weight`` %), ``"promote"`` or ``"abort"``."""

    action: str
    reason: str
    weight: float | None = None
    evidence: dict = field(default_factory=dict)


def decide(policy: RolloutPolicy, ev: Evidence, step: int) -> Decision:
    """The decision at one look, the rollout being at ``policy.steps[step]``."""
    a = policy.alpha / N_TESTS
    tests, evidence = {}, {}
    if min(ev.errors_c.n, ev.errors_b.n) >= policy.min_test_samples:
        tests["error rate"] = msprt(ev.errors_c, ev.errors_b, tau=policy.error_tau, alpha=a,
                                    margin=policy.max_error_increase)
    if min(ev.log_latency_c.n, ev.log_latency_b.n) >= policy.min_test_samples:
        tests["latency"] = msprt(ev.log_latency_c, ev.log_latency_b, tau=policy.latency_tau,
                                 alpha=a, margin=math.log1p(policy.max_slowdown))
    if (ev.quality_c is not None and ev.quality_b is not None
            and min(ev.quality_c.n, ev.quality_b.n) >= policy.min_test_samples):
        tests["quality"] = msprt(ev.quality_c, ev.quality_b, tau=policy.quality_tau, alpha=a)
    evidence = {name: t.as_dict() for name, t in tests.items()}
    evidence.update(samples={"candidate": ev.errors_c.n, "baseline": ev.errors_b.n,
                             "step": ev.step_samples},
                    error_rate={"candidate": ev.errors_c.mean, "baseline": ev.errors_b.mean},
                    p99_ms={"candidate": ev.p99_ms_c, "baseline": ev.p99_ms_b})
    if ev.agreement is not None:
        evidence["shadow_agreement"] = {"rows": ev.agreement[0], "mean": ev.agreement[1]}
    evidence = _finite(evidence)
    for name, test in tests.items():
        if test.worse:
            return Decision("abort", f"{name}: the candidate is worse (effect {test.effect:+.4g}, "
                            f"always-valid {1 - a:.1%} interval [{test.ci_low:.4g}, "
                            f"{test.ci_high:.4g}], p = {test.p_value:.2g} < {a:.3g})",
                            evidence=evidence)
    if (policy.max_p99_ms is not None and ev.errors_c.n >= policy.min_test_samples
            and ev.p99_ms_c > policy.max_p99_ms):
        return Decision("abort", f"latency cap: candidate p99 {ev.p99_ms_c:.1f} ms > "
                        f"{policy.max_p99_ms:g} ms", evidence=evidence)
    if (policy.min_agreement is not None and ev.agreement is not None
            and ev.agreement[0] >= policy.min_test_samples and ev.agreement[1] < policy.min_agreement):
        return Decision("abort", f"shadow agreement {ev.agreement[1]:.1%} < "
                        f"{policy.min_agreement:.0%}", evidence=evidence)
    if ev.step_samples < policy.min_samples or ev.step_seconds < policy.min_step_seconds:
        return Decision("wait", f"step {policy.steps[step]:g} %: {ev.step_samples}/"
                        f"{policy.min_samples} candidate requests", evidence=evidence)
    nxt = step + 1
    if nxt >= len(policy.steps) or policy.steps[nxt] >= 100:
        return Decision("promote", f"no guardrail fired after {ev.errors_c.n} candidate "
                        "requests: promoted to 100 %", weight=100.0, evidence=evidence)
    return Decision("advance", f"no guardrail fired in step {policy.steps[step]:g} % "
                    f"({ev.step_samples} candidate requests): moving to {policy.steps[nxt]:g} %",
                    weight=float(policy.steps[nxt]), evidence=evidence)


def _finite(value):
    """JSON-safe: NaN and infinities become None (the audit log stores strict JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
