"""Smaller variants of a trained network — quantization and pruning — and what they cost.

* :func:`quantize` — integer weight codes with symmetric float scales
  (:class:`~workbench.models.QuantizedClassifier` / ``QuantizedRegressor``).
* :func:`prune` — magnitude pruning per layer, optionally fine-tuned with the mask kept.
* :func:`report` — size on disk, accuracy (or R²) and latency of two models side by side.

Both variants are ordinary workbench models: ``Registry.register(name, variant, parent=v)``
stores them (a quantized model in its compact form), ``load`` rebuilds them and serving runs them.

Examples
--------
>>> from workbench.optimize import quantize, prune, report           # doctest: +SKIP
>>> q8 = quantize(mlp, bits=8)                                        # doctest: +SKIP
>>> p50 = prune(mlp, sparsity=0.5, X=X_train, y=y_train, epochs=5)    # doctest: +SKIP
>>> report(mlp, q8, X_test, y_test)                                   # doctest: +SKIP
"""
from __future__ import annotations

import html
import numbers
import time
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from .models import from_spec
from .models.network import Network
from .models.quantized import (SUPPORTED_BITS, QuantizedClassifier, QuantizedRegressor,
                               _QuantizedNetwork, check_bits)

__all__ = ["quantize", "prune", "report", "measure", "sparsity", "size_on_disk", "ModelFigures",
           "OptimizationReport", "SUPPORTED_BITS"]


def _check_network(model, what: str) -> None:
    if isinstance(model, _QuantizedNetwork):
        raise TypeError(f"{what} needs a float workbench network, got an already quantized "
                        f"{type(model).__name__}; {what} the float model instead")
    if not isinstance(model, Network):
        extra = (": a tree's size is set by max_depth / min_samples_leaf instead"
                 if hasattr(model, "criterion") else "")
        raise TypeError(f"{what} works on workbench networks (MLPClassifier, MLPRegressor, "
                        f"LogisticRegression, LinearRegression, LinearSVC, ConvClassifier), got "
                        f"{type(model).__name__}{extra}")
    check_is_fitted(model, "params_", msg=f"This {type(model).__name__} instance is not fitted "
                    f"yet; fit it before calling {what}().")
    if what == "quantize" and model._loss().name not in ("cross_entropy", "binary_cross_entropy",
                                                         "mse"):
        raise TypeError(f"quantize works on dense networks with probability or value outputs "
                        f"(MLPs, LogisticRegression, LinearRegression), not {type(model).__name__}; "
                        f"prune it instead")
    if what == "quantize" and callable(getattr(model, "input_gradient", None)):
        raise TypeError(f"quantize stores dense layers only; {type(model).__name__} has a "
                        f"convolution layer: prune it instead")


def quantize(model, bits: int = 8, per_channel: bool = True):
    """Return a copy of a fitted network whose weights are ``bits``-bit integer codes.

    Symmetric quantization (zero maps to code 0) with one float32 scale per output unit
    (``per_channel=True``) or per layer; biases stay float. Predictions use dequantised
    arithmetic (codes × scale, expanded once to float): see :mod:`workbench.models.quantized`.

    Parameters
    ----------
    model : fitted MLPClassifier, MLPRegressor, LogisticRegression or LinearRegression
    bits : {2, 4, 8, 16}, default=8
        8 stores ``int8`` codes (about 4× smaller than float32); 4 and 2 pack several codes per byte.
    per_channel : bool, default=True

    Returns
    -------
    QuantizedClassifier or QuantizedRegressor
        Same ``classes_``, ``n_features_in_`` and ``signature()`` as ``model``.

    Raises
    ------
    ValueError
        ``bits`` not in :data:`SUPPORTED_BITS`; ``model`` not fitted (``NotFittedError``).
    TypeError
        ``model`` is not a float workbench network.
    """
    bits = check_bits(bits)
    if not isinstance(per_channel, (bool, np.bool_)):
        raise TypeError(f"per_channel must be True or False, got {per_channel!r}")
    _check_network(model, "quantize")
    cls = QuantizedClassifier if is_classifier(model) else QuantizedRegressor
    return cls.from_network(model, bits=bits, per_channel=bool(per_channel))


