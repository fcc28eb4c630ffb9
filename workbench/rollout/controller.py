"""The rollout controller: looks at running rollouts, decides (:func:`.policy.decide`), acts.

Where it runs
-------------
Every worker of ``workbench serve`` runs :func:`run_in_background` (a daemon thread, one look a
second), and ``workbench rollout run`` runs the same loop in the foreground for a home whose
service is elsewhere. All of them compete for one *lease* (row ``rollout-controller`` of table
``loop_lease``, taken in a ``BEGIN IMMEDIATE`` transaction, valid ``lease_ttl`` seconds and
renewed at every look): exactly one process acts at a time; when it dies, another takes over
once the lease expires. A process with no running rollout does not even ask for the lease.

Acting goes through the registry's public traffic operations — ``set_split`` to move to the
next step, ``promote(candidate)`` at 100 %, ``promote(baseline)`` to roll back — so the serving
workers follow as they follow any alias change, and every decision other than "wait" is
appended to the audit log (``rollout started/advanced/promoted/aborted/stopped``) with its
reason and evidence (effect size, always-valid interval, p-value, samples).
"""
from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from dataclasses import replace

import numpy as np

from ..home import resolve_home
from ..monitoring.log import FILENAME, open_tables
from .policy import Decision, Evidence, RolloutPolicy, decide
from .sequential import ArmStats
from .state import RolloutState, audit, read_state, write_state

logger = logging.getLogger("workbench.rollout")
LEASE = "rollout-controller"


