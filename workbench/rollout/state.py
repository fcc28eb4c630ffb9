"""Where a rollout stands (table ``rollouts`` of ``predictions.db``) and its audit events."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from .policy import RolloutPolicy

#: states of a rollout; only ``running`` ones are looked at by the controller
STATES = ("running", "promoted", "aborted", "stopped")


@dataclass(frozen=True)
class RolloutState:
    """One model's running (or last) rollout of ``candidate`` on ``alias`` over ``baseline``."""

    model: str
    alias: str
    baseline: int
    candidate: int
    state: str
    step: int
    policy: RolloutPolicy
    started: float
    step_started: float
    updated: float
    last_decision: dict | None

    @property
    def weight(self) -> float:
        """The candidate's share of the alias's traffic now, in percent."""
        if self.state == "promoted":
            return 100.0
        if self.state != "running":
            return 0.0
        return float(self.policy.steps[self.step])

    @property
    def running(self) -> bool:
        return self.state == "running"

    def describe(self) -> str:
        reason = (self.last_decision or {}).get("reason", "")
        return (f"{self.model} {self.alias}: v{self.baseline} → v{self.candidate} {self.state}"
                f" at {self.weight:g} %" + (f" — {reason}" if reason else ""))

    def as_dict(self) -> dict:
        return {"model": self.model, "alias": self.alias, "baseline": self.baseline,
                "candidate": self.candidate, "state": self.state, "step": self.step,
                "weight": self.weight, "policy": self.policy.as_dict(), "started": self.started,
                "step_started": self.step_started, "updated": self.updated,
                "last_decision": self.last_decision}


def read_state(tables, model: str) -> RolloutState | None:
    """The rollout row of ``model`` in ``tables`` (the store's
    :class:`~workbench.store.LoopTables`); None when it never had one."""
    row = tables.get_rollout(model)
    if row is None:
        return None
    return RolloutState(
        model=row["model"], alias=row["alias"], baseline=int(row["baseline"]),
        candidate=int(row["candidate"]), state=row["state"], step=int(row["step"]),
        policy=RolloutPolicy.from_dict(json.loads(row["policy"])), started=row["started"],
        step_started=row["step_started"], updated=row["updated"],
        last_decision=json.loads(row["last_decision"]) if row["last_decision"] else None)


def write_state(tables, state: RolloutState) -> None:
    values = state.as_dict()
    values["policy"] = json.dumps(state.policy.as_dict())
    values["last_decision"] = (None if state.last_decision is None
                               else json.dumps(state.last_decision))
    tables.put_rollout(values)


def audit(registry, state: RolloutState, action: str, detail: dict) -> None:
    """Append a rollout decision to the registry's audit log (``action`` such as
    ``"rollout aborted"``; ``detail`` holds the reason and the evidence)."""
    # the registry has no public "append an event" yet: this is the one place that writes it
    with registry._tables.write() as tx:
        tx.add_audit(name=state.model, action=action, author=registry.author, at=time.time(),
                  version=state.candidate, alias=state.alias, previous=state.baseline,
                  detail=detail)


def load_state(home, model: str, store: str | None = None) -> RolloutState | None:
    """The rollout of ``model`` in ``home`` (None when the home has no prediction log yet)."""
    from pathlib import Path

    from ..monitoring.log import FILENAME, open_tables

    path = Path(home) / FILENAME
    store = open_tables(path, store)
    if not store.exists("loop"):
        return None
    try:
        return read_state(store.loop, model)
    finally:
        store.close()