class _MaskedOptimizer:
    """Wraps an optimizer so that masked weights get no update and stay exactly zero."""

    def __init__(self, inner, masks: dict):
        self.inner, self.masks = inner, masks
        self.learning_rate = inner.learning_rate

    def step(self, params: dict, grads: dict) -> None:
        for key, mask in self.masks.items():
            grads[key] = grads[key] * mask
        self.inner.step(params, grads)
        for key, mask in self.masks.items():
            params[key] *= mask

    def config(self) -> dict:
        return self.inner.config()


def prune(model, sparsity: float = 0.5, X=None, y=None, epochs: int = 0):
    """Return a copy of a fitted network with the smallest weights of each layer set to zero.

    In every weight matrix (biases are kept) the ``round(sparsity × size)`` entries of smallest
    magnitude become zero. With ``X, y`` and ``epochs > 0`` the copy is then fine-tuned with
    ``partial_fit`` while the mask is kept: masked gradients are zeroed and masked weights reset
    after every optimizer step, so the sparsity is exact after fine-tuning.

    Parameters
    ----------
    model : fitted workbench network (float)
    sparsity : float in [0, 1), default=0.5
        Share of each weight matrix to zero.
    X : array-like of shape (n_samples, n_features), optional
    y : array-like of shape (n_samples,) or (n_samples, n_targets), optional
        Fine-tuning data (the training set).
    epochs : int, default=0
        Fine-tuning epochs (needs ``X`` and ``y``).

    Returns
    -------
    model of the same class, with its fine-tuning epochs appended to ``history_``.

    Raises
    ------
    ValueError
        ``sparsity`` outside [0, 1); ``X`` without ``y`` or the reverse; ``epochs`` negative,
        or positive without data, or zero with data.
    TypeError
        ``model`` is not a float workbench network.
    """
    if isinstance(sparsity, bool) or not isinstance(sparsity, numbers.Real) or not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    if (X is None) != (y is None):
        raise ValueError("prune fine-tunes on X and y together: give both, or neither "
                         f"(got X={'None' if X is None else 'an array'}, "
                         f"y={'None' if y is None else 'an array'})")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
    if epochs > 0 and X is None:
        raise ValueError(f"epochs={epochs} fine-tuning needs training data: pass X and y")
    if epochs == 0 and X is not None:
        raise ValueError("X and y are only used for fine-tuning; pass epochs > 0 as well")
    _check_network(model, "prune")
    pruned = from_spec(*model.to_spec())  # an independent copy, through the persistence path
    masks = {}
    for key, W in pruned.params_.items():
        if not key.startswith("W"):
            continue
        k = int(round(sparsity * W.size))
        mask = np.ones(W.size, dtype=W.dtype)
        if k:
            mask[np.argpartition(np.abs(W).ravel(), k - 1)[:k]] = 0
        masks[key] = mask.reshape(W.shape)
        W *= masks[key]
    if epochs:
        # partial_fit continues with the model's optimizer; this one keeps the mask at every step
        from .models.optimizers import make_optimizer

        pruned._rng = np.random.default_rng(pruned.random_state)
        pruned._optimizer = _MaskedOptimizer(make_optimizer(pruned.optimizer, pruned.learning_rate),
                                             masks)
        for _ in range(epochs):
            pruned.partial_fit(X, y)
    return pruned


def sparsity(model) -> float:
    """Share of weight-matrix entries (biases excluded) that are exactly zero."""
    check_is_fitted(model, "params_")
    mats = [a for k, a in model.params_.items() if k.startswith("W") and not k.endswith("_scale")]
    return float(sum(a.size - np.count_nonzero(a) for a in mats) / sum(a.size for a in mats))


def size_on_disk(model) -> int:
    """Bytes of the blob the registry would store for ``model`` (its own codec, uncompressed)."""
    from .registry.codec import encode

    return len(encode(*model.to_spec()))


@dataclass(frozen=True)
class ModelFigures:
    """What one model costs: bytes on disk, score, median latency of ``predict`` in ms."""

    label: str
    model_class: str
    size_bytes: int
    score: float
    single_row_ms: float
    batch_ms: float
    batch_rows: int
    sparsity: float


def _median_ms(fn, repeats: int) -> float:
    for _ in range(3):  # warm-up: caches, dequantised weights, BLAS threads
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


