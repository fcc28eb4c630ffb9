"""The main job, ``workbench demo``: train → register → serve → simulate traffic → Voila dashboard.

1. If the home has no ``digits`` model, train two versions of a digits MLP and register them
   (v1 small, v2 larger), each with its training inputs as the drift reference; ``production``
   points first at v1, then at v2, so the dashboard's *Roll back* button has somewhere to go.
2. Start the inference service on 127.0.0.1 (with a maintainer key for the dashboard's rollback).
3. Start the traffic simulator: steady requests, a few bad ones, input drift arriving after
   a minute, and the true digit of every request posted back as feedback a few seconds later
   (as ground truth arrives in real life: late and out of order).
3b. Register a *candidate* v3 that is worse than production (trained on partly wrong labels) and
   start an automatic rollout of it (10 % → 50 % → 100 %). The controller inside the service
   compares it with production as labels arrive and, once its sequential test is sure, aborts
   and rolls production back to v2 by itself — every decision with its evidence in the audit
   log and on the dashboard.
4. Start Voila on ``notebooks/04_monitoring.ipynb`` and print the URLs. The page needs a token
   (a fresh random one each run, carried by the printed URL); it is read-only unless
   ``--allow-rollback`` is given, and then its *Roll back* control asks for confirmation. Kernels
   of closed pages are shut down after ``--cull-after`` seconds, at most ``--max-pages`` at once.

Ctrl-C stops all of them.
"""
from __future__ import annotations

import os
import threading
import time
import warnings
from pathlib import Path

from .processes import stop_process_group

from .dashboard import CULL_IDLE_TIMEOUT, MAX_KERNELS, start_dashboard

ROOT = Path(__file__).resolve().parent.parent


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("demo", help="train, register, serve, simulate traffic and open the "
                              "Voila dashboard", description=__doc__, formatter_class=_raw())
    p.add_argument("--home", help="workbench home (default: $WORKBENCH_HOME or artifacts/)")
    from .store import add_store_option

    add_store_option(p)
    p.add_argument("--port", type=int, default=8000, help="inference service port (default 8000)")
    p.add_argument("--voila-port", type=int, default=8866, help="dashboard port (default 8866)")
    p.add_argument("--rps", type=float, default=15.0, help="simulated requests per second")
    p.add_argument("--duration", type=float, default=3600.0, help="seconds of simulated traffic")
    p.add_argument("--allow-rollback", action="store_true", help="show the dashboard's Roll back "
                   "control (asks for confirmation); without it the page is read-only")
    p.add_argument("--cull-after", type=int, default=CULL_IDLE_TIMEOUT, help="seconds after which "
                   f"the kernel of a closed or idle page is shut down (default {CULL_IDLE_TIMEOUT})")
    p.add_argument("--max-pages", type=int, default=MAX_KERNELS, help="most dashboard pages (kernels) "
                   f"open at once (default {MAX_KERNELS})")
    p.set_defaults(func=run)


def _raw():
    import argparse

    return argparse.RawDescriptionHelpFormatter


def train_digits_versions(home, *, progress: bool = True) -> list:
    """Register two digits MLPs in ``home`` (if it has none) and return their versions."""
    from .data import Standardizer, load_dataset, split
    from .models import MLPClassifier
    from .registry import Registry

    with Registry(home) as registry:
        if "digits" in registry.models():
            return registry.versions("digits")
        data = load_dataset("digits")
        X_train, X_test, y_train, y_test = split(data.X, data.y, test_size=0.2, random_state=0)
        scaler = Standardizer().fit(X_train)
        versions = []
        for sizes, epochs in (((32,), 15), ((128,), 40)):
            model = MLPClassifier(sizes, epochs=epochs, random_state=0, verbose=progress)
            model.fit(scaler.transform(X_train), y_train)
            scaler.fold_into(model)  # the served model takes raw pixel values (0-16)
            accuracy = float(model.score(X_test, y_test))
            versions.append(registry.register(
                "digits", model, metrics={"accuracy": accuracy}, params={"hidden_layer_sizes": list(sizes),
                                                                         "epochs": epochs},
                tags={"data": "digits"}, description=f"digits MLP {sizes}, {epochs} epochs",
                reference=X_train, feature_names=data.feature_names))
        # v1 went live first, then v2 was promoted: production can be rolled back to v1
        registry.set_alias("digits", "production", versions[0].version)
        registry.set_alias("digits", "production", versions[1].version)
        return versions


#: the demo's rollout: small steps and sample sizes, so the decision comes within a few minutes
DEMO_POLICY = {"steps": (10, 50, 100), "min_samples": 150, "min_test_samples": 30}


