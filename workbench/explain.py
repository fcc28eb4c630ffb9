"""Why a model decides: permutation feature importance and input-gradient saliency.

* :func:`permutation_importance` — for any fitted model with ``score`` (or a ``scoring``
  function): how much the score drops when one feature's column is shuffled, over repeats.
* :func:`saliency` — for workbench networks (MLPs, linear and quantized models): the gradient
  of the predicted class's probability (or logit) with respect to each input, by backpropagating
  through the network in numpy.
* :func:`plot_importance`, :func:`plot_saliency` — drawing, kept apart from the computation.

Permutation importance of feature :math:`j`, over repeats :math:`r` with shuffled columns:

.. math::

    I_j = \\frac{1}{R} \\sum_{r=1}^{R} \\big(s - s_{j,r}\\big)

Saliency of row :math:`x` for class :math:`c`: :math:`\\partial p_c(x) / \\partial x`, where
:math:`\\partial p_c / \\partial z = p_c (e_c - p)` for a softmax and the usual backward pass
:math:`\\delta_{l-1} = (\\delta_l W_l^\\top) \\odot f'(Z_{l-1})` carries it to the input.
"""
from __future__ import annotations

import html
import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import is_classifier

from .models.activations import get_activation, sigmoid
from .models.losses import softmax

__all__ = ["PermutationImportance", "permutation_importance", "saliency", "plot_importance",
           "plot_saliency"]


@dataclass(frozen=True)
class PermutationImportance:
    """Score drop per feature when that feature is shuffled (see :func:`permutation_importance`).

    Attributes
    ----------
    feature_names : tuple of str, length n_features
    importances_mean, importances_std : ndarray of shape (n_features,)
    importances : ndarray of shape (n_features, n_repeats)
        Score drop of every repeat.
    baseline_score : float
        Score on the unshuffled data.
    """

    feature_names: tuple
    importances_mean: np.ndarray
    importances_std: np.ndarray
    importances: np.ndarray
    baseline_score: float

    def ranking(self) -> list[str]:
        """Feature names, most important first."""
        return [self.feature_names[j] for j in np.argsort(-self.importances_mean, kind="stable")]

    def _top_rows(self, top: int = 10):
        order = np.argsort(-self.importances_mean, kind="stable")[:top]
        return [(self.feature_names[j], self.importances_mean[j], self.importances_std[j])
                for j in order]

    def __repr__(self) -> str:
        rows = "\n".join(f"  {n:<16} {m:+.4f} ± {s:.4f}" for n, m, s in self._top_rows())
        return (f"PermutationImportance({len(self.feature_names)} features, "
                f"{self.importances.shape[1]} repeats, baseline {self.baseline_score:.4f})\n{rows}")

    def _repr_html_(self) -> str:
        body = "".join(f"<tr><td>{html.escape(str(n))}</td><td>{m:+.4f}</td><td>{s:.4f}</td></tr>"
                       for n, m, s in self._top_rows())
        return (f"<table class='workbench-importance'><caption>score drop when shuffled "
                f"(baseline {self.baseline_score:.4f})</caption><tr><th>feature</th>"
                f"<th>mean</th><th>std</th></tr>{body}</table>")


def _feature_names(model, X, feature_names, n_features):
    if feature_names is not None:
        names = [str(n) for n in feature_names]
        if len(names) != n_features:
            raise ValueError(f"feature_names has {len(names)} names for {n_features} features")
        return tuple(names)
    for source in (getattr(X, "columns", None), getattr(model, "feature_names_in_", None)):
        if source is not None and len(source) == n_features:
            return tuple(str(n) for n in source)
    return tuple(f"x{j}" for j in range(n_features))


