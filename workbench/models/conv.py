"""A small convolutional classifier: conv 3×3 → ReLU → max-pool → dense softmax, on flat rows.

Each row is an image of ``image_shape`` (one channel) read row by row. The convolution is done
as one matrix product by *im2col*: every 3×3 patch (zero padding keeps the image size) becomes
a row of ``cols`` (shape ``(n·H·W, 9)``), so with kernels ``K`` (9, F):

.. math::

    Z_1 = \\mathrm{cols}\\, K + c, \\quad A_1 = \\max(0, Z_1), \\quad
    P = \\operatorname{maxpool}_{p\\times p}(A_1), \\quad Z_2 = \\operatorname{flat}(P)\\, W + b

and the backward pass reuses the same matrix: :math:`\\partial L/\\partial K = \\mathrm{cols}^\\top
\\delta_1`. The gradient with respect to the input (*col2im*) adds each patch gradient
:math:`\\delta_1 K^\\top` back onto the pixels it was read from; saliency uses it. Max-pooling
passes the gradient to the largest entry of each window.

Parameters are named as in the dense networks: ``W0`` (9, F) and ``b0`` (F,) for the
convolution, ``W1`` (F·H'·W', n_classes) and ``b1`` for the dense layer.
"""
from __future__ import annotations

import numbers

import numpy as np

from .conv_ops import KERNEL, col2im, conv_forward
from .losses import CrossEntropy
from .tasks import ClassifierNetwork


class ConvClassifier(ClassifierNetwork):
    """Convolutional classifier for small one-channel images given as flat rows.

    Parameters
    ----------
    image_shape : (int, int) or None, default=(8, 8)
        Height and width; ``height × width`` must equal the number of features. None reads each
        row as a 1 × n_features image.
    n_filters : int, default=16
        Number of 3×3 kernels.
    pool_size : int, default=2
        Side of the max-pooling windows (clipped to the image; leftover rows/columns dropped).
    alpha : float, default=1e-4
        L2 penalty on ``W0`` and ``W1``.
    optimizer : default='adam'; learning_rate : default=0.005; batch_size : default=32;
    epochs : default=200 (an upper bound: training stops once the loss settles, see ``tol``)
    early_stopping, validation_fraction, n_iter_no_change, tol, dtype, random_state, verbose :
        as in :class:`MLPClassifier`.

    Attributes
    ----------
    classes_, params_, history_, n_iter_, loss_, converged_

    Examples
    --------
    >>> from workbench.data import load_dataset
    >>> data = load_dataset("digits")
    >>> model = ConvClassifier(epochs=2, random_state=0).fit(data.X / 16, data.y)
    >>> model.predict_proba(data.X[:3] / 16).shape
    (3, 10)
    """

    def __init__(self, *, image_shape=(8, 8), n_filters=16, pool_size=2, alpha=1e-4,
                 optimizer="adam", learning_rate=0.005, batch_size=32, epochs=200,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4,
                 dtype="float32", random_state=None, verbose=False):
        self.image_shape = image_shape
        self.n_filters = n_filters
        self.pool_size = pool_size
        self.alpha = alpha
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def _activation_name(self):
        return "relu"

    def _loss(self):
        return CrossEntropy

    def _validate_hyperparameters(self):
        for name in ("n_filters", "pool_size"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        super()._validate_hyperparameters()

    # -- geometry ----------------------------------------------------------------------------
    def _shape(self) -> tuple[int, int]:
        n = int(self.n_features_in_)
        if self.image_shape is None:
            return 1, n
        try:
            H, W = (int(s) for s in self.image_shape)
        except (TypeError, ValueError):
            raise ValueError(f"image_shape must be (height, width), got {self.image_shape!r}") from None
        if H < 1 or W < 1 or H * W != n:
            raise ValueError(f"image_shape={tuple(self.image_shape)} holds {H * W} pixels but X has "
                             f"{n} features per row; give image_shape with height × width = {n}")
        return H, W

    def _pool(self) -> tuple[int, int]:
        H, W = self._shape()
        return min(self.pool_size, H), min(self.pool_size, W)

    def _param_shapes(self) -> dict[str, tuple]:
        (H, W), (ph, pw), F = self._shape(), self._pool(), int(self.n_filters)
        return {"W0": (KERNEL * KERNEL, F), "b0": (F,),
                "W1": ((H // ph) * (W // pw) * F, int(self._n_logits_)), "b1": (int(self._n_logits_),)}

    # -- forward and backward ----------------------------------------------------------------
    def _logits(self, X, keep: bool = False):
        return conv_forward(X, self.params_, self._shape(), self._pool(), keep=keep)

    def _backward(self, delta, cache, grads_of_input=False):
        """Gradients of every weight array (or of the input) from ``delta = dL/dZ2``."""
        cols, Z1, windows, P = cache
        p, n = self.params_, delta.shape[0]
        (H, W), (ph, pw) = self._shape(), self._pool()
        grads = {"W1": P.reshape(n, -1).T @ delta, "b1": delta.sum(axis=0)}
        dP = (delta @ p["W1"].T).reshape(P.shape)
        winner = windows == P[:, :, None, :, None, :]         # the max of each window
        dA1 = np.zeros_like(Z1)
        Hp, Wp = P.shape[1], P.shape[2]
        dA1[:, :Hp * ph, :Wp * pw] = (winner * dP[:, :, None, :, None, :]).reshape(
            n, Hp * ph, Wp * pw, -1)
        dZ1 = dA1 * (Z1 > 0)
        if grads_of_input:
            return col2im(dZ1 @ p["W0"].T).reshape(n, H * W)
        grads["W0"] = cols.reshape(-1, cols.shape[-1]).T @ dZ1.reshape(-1, dZ1.shape[-1])
        grads["b0"] = dZ1.sum(axis=(0, 1, 2))
        return grads

    def loss_and_gradients(self, X: np.ndarray, Y: np.ndarray):
        """Mean loss on a batch, its gradient for each weight array, and the batch's logits."""
        n = X.shape[0]
        Z, cache = self._logits(X, keep=True)
        loss = CrossEntropy.value(Z, Y) + self._penalty(n)
        grads = self._backward(CrossEntropy.gradient(Z, Y), cache)
        if self.alpha:
            for key in ("W0", "W1"):
                grads[key] += (self.alpha / n) * self.params_[key]
        return loss, grads, Z

    def input_gradient(self, X: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """:math:`\\partial (\\delta \\cdot Z_2) / \\partial X` for validated rows: what saliency needs."""
        _, cache = self._logits(X, keep=True)
        return self._backward(delta, cache, grads_of_input=True)

    def _init_params(self, rng):
        self._shape()   # a clear error for a wrong image_shape before anything is drawn
        return super()._init_params(rng)
