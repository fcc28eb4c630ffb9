"""Loss functions, each paired with the output link it is computed through.

A loss takes the network's raw outputs (*logits* ``Z``, shape ``(n_samples, n_outputs)``) and the
targets, and gives the mean loss and its gradient with respect to ``Z``. Pairing the loss with its
link (identity, softmax, sigmoid) keeps the gradient simple and numerically stable:

.. math::

    \\text{MSE:}\\quad L = \\frac{1}{2n}\\sum_i \\lVert z_i - y_i \\rVert^2,
    \\qquad \\frac{\\partial L}{\\partial Z} = \\frac{Z - Y}{n}

    \\text{softmax cross-entropy:}\\quad L = -\\frac{1}{n}\\sum_i \\sum_k y_{ik} \\log p_{ik},
    \\quad p = \\mathrm{softmax}(z), \\qquad \\frac{\\partial L}{\\partial Z} = \\frac{P - Y}{n}

    \\text{binary cross-entropy:}\\quad L = -\\frac{1}{n}\\sum_i y_i\\log p_i + (1-y_i)\\log(1-p_i),
    \\quad p = \\sigma(z), \\qquad \\frac{\\partial L}{\\partial Z} = \\frac{P - Y}{n}

``Y`` is one-hot for softmax cross-entropy and a 0/1 column for binary cross-entropy.
"""
from __future__ import annotations

import numpy as np

from .activations import sigmoid


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so ``exp`` never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class MeanSquaredError:
    """Half mean squared error over an identity link (regression)."""

    name = "mse"

    @staticmethod
    def link(z):
        return z

    @staticmethod
    def value(z, y):
        return 0.5 * float(np.mean(np.sum((z - y) ** 2, axis=1)))

    @staticmethod
    def gradient(z, y):
        return (z - y) / z.shape[0]

    @classmethod
    def value_and_gradient(cls, z, y):
        """``(value(z, y), gradient(z, y))`` in one go."""
        return cls.value(z, y), cls.gradient(z, y)


class CrossEntropy:
    """Cross-entropy over a softmax link (multi-class classification)."""

    name = "cross_entropy"

    @staticmethod
    def link(z):
        return softmax(z)

    @staticmethod
    def value(z, y):
        # log-softmax computed stably: z - logsumexp(z)
        zmax = z.max(axis=1, keepdims=True)
        log_p = z - zmax - np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))
        return -float(np.sum(y * log_p)) / z.shape[0]

    @staticmethod
    def gradient(z, y):
        return (softmax(z) - y) / z.shape[0]

    @staticmethod
    def value_and_gradient(z, y):
        """``(value(z, y), gradient(z, y))`` sharing one exponential (the same numbers)."""
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        value = -float(np.sum(y * (shifted - np.log(total)))) / z.shape[0]
        return value, (e / total - y) / z.shape[0]


class BinaryCrossEntropy:
    """Cross-entropy over a sigmoid link (two classes, one output column)."""

    name = "binary_cross_entropy"

    @staticmethod
    def link(z):
        return sigmoid(z)

    @staticmethod
    def value(z, y):
        # log(1 + e^z) - y z, written to avoid overflow: logaddexp(0, z)
        return float(np.mean(np.logaddexp(0, z) - y * z))

    @staticmethod
    def gradient(z, y):
        return (sigmoid(z) - y) / z.shape[0]

    @classmethod
    def value_and_gradient(cls, z, y):
        """``(value(z, y), gradient(z, y))`` in one go."""
        return cls.value(z, y), cls.gradient(z, y)


LOSSES = {cls.name: cls for cls in (MeanSquaredError, CrossEntropy, BinaryCrossEntropy)}