def permutation_importance(model, X, y, n_repeats: int = 10, random_state=0, *,
                           scoring=None, feature_names=None) -> PermutationImportance:
    """How much a fitted model's score drops when each feature is shuffled.

    Parameters
    ----------
    model : fitted estimator with ``score(X, y)`` (any model, workbench or scikit-learn)
    X : array-like of shape (n_samples, n_features) (ndarray or DataFrame)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    n_repeats : int, default=10
        Shuffles per feature; their spread is ``importances_std``.
    random_state : int, Generator or None, default=0
    scoring : callable ``scoring(model, X, y) -> float``, optional
        Higher is better; ``model.score`` by default (accuracy or R²).
    feature_names : sequence of str, optional
        Default: DataFrame columns, then ``model.feature_names_in_``, else ``x0, x1, …``.

    Returns
    -------
    PermutationImportance
    """
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, numbers.Integral) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer, got {n_repeats!r}")
    if scoring is None:
        if not callable(getattr(model, "score", None)):
            raise TypeError(f"{type(model).__name__} has no score method; pass scoring=f(model, X, y)")
        scoring = lambda m, X_, y_: m.score(X_, y_)  # noqa: E731
    frame = hasattr(X, "iloc")
    Xp = X.copy() if frame else np.array(X, copy=True)
    if Xp.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {Xp.shape}")
    n, d = Xp.shape
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)}")
    rng = np.random.default_rng(random_state)
    baseline = float(scoring(model, Xp, y))
    drops = np.empty((d, n_repeats))
    for j in range(d):
        column = Xp.iloc[:, j].to_numpy(copy=True) if frame else Xp[:, j].copy()
        for r in range(n_repeats):
            shuffled = column[rng.permutation(n)]
            if frame:
                Xp.iloc[:, j] = shuffled
            else:
                Xp[:, j] = shuffled
            drops[j, r] = baseline - float(scoring(model, Xp, y))
        if frame:
            Xp.iloc[:, j] = column
        else:
            Xp[:, j] = column
    return PermutationImportance(_feature_names(model, X, feature_names, d), drops.mean(axis=1),
                                 drops.std(axis=1), drops, baseline)


