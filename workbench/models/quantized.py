"""Quantized networks: integer weight codes with float scales, for inference only.

Each weight matrix :math:`W_l` (shape ``(fan_in, fan_out)``) is stored as integer codes
:math:`Q_l` and a scale per output column (``per_channel=True``) or one per matrix, symmetric
around zero (zero stays exactly zero, so pruned weights remain pruned):

.. math::

    s_j = \\frac{\\max_i |W_{ij}|}{q_{max}}, \\qquad
    Q_{ij} = \\mathrm{clip}\\big(\\mathrm{round}(W_{ij} / s_j), -q_{max}, q_{max}\\big), \\qquad
    q_{max} = 2^{b-1} - 1

**Arithmetic: dequantised.** Predictions use :math:`\\hat W_{ij} = s_j Q_{ij}` expanded once to
the model's float ``dtype`` (cached), then the same forward pass as the float network. numpy has
no fast integer matrix product, so integer arithmetic would be slower here; what shrinks is the
stored and transferred model, not the arithmetic. Biases stay float (float32 on disk).

On disk (``to_spec``) every layer's codes go into one array ``codes`` (``int8`` for 8 bits,
``int16`` for 16, two or four codes per ``uint8`` for 4 and 2 bits), the scales and biases
into one ``float32`` array ``floats``, and — for layers that are mostly zeros after pruning —
only the non-zero codes plus a bit mask ``mask``. Few arrays keep the container overhead small.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .activations import sigmoid
from .base import WorkbenchModel, check_dtype
from .forward import dense_forward
from .losses import softmax
from .quantized_codes import (  # noqa: F401 - re-exported: quantized models' API
    STORAGE_FORMAT,
    SUPPORTED_BITS,
    _code_dtype,
    _pack,
    _unpack,
    check_bits,
    quantize_weights,
    unpack_layers,
)

_LINKS = {"softmax": softmax, "sigmoid": sigmoid, "identity": lambda z: z}


class _QuantizedNetwork(WorkbenchModel):
    """Shared machinery of :class:`QuantizedClassifier` and :class:`QuantizedRegressor`."""

    _spec_attributes = ("n_features_in_", "layer_sizes_", "activation_", "output_", "source_class_")

    def __init__(self, *, bits=8, per_channel=True, dtype="float32"):
        self.bits = bits
        self.per_channel = per_channel
        self.dtype = dtype

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def from_network(cls, model, *, bits=8, per_channel=True):
        """Quantize the weights of a fitted workbench network (MLP or linear model)."""
        bits = check_bits(bits)
        q = cls(bits=bits, per_channel=bool(per_channel), dtype=str(model.dtype))
        dtype = check_dtype(q.dtype)
        n_layers = len(model.params_) // 2
        q.layer_sizes_ = [int(model.params_["W0"].shape[0])] + [
            int(model.params_[f"W{i}"].shape[1]) for i in range(n_layers)]
        q.activation_ = model._activation_name()
        q.output_ = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid",
                     "mse": "identity"}[model._loss().name]
        q.source_class_ = type(model).__name__
        for name in ("n_features_in_", "classes_", "feature_names_in_", "n_outputs_", "y_ndim_"):
            if hasattr(model, name):
                value = getattr(model, name)
                setattr(q, name, value.copy() if isinstance(value, np.ndarray) else value)
        q.history_ = None
        q.params_ = {}
        for i in range(n_layers):
            codes, scale = quantize_weights(model.params_[f"W{i}"], bits, q.per_channel)
            q.params_[f"W{i}_q"] = codes
            q.params_[f"W{i}_scale"] = scale.astype(dtype)
            q.params_[f"b{i}"] = model.params_[f"b{i}"].astype(np.float32).astype(dtype)
        return q

    def fit(self, X, y=None, **kwargs):
        """Not available: a quantized model is for inference only.

        Raises
        ------
        TypeError
            Always. Retrain the float model and quantize it again.
        """
        raise TypeError(
            f"{type(self).__name__} is for inference only and cannot be fitted; train the float "
            f"model (e.g. MLPClassifier) and call workbench.optimize.quantize(model) again")

    # -- the maths ---------------------------------------------------------------------------
    def _n_layers(self) -> int:
        return len(self.layer_sizes_) - 1

    def _param_shapes(self) -> dict[str, tuple]:
        shapes = {}
        sizes = [int(s) for s in self.layer_sizes_]
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            shapes[f"W{i}_q"] = (fan_in, fan_out)
            shapes[f"W{i}_scale"] = (fan_out,) if self.per_channel else (1,)
            shapes[f"b{i}"] = (fan_out,)
        return shapes

    def dequantized_params(self) -> dict[str, np.ndarray]:
        """The float weights the model computes with: ``W0, b0, W1, b1, …`` (cached).

        ``W{i}`` has shape (fan_in, fan_out) and equals ``codes * scale`` in the model's dtype.
        """
        check_is_fitted(self, "params_")
        cache = self.__dict__.get("_float_params")
        if cache is None or cache[0] is not self.params_:
            dtype = check_dtype(self.dtype)
            p, out = self.params_, {}
            for i in range(self._n_layers()):
                out[f"W{i}"] = p[f"W{i}_q"].astype(dtype) * p[f"W{i}_scale"].astype(dtype)
                out[f"b{i}"] = p[f"b{i}"].astype(dtype)
            cache = (self.params_, out)
            self._float_params = cache
        return cache[1]

    def _logits(self, X, keep: bool = False):
        """Raw outputs of the last layer, as :meth:`Network._logits` (``keep``: the cache)."""
        return dense_forward(X, self.dequantized_params(), self.activation_, keep=keep)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Outputs through the output link (probabilities or values); no input checks."""
        return _LINKS[self.output_](self._logits(X))

    # -- persistence -------------------------------------------------------------------------
    def to_spec(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(spec, arrays)`` with the compact storage described in the module docstring."""
        spec, _ = super().to_spec()
        bits = check_bits(self.bits)
        codes, masks, floats, sparse = [], [], [], []
        for i in range(self._n_layers()):
            q = self.params_[f"W{i}_q"].ravel()
            zeros = q.size - np.count_nonzero(q)
            sparse.append(bool(zeros * bits > q.size))  # the mask costs 1 bit per weight
            if sparse[-1]:
                masks.append(q != 0)
                codes.append(q[q != 0])
            else:
                codes.append(q)
            floats += [self.params_[f"W{i}_scale"], self.params_[f"b{i}"]]
        arrays = {"codes": _pack(np.concatenate(codes), bits),
                  "floats": np.concatenate(floats).astype(np.float32)}
        if masks:
            arrays["mask"] = np.packbits(np.concatenate(masks))
        spec["storage"] = {"format": STORAGE_FORMAT, "sparse_layers": sparse}
        return spec, arrays

    @classmethod
    def _from_spec(cls, spec: dict, arrays: dict) -> "_QuantizedNetwork":
        unpacked, sizes, bits = unpack_layers(cls.__name__, spec, arrays)
        model = super()._from_spec(spec, unpacked)  # attributes, shape checks, float casts
        for i in range(len(sizes) - 1):
            model.params_[f"W{i}_q"] = unpacked[f"W{i}_q"].astype(_code_dtype(bits))
        return model

    def __repr__(self, N_CHAR_MAX=700) -> str:
        base = super().__repr__(N_CHAR_MAX)
        if not hasattr(self, "params_"):
            return base
        codes = [self.params_[f"W{i}_q"] for i in range(self._n_layers())]
        zeros = sum(c.size - np.count_nonzero(c) for c in codes) / sum(c.size for c in codes)
        arch = "→".join(str(s) for s in self.layer_sizes_)
        return (f"{base}  # {self.bits}-bit weights {arch} ({self.activation_}), "
                f"{zeros:.0%} zeros, from {self.source_class_}")


class QuantizedClassifier(ClassifierMixin, _QuantizedNetwork):
    """A classifier network with quantized weights (made by ``workbench.optimize.quantize``).

    Parameters
    ----------
    bits : {2, 4, 8, 16}, default=8
    per_channel : bool, default=True
        One scale per output unit of each layer, or one per layer.
    dtype : {'float32', 'float64'}, default='float32'
        The float type of the dequantised arithmetic (that of the source model).

    Attributes
    ----------
    params_ : dict
        ``W{i}_q`` integer codes (fan_in, fan_out), ``W{i}_scale`` (fan_out,) or (1,), ``b{i}``.
    classes_, n_features_in_, layer_sizes_, activation_, output_, source_class_

    Examples
    --------
    >>> from workbench.optimize import quantize                          # doctest: +SKIP
    >>> q = quantize(mlp, bits=8)                                         # doctest: +SKIP
    >>> (q.predict(X) == mlp.predict(X)).mean()                          # doctest: +SKIP
    0.998
    """

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), as the float model's ``forward``: a single
        sigmoid output p becomes the two columns (1 - p, p)."""
        P = super().forward(X)
        return np.hstack([1 - P, P]) if P.shape[1] == 1 else P

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns ordered as ``classes_``."""
        return self.forward(self._check_X(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n_samples,)."""
        proba = self.predict_proba(X)  # checks that the model is fitted first
        return self.classes_[proba.argmax(axis=1)]


class QuantizedRegressor(RegressorMixin, _QuantizedNetwork):
    """A regression network with quantized weights; parameters as :class:`QuantizedClassifier`."""

    _spec_attributes = _QuantizedNetwork._spec_attributes + ("n_outputs_", "y_ndim_")

    def predict(self, X) -> np.ndarray:
        """Predicted values: shape (n_samples,) for a 1-D target, else (n_samples, n_targets)."""
        Z = self.forward(self._check_X(X)).astype(np.float64)
        return Z.ravel() if self.y_ndim_ == 1 else Z