def train_candidate(home, *, mislabelled: float = 0.8):
    """Register digits v3, trained with ``mislabelled`` of its labels wrong (unless a v3 exists)."""
    import numpy as np

    from .data import Standardizer, load_dataset, split
    from .models import MLPClassifier
    from .registry import Registry

    with Registry(home) as registry:
        versions = registry.versions("digits")
        if len(versions) >= 3:
            return versions[2]
        data = load_dataset("digits")
        X_train, X_test, y_train, y_test = split(data.X, data.y, test_size=0.2, random_state=0)
        rng = np.random.default_rng(0)
        wrong = rng.random(len(y_train)) < mislabelled
        noisy = np.where(wrong, rng.integers(0, 10, len(y_train)), y_train)
        scaler = Standardizer().fit(X_train)
        model = MLPClassifier((64,), epochs=30, random_state=0).fit(scaler.transform(X_train), noisy)
        scaler.fold_into(model)
        return registry.register(
            "digits", model, metrics={"accuracy": float(model.score(X_test, y_test))},
            params={"hidden_layer_sizes": [64], "mislabelled": mislabelled},
            description=f"a candidate trained with {mislabelled:.0%} wrong labels (the demo's bad "
                        "rollout)", reference=X_train, parent=versions[-1],
            feature_names=data.feature_names)


def start_candidate_rollout(home, candidate) -> str:
    """Start the automatic rollout of ``candidate``; return a line saying what happened."""
    from .registry import Registry
    from .rollout.controller import RolloutController
    from .rollout.policy import RolloutPolicy

    with Registry(home) as registry:
        live = registry.aliases("digits").get("production")
    if live == candidate.version:
        return f"production already runs v{candidate.version}: no rollout started"
    with RolloutController(home) as controller:
        try:
            state = controller.start("digits", to=candidate.version, policy=RolloutPolicy(**DEMO_POLICY))
        except ValueError as exc:        # one is running already (a demo started before)
            return str(exc)
    return state.describe()


def run(args) -> int:
    from .home import resolve_home
    from .data import load_dataset
    from .loadgen import TrafficSimulator
    from .serving import deploy
    from .serving.keys import KeyStore

    from .processes import interrupt_on_sigterm
    from .serving.preflight import check_port

    interrupt_on_sigterm()
    for port in (args.port, args.voila_port):   # before any training: a busy port is one line
        check_port("127.0.0.1", port)
    home = resolve_home(args.home)
    print(f"workbench home: {home}")
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():   # the demo's models train a fixed, short number of epochs
        warnings.simplefilter("ignore", ConvergenceWarning)
        versions = [*train_digits_versions(home), train_candidate(home)]
    for v in versions:
        print(f"  digits v{v.version}: accuracy {v.metrics.get('accuracy', float('nan')):.4f}  "
              f"({v.description})")
    endpoint = deploy("digits", home=home, port=args.port, role="maintainer", log_inputs=0.2)
    sim_key_name, voila = f"demo-simulator-{os.getpid()}", None
    try:  # from here on, whatever fails, the service (and what else started) is stopped
        store = KeyStore(home)
        sim_key = store.create(sim_key_name, "predictor")
        store.close()
        digits = load_dataset("digits")
        simulator = TrafficSimulator(endpoint.url, "digits", digits.X, labels=digits.y, key=sim_key,
                                     rps=args.rps, duration=args.duration, drift=2.0,
                                     drift_start=min(0.5, 60.0 / args.duration), bad_fraction=0.02,
                                     label_delay=(2.0, 15.0))
        threading.Thread(target=simulator.run, name="simulator", daemon=True).start()
        voila, page = start_dashboard(home, args.voila_port, url=endpoint.url,
                                      maintainer_key=endpoint.key, allow_rollback=args.allow_rollback,
                                      cull_after=args.cull_after, max_pages=args.max_pages)
        print(f"\ninference service : {endpoint.url}   (API docs: {endpoint.url}/docs)")
        print(f"dashboard (Voila) : {page}"
              + ("   (Roll back enabled)" if args.allow_rollback else "   (read-only)"))
        print(f"simulated traffic : {simulator!r}, true labels posted 2-15 s later")
        print(f"rollout           : {start_candidate_rollout(home, train_candidate(home))}")
        print("Ctrl-C stops everything.\n")
        while voila.poll() is None:
            time.sleep(0.5)
        print(f"Voila exited with code {voila.returncode}")
        return voila.returncode or 0
    except KeyboardInterrupt:
        print("\nstopping …")
        return 0
    finally:
        if voila is not None:
            stop_process_group(voila, timeout=10)
        endpoint.stop()
        store = KeyStore(home)
        if any(k.name == sim_key_name for k in store.list()):
            store.revoke(sim_key_name)
        store.close()
        print("stopped: dashboard, service and simulator")
