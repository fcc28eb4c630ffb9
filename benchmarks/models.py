"""Model families against scikit-learn's equivalents: accuracy, fit and predict times.

For digits, iris and breast cancer: stratified 5-fold cross-validation (seed 0), features
standardised inside each fold (pixels divided by 16 for the CNN). Each family is paired with the
scikit-learn estimator it mirrors, both at their defaults (forests at 100 trees); the table shows
the mean accuracy of each, the difference in points, and the mean fit and predict wall times per
fold. ``ConvClassifier`` has no scikit-learn twin: it is compared with scikit-learn's
``MLPClassifier``, and runs on digits only (its images are 8 × 8).

    python benchmarks/models.py [--datasets digits iris breast_cancer] [--folds 5] [--home DIR]
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn import ensemble, linear_model, neural_network, svm, tree
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table, write_results

from workbench.data import Standardizer, load_dataset
from workbench.models import (
    ConvClassifier,
    DecisionTreeClassifier,
    LinearSVC,
    LogisticRegression,
    MLPClassifier,
    RandomForestClassifier,
)

PAIRS = [
    ("DecisionTreeClassifier", lambda: DecisionTreeClassifier(random_state=0),
     lambda: tree.DecisionTreeClassifier(random_state=0)),
    ("RandomForestClassifier", lambda: RandomForestClassifier(random_state=0),
     lambda: ensemble.RandomForestClassifier(random_state=0)),
    ("LinearSVC", lambda: LinearSVC(random_state=0), lambda: svm.LinearSVC(random_state=0)),
    ("LogisticRegression", lambda: LogisticRegression(random_state=0),
     lambda: linear_model.LogisticRegression()),
    ("MLPClassifier", lambda: MLPClassifier(random_state=0),
     lambda: neural_network.MLPClassifier(random_state=0)),
    ("ConvClassifier (vs sklearn MLP)", lambda: ConvClassifier(random_state=0),
     lambda: neural_network.MLPClassifier(random_state=0)),
]


def _timed(make, X_train, y_train, X_test, y_test):
    model = make()
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    return accuracy, fit, time.perf_counter() - start


def run(datasets, folds: int) -> list[dict]:
    rows = []
    for name in datasets:
        data = load_dataset(name)
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(data.X, data.y))
        for label, ours, theirs in PAIRS:
            if label.startswith("ConvClassifier") and name != "digits":
                continue
            got = {"ours": [], "sklearn": []}
            for train, test in splits:
                if label.startswith("ConvClassifier"):
                    X_train, X_test = data.X[train] / 16, data.X[test] / 16
                else:
                    scaler = Standardizer().fit(data.X[train])
                    X_train, X_test = scaler.transform(data.X[train]), scaler.transform(data.X[test])
                for side, make in (("ours", ours), ("sklearn", theirs)):
                    got[side].append(_timed(make, X_train, data.y[train], X_test, data.y[test]))
            mean = {side: np.mean(values, axis=0) for side, values in got.items()}
            rows.append({
                "dataset": name, "model": label,
                "accuracy": f"{mean['ours'][0]:.4f}", "sklearn accuracy": f"{mean['sklearn'][0]:.4f}",
                "diff (points)": f"{100 * (mean['ours'][0] - mean['sklearn'][0]):+.1f}",
                "fit s": f"{mean['ours'][1]:.3f}", "sklearn fit s": f"{mean['sklearn'][1]:.3f}",
                "predict ms": f"{1000 * mean['ours'][2]:.2f}",
                "sklearn predict ms": f"{1000 * mean['sklearn'][2]:.2f}",
            })
            print(table(rows[-1:], list(rows[-1])).splitlines()[-1], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "iris", "breast_cancer"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--home", default=None, help="workbench home for the results JSON")
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # scikit-learn's MLP at max_iter
        rows = run(args.datasets, args.folds)
    print()
    print(table(rows, list(rows[0])))
    path = write_results("models", {"folds": args.folds, "rows": rows}, args.home)
    print(f"\nresults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