# -- saliency -----------------------------------------------------------------------------------
def _network_parts(model):
    """(weight matrices, activation name, output link name) of a workbench network."""
    if callable(getattr(model, "dequantized_params", None)):  # a quantized network
        p, activation, output = model.dequantized_params(), model.activation_, model.output_
    elif hasattr(model, "params_") and callable(getattr(model, "_loss", None)):
        p, activation = model.params_, model._activation_name()
        output = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid",
                  "mse": "identity", "hinge": "scores",
                  "squared_hinge": "scores"}[model._loss().name]
    else:
        raise TypeError(f"saliency needs a differentiable workbench network (MLP, linear, SVM, "
                        f"convolutional or quantized model), got {type(model).__name__}; for "
                        f"trees and forests use permutation_importance or feature_importances_")
    return [p[f"W{i}"] for i in range(len(p) // 2)], activation, output


def _output_gradient(Z, output, idx, of):
    """d(chosen output)/dZ, shape like Z; ``idx`` is the class (or output) index per row."""
    rows = np.arange(len(Z))
    if output == "scores" and Z.shape[1] == 1:  # LinearSVC, two classes: scores (-z, z)
        return np.where(idx == 1, 1.0, -1.0)[:, None] * np.ones_like(Z)
    if output == "sigmoid":  # one logit z: P(class 1) = σ(z), P(class 0) = 1 - σ(z)
        sign = np.where(idx == 1, 1.0, -1.0)[:, None]
        if of == "logit":
            return sign * np.ones_like(Z)
        p = sigmoid(Z)
        return sign * p * (1 - p)
    onehot = np.zeros_like(Z)
    onehot[rows, idx] = 1
    if output in ("identity", "scores") or of == "logit":
        return onehot
    P = softmax(Z)
    return P[rows, idx][:, None] * (onehot - P)


def saliency(model, X, *, target=None, of=None) -> np.ndarray:
    """Input-gradient saliency: how each input feature moves one output, row by row.

    Parameters
    ----------
    model : fitted workbench network (MLPClassifier, MLPRegressor, linear or quantized model)
    X : array-like of shape (n_samples, n_features)
    target : label, array of labels of shape (n_samples,), or None
        Classifiers: the class whose output is differentiated (default: each row's predicted
        class). Regressors: the output index (default 0).
    of : {'probability', 'logit'} for classifiers, 'value' for regressors; default by task

    Returns
    -------
    ndarray of shape (n_samples, n_features)
        :math:`\\partial\\, \\text{output} / \\partial x` at each row.
    """
    weights, activation, output = _network_parts(model)
    X = model._check_X(X)
    classifier = is_classifier(model)
    allowed = ("probability", "logit") if classifier else ("value",)
    of = allowed[0] if of is None else of
    if of not in allowed:
        raise ValueError(f"of must be one of {allowed} for {type(model).__name__}, got {of!r}")
    Z, cache = model._logits(X, keep=True)
    if classifier:
        if target is None:
            idx = model.forward(X).argmax(axis=1)   # probabilities, or scores for an SVM
        else:
            labels = np.broadcast_to(np.asarray(target, dtype=model.classes_.dtype), (len(X),))
            idx = np.searchsorted(model.classes_, labels).clip(0, len(model.classes_) - 1)
            if np.any(model.classes_[idx] != labels):
                raise ValueError(f"target {target!r} is not among the classes "
                                 f"{model.classes_.tolist()}")
    else:
        k = 0 if target is None else target
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k < Z.shape[1]:
            raise ValueError(f"target must be an output index in [0, {Z.shape[1]}), got {target!r}")
        idx = np.full(len(X), int(k))
    delta = _output_gradient(Z, output, idx, of)
    if callable(getattr(model, "input_gradient", None)):  # a convolutional network (col2im)
        return model.input_gradient(X, delta)
    _, f_backward = get_activation(activation)
    for i in reversed(range(len(weights))):
        grad_A = delta @ weights[i].T
        if i == 0:
            return grad_A
        delta = f_backward(cache[2 * i - 1], cache[2 * i], grad_A)


# -- drawing ------------------------------------------------------------------------------------
def plot_importance(result: PermutationImportance, ax=None, *, top: int | None = 15):
    """Horizontal bars of the mean score drop with the std as error bars; returns ``ax``."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.subplots(figsize=(6, 4))[1]
    rows = result._top_rows(top or len(result.feature_names))[::-1]
    ax.barh([r[0] for r in rows], [r[1] for r in rows], xerr=[r[2] for r in rows],
            color="tab:blue", alpha=0.8, capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"score drop when shuffled (baseline {result.baseline_score:.3f})")
    return ax


def plot_saliency(values, images=None, *, shape=(8, 8), titles=None):
    """Draw saliency as heat maps (red raises the output, blue lowers it); returns the figure.

    Parameters
    ----------
    values : ndarray of shape (n_samples, h * w)
        From :func:`saliency`.
    images : ndarray of shape (n_samples, h * w), optional
        The inputs, drawn in a row above their heat maps.
    shape : (h, w), default=(8, 8)
        Image shape (8×8 for the digits).
    titles : list of str, optional
    """
    import matplotlib.pyplot as plt

    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != shape[0] * shape[1]:
        raise ValueError(f"values must have shape (n_samples, {shape[0] * shape[1]}) for "
                         f"{shape[0]}×{shape[1]} images, got {values.shape}")
    n, rows = len(values), 1 if images is None else 2
    fig, axes = plt.subplots(rows, n, figsize=(1.6 * n, 1.7 * rows), squeeze=False)
    for k in range(n):
        if images is not None:
            axes[0, k].imshow(np.asarray(images[k]).reshape(shape), cmap="gray_r")
        limit = np.abs(values[k]).max() or 1.0
        axes[-1, k].imshow(values[k].reshape(shape), cmap="RdBu_r", vmin=-limit, vmax=limit)
        if titles is not None:
            axes[0, k].set_title(str(titles[k]), fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