def measure(model, X_test, y_test, *, label: str = "", repeats: int = 30,
            threads: int | None = 1) -> ModelFigures:
    """:class:`ModelFigures` of one model: blob size, score, in-process ``predict`` latency.

    Latency includes ``predict``'s input checks. While timing, BLAS runs on ``threads`` threads
    (default 1: figures that do not swing with other load on the machine, and what one serving
    worker spends per request); ``None`` leaves the thread pools alone.
    """
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    X_test = np.asarray(X_test)
    with threadpool_limits(threads) if threads is not None else nullcontext():
        single = _median_ms(lambda: model.predict(X_test[:1]), repeats)
        batch = _median_ms(lambda: model.predict(X_test), repeats)
    return ModelFigures(
        label=label or type(model).__name__, model_class=type(model).__name__,
        size_bytes=size_on_disk(model), score=float(model.score(X_test, y_test)),
        single_row_ms=single, batch_ms=batch, batch_rows=int(len(X_test)),
        sparsity=sparsity(model))


@dataclass(frozen=True)
class OptimizationReport:
    """An original model and a variant side by side (see :func:`report`)."""

    metric: str
    original: ModelFigures
    variant: ModelFigures

    @property
    def size_ratio(self) -> float:
        """How many times smaller the variant is on disk."""
        return self.original.size_bytes / self.variant.size_bytes

    @property
    def score_change_points(self) -> float:
        """Variant score minus original score, in percentage points."""
        return 100.0 * (self.variant.score - self.original.score)

    def as_dict(self) -> dict:
        return {"metric": self.metric, "original": asdict(self.original),
                "variant": asdict(self.variant), "size_ratio": self.size_ratio,
                "score_change_points": self.score_change_points}

    def _rows(self):
        o, v = self.original, self.variant
        return [
            ("model", o.label, v.label, ""),
            ("size on disk", f"{o.size_bytes / 1024:.1f} KiB", f"{v.size_bytes / 1024:.1f} KiB",
             f"{self.size_ratio:.2f}× smaller"),
            (self.metric, f"{o.score:.4f}", f"{v.score:.4f}", f"{self.score_change_points:+.2f} points"),
            ("zero weights", f"{o.sparsity:.0%}", f"{v.sparsity:.0%}", ""),
            ("latency, 1 row", f"{o.single_row_ms:.3f} ms", f"{v.single_row_ms:.3f} ms",
             f"{o.single_row_ms / v.single_row_ms:.2f}× speed"),
            (f"latency, {o.batch_rows} rows", f"{o.batch_ms:.3f} ms", f"{v.batch_ms:.3f} ms",
             f"{o.batch_ms / v.batch_ms:.2f}× speed"),
        ]

    def __repr__(self) -> str:
        return "\n".join(f"{a:<18}{b:>22}{c:>22}   {d}" for a, b, c, d in
                         [("", "original", "variant", "")] + self._rows())

    def _repr_html_(self) -> str:
        head = "<tr><th></th><th>original</th><th>variant</th><th>change</th></tr>"
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                       for row in self._rows())
        return f"<table class='workbench-optimization-report'>{head}{body}</table>"


def report(original, variant, X_test, y_test, *, repeats: int = 30,
           threads: int | None = 1) -> OptimizationReport:
    """Size on disk, score and latency of ``original`` and ``variant`` side by side.

    Parameters
    ----------
    original, variant : fitted models with ``to_spec``, ``predict`` and ``score``
    X_test : array-like of shape (n_samples, n_features)
    y_test : array-like of shape (n_samples,)
    repeats : int, default=30
        Timed calls per latency figure; the median is reported.
    threads : int or None, default=1
        BLAS threads while timing (see :func:`measure`).

    Returns
    -------
    OptimizationReport
        Size is the registry blob (:func:`size_on_disk`); score is accuracy for classifiers and
        R² for regressors; latency is in-process ``predict`` on 1 row and on all of ``X_test``.
    """
    metric = "accuracy" if is_classifier(original) else "r2"
    return OptimizationReport(
        metric=metric,
        original=measure(original, X_test, y_test, label=type(original).__name__, repeats=repeats,
                         threads=threads),
        variant=measure(variant, X_test, y_test, label=type(variant).__name__, repeats=repeats,
                        threads=threads))