class RolloutController:
    """Start, stop and drive rollouts of a workbench home.

    Examples
    --------
    >>> ctl = RolloutController(home)                                # doctest: +SKIP
    >>> ctl.start("digits", alias="production", to=2)                # doctest: +SKIP
    >>> ctl.run(until=lambda: not ctl.status("digits").running)      # doctest: +SKIP
    """

    def __init__(self, home=None, *, lease_ttl: float = 10.0, holder: str | None = None,
                 author: str = "rollout-controller", store: str | None = None):
        from ..registry import Registry

        self.home = resolve_home(home)
        self.registry = Registry(self.home, author=author, store=store)
        self.store = open_tables(self.home / FILENAME, store)
        self.tables = self.store.loop
        self.lease_ttl = float(lease_ttl)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def __repr__(self) -> str:
        return f"RolloutController({str(self.home)!r}, holder={self.holder!r})"

    def close(self) -> None:
        self.tables.release_lease(LEASE, self.holder)
        self.store.close()
        self.registry.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- what a person does ----------------------------------------------------------------
    def start(self, model: str, *, to: int, alias: str = "production",
              policy: RolloutPolicy | None = None) -> RolloutState:
        """Start moving ``alias`` of ``model`` from its current version to ``to``."""
        policy = policy or RolloutPolicy()
        current = read_state(self.tables, model)
        if current is not None and current.running:
            raise ValueError(f"{model} already has a running rollout ({current.describe()}); "
                             "stop it first")
        route = self.registry.route(model, alias)
        if route.is_split:
            raise ValueError(f"alias {alias!r} of {model!r} is already split ({route!r}); end "
                             "that canary (promote or abort) before starting a rollout")
        baseline, to = route.version, int(to)
        if to == baseline:
            raise ValueError(f"alias {alias!r} of {model!r} already points at v{to}")
        self.registry.get_version(model, to)          # LookupError for an unknown version
        now = time.time()
        state = RolloutState(model, alias, baseline, to, "running", 0, policy, now, now, now, None)
        self._route(state, policy.steps[0])
        write_state(self.tables, state)
        detail = {"reason": f"rollout of v{to} over v{baseline} started at "
                            f"{policy.steps[0]:g} %", "policy": policy.as_dict()}
        audit(self.registry, state, "rollout started", detail)
        self._notify(state, "started", detail)
        if policy.steps[0] >= 100:
            state = replace(state, state="promoted")
            write_state(self.tables, state)
        return state

    def stop(self, model: str, reason: str = "stopped by hand") -> RolloutState:
        """Stop ``model``'s running rollout and send all traffic back to the baseline."""
        state = read_state(self.tables, model)
        if state is None or not state.running:
            raise LookupError(f"{model} has no running rollout")
        return self._finish(state, Decision("stop", reason), "stopped")

    def status(self, model: str) -> RolloutState | None:
        return read_state(self.tables, model)

    # -- what the controller does ------------------------------------------------------------
    def tick(self, now: float | None = None) -> list[tuple[RolloutState, Decision]]:
        """One look at every running rollout (if this process holds the lease)."""
        models = self.tables.running_rollouts()
        if not models or not self.tables.acquire_lease(LEASE, self.holder,
                                                     self.lease_ttl):
            return []
        out = []
        for model in models:
            state = read_state(self.tables, model)
            if state is None or not state.running:
                continue
            try:
                out.append(self._look(state, time.time() if now is None else now))
            except Exception:
                logger.exception("rollout of %s: look failed", model)
        return out

    def run(self, *, interval: float = 1.0, until=None, stop: threading.Event | None = None):
        """Look every ``interval`` seconds until ``until()`` is true or ``stop`` is set."""
        stop = stop or threading.Event()
        while not stop.is_set() and not (until is not None and until()):
            try:
                self.tick()
            except Exception:
                logger.exception("rollout controller tick failed")
            stop.wait(interval)

    def _look(self, state: RolloutState, now: float):
        route = self.registry.route(state.model, state.alias)
        if state.candidate not in route.weights:   # someone moved the alias by hand
            decision = Decision("stop", f"the alias was changed by hand ({route!r})")
            return self._finish(state, decision, "stopped", move=False), decision
        decision = decide(state.policy, self.evidence(state, now), state.step)
        if decision.action == "wait":
            state = replace(state, updated=now, last_decision=_decision_json(decision))
            write_state(self.tables, state)
        elif decision.action == "advance":
            state = replace(state, step=state.step + 1, step_started=now, updated=now,
                            last_decision=_decision_json(decision))
            self._route(state, decision.weight)
            write_state(self.tables, state)
            self._record(state, "advanced", decision)
        elif decision.action == "promote":
            state = self._finish(state, decision, "promoted")
        else:
            state = self._finish(state, decision, "aborted")
        return state, decision

    def evidence(self, state: RolloutState, now: float | None = None) -> Evidence:
        """Candidate and baseline figures since the rollout started (see :class:`Evidence`)."""
        now = time.time() if now is None else now
        b, c = state.baseline, state.candidate
        rows = np.array(self.tables.arm_requests(state.model, [b, c], state.started),
                        dtype=np.float64).reshape(-1, 4)
        arms = {}
        for v in (b, c):
            mine = rows[rows[:, 0] == v]
            arms[v] = (ArmStats.proportion(int((mine[:, 1] >= 400).sum()), len(mine)),
                       ArmStats.of(np.log(np.maximum(mine[:, 2], 1e-3))),
                       float(np.percentile(mine[:, 2], 99)) if len(mine) else math.nan)
        step_samples = int(((rows[:, 0] == c) & (rows[:, 3] >= state.step_started)).sum())
        quality = self._quality(state)
        agreement = None
        if self.registry.route(state.model, state.alias).shadow == c:
            n, mean = self.tables.shadow_agreement(state.model, c, state.started)
            agreement = (int(n), float(mean)) if n else None
        return Evidence(errors_c=arms[c][0], errors_b=arms[b][0], log_latency_c=arms[c][1],
                        log_latency_b=arms[b][1], p99_ms_c=arms[c][2], p99_ms_b=arms[b][2],
                        quality_c=quality.get(c), quality_b=quality.get(b),
                        agreement=agreement, step_samples=step_samples,
                        step_seconds=now - state.step_started)

    def _quality(self, state: RolloutState) -> dict:
        """Per arm: 1 per wrong label (classifiers) or the squared error (regressors)."""
        from ..monitoring.quality import same_label

        task = (self.registry.get_version(state.model, state.candidate).signature or {}).get(
            "task", "classification")
        values: dict = {}
        for version, _at, _row, output, label in self.tables.labelled_rows(
                state.model, state.started, math.inf):
            if task == "classification":
                value = 0.0 if same_label(output, label) else 1.0
            else:
                value = (float(np.ravel(output)[0]) - float(label)) ** 2
            values.setdefault(int(version), []).append(value)
        return {v: ArmStats.of(x) for v, x in values.items()}

    # -- acting --------------------------------------------------------------------------------
    def _route(self, state: RolloutState, weight: float) -> None:
        if weight >= 100:
            self._send_all(state, state.candidate)
        else:
            self.registry.set_split(state.model, state.alias,
                                    {state.baseline: 100.0 - weight, state.candidate: weight})

    def _send_all(self, state: RolloutState, version: int) -> None:
        route = self.registry.route(state.model, state.alias)
        if route.is_split and version in route.weights:
            self.registry.promote(state.model, state.alias, version)
        elif route.version != version or route.is_split:
            self.registry.set_alias(state.model, state.alias, version)

    def _finish(self, state, decision: Decision, outcome: str, move: bool = True):
        if move:
            self._send_all(state, state.candidate if outcome == "promoted" else state.baseline)
        now = time.time()
        state = replace(state, state=outcome, updated=now, last_decision=_decision_json(decision))
        write_state(self.tables, state)
        self._record(state, outcome, decision)
        return state

    def _record(self, state, outcome: str, decision: Decision) -> None:
        detail = {"reason": decision.reason, "step": state.step, "weight": state.weight,
                  "evidence": decision.evidence}
        audit(self.registry, state, f"rollout {outcome}", detail)
        self._notify(state, outcome, detail)
        logger.info("rollout %s", state.describe())

    def _notify(self, state, outcome: str, detail: dict) -> None:
        from ..monitoring.webhooks import deliver_in_background, load_webhooks

        try:
            hooks = load_webhooks(self.home)
        except ValueError:
            logger.exception("alerts.json: webhooks not usable")
            return
        event = {"kind": "rollout", "outcome": outcome, "model": state.model,
                 "alias": state.alias, "baseline": state.baseline, "candidate": state.candidate,
                 "weight": state.weight, "time": time.time(), **detail,
                 "text": f"[rollout {outcome}] {state.model} {state.alias}: v{state.baseline} → "
                         f"v{state.candidate} — {detail.get('reason', '')}"}
        deliver_in_background(self.home, hooks, [event])


def _decision_json(decision: Decision) -> dict:
    return {"action": decision.action, "reason": decision.reason, "weight": decision.weight,
            "evidence": decision.evidence, "time": time.time()}


def run_in_background(home, stop: threading.Event, interval: float = 1.0,
                      store: str | None = None) -> threading.Thread:
    """The controller loop of a serving worker, on a daemon thread until ``stop`` is set
    (``store``: the worker's store URL, None for ``$WORKBENCH_STORE`` or the home's files)."""
    def loop():
        controller = RolloutController(home, store=store)
        try:
            controller.run(interval=interval, stop=stop)
        finally:
            controller.close()
    thread = threading.Thread(target=loop, name="rollout-controller", daemon=True)
    thread.start()
    return thread
