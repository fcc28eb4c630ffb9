"""Training speed: workbench's MLPClassifier against scikit-learn's, same network, same epochs.

Digits (standardised, stratified 80/20 split, seed 0); a 64-128-10 relu network trained with Adam
(learning rate 0.001), batches of 64, L2 alpha 1e-4, for the same number of epochs. Each contender
is timed ``--repeats`` times; the median wall time is reported with the ratio to scikit-learn
(float64, its default) and the test accuracy.

    python benchmarks/training.py [--epochs 50] [--repeats 5] [--home DIR]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table, write_results

from workbench.data import Standardizer, load_dataset, split
from workbench.models import MLPClassifier


def contenders(epochs: int):
    common = dict(batch_size=64, alpha=1e-4, random_state=0)
    sk = dict(hidden_layer_sizes=(128,), activation="relu", solver="adam", learning_rate_init=1e-3,
              max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, shuffle=True, **common)
    ours = dict(hidden_layer_sizes=(128,), activation="relu", optimizer="adam", learning_rate=1e-3,
                epochs=epochs, **common)
    return [
        ("scikit-learn MLPClassifier (float64)", lambda: SkMLPClassifier(**sk), np.float64),
        ("scikit-learn MLPClassifier (float32 input)", lambda: SkMLPClassifier(**sk), np.float32),
        ("workbench MLPClassifier (float64)", lambda: MLPClassifier(dtype="float64", **ours), np.float64),
        ("workbench MLPClassifier (float32)", lambda: MLPClassifier(**ours), np.float32),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--home", default=None, help="workbench home (results go to HOME/benchmarks)")
    args = parser.parse_args(argv)

    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = split(data.X, data.y, test_size=0.2, random_state=0)
    scaler = Standardizer().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    rows = []
    for label, make, dtype in contenders(args.epochs):
        Xtr, Xte = X_train.astype(dtype), X_test.astype(dtype)
        times = []
        for _ in range(args.repeats):
            model = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                model.fit(Xtr, y_train)
                times.append(time.perf_counter() - start)
        rows.append({"model": label, "median_s": statistics.median(times), "times_s": times,
                     "test_accuracy": float(model.score(Xte, y_test)), "epochs": args.epochs})
    baseline = rows[0]["median_s"]
    for row in rows:
        row["time_vs_sklearn"] = row["median_s"] / baseline

    path = write_results("training", {"epochs": args.epochs, "repeats": args.repeats, "rows": rows},
                         args.home)
    shown = [{"model": r["model"], "median wall time (s)": f"{r['median_s']:.3f}",
              "time / scikit-learn": f"{r['time_vs_sklearn']:.2f}",
              "test accuracy": f"{r['test_accuracy']:.4f}"} for r in rows]
    print(f"digits, 64-128-10 relu, Adam, batch 64, {args.epochs} epochs, median of {args.repeats}")
    print(table(shown, list(shown[0])))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
