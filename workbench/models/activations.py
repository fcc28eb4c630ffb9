"""Activation functions and their derivatives.

Each activation is a pair of functions: ``forward(z)`` gives ``a = f(z)`` and
``backward(z, a, grad_a)`` gives ``dL/dz = grad_a * f'(z)``, using whichever of
``z`` or ``a`` makes the derivative cheapest.

.. math::

    \\mathrm{relu}(z) = \\max(0, z), \\qquad \\mathrm{relu}'(z) = [z > 0] \\\\
    \\tanh'(z) = 1 - \\tanh(z)^2 \\\\
    \\sigma(z) = \\frac{1}{1 + e^{-z}}, \\qquad \\sigma'(z) = \\sigma(z)\\,(1 - \\sigma(z))
"""
from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (no overflow for large ``|z|``)."""
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _relu(z):
    return np.maximum(z, 0)


def _relu_backward(z, a, grad_a):
    return grad_a * (z > 0)


def _tanh_backward(z, a, grad_a):
    return grad_a * (1 - a * a)


def _sigmoid_backward(z, a, grad_a):
    return grad_a * a * (1 - a)


def _identity(z):
    return z


def _identity_backward(z, a, grad_a):
    return grad_a


#: name -> (forward, backward)
ACTIVATIONS = {
    "relu": (_relu, _relu_backward),
    "tanh": (np.tanh, _tanh_backward),
    "sigmoid": (sigmoid, _sigmoid_backward),
    "identity": (_identity, _identity_backward),
}


def get_activation(name: str):
    """Return ``(forward, backward)`` for an activation name."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}"
        ) from None
