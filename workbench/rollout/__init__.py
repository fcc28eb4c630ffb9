"""Automatic rollout: a candidate version earns its traffic step by step, guarded by an
always-valid sequential test (:mod:`.sequential`), or is rolled back — every decision audited.

- :class:`RolloutPolicy` (:mod:`.policy`): steps, sample sizes, guardrails, the decision rule;
- :class:`RolloutController` (:mod:`.controller`): start / stop / status, and the loop that
  acts, one process at a time (a lease);
- :func:`msprt` (:mod:`.sequential`): the statistics, with the explanation.
"""
from .controller import RolloutController, run_in_background
from .policy import Decision, Evidence, RolloutPolicy, decide
from .sequential import ArmStats, Comparison, msprt
from .state import RolloutState

__all__ = [
           "ArmStats",
           "Comparison",
           "Decision",
           "Evidence",
           "RolloutController",
           "RolloutPolicy",
           "RolloutState",
           "decide",
           "msprt",
           "run_in_background",
]
