"""Gradient-descent optimizers.

An optimizer updates a dict of parameters in place from a dict of gradients with the same keys.
Whatever it must remember between steps (velocities, running averages) it keeps in ``state``,
a dict keyed by parameter name, so one optimizer serves any model.

.. math::

    \\text{SGD:}\\quad \\theta \\leftarrow \\theta - \\eta g

    \\text{Momentum:}\\quad v \\leftarrow \\mu v - \\eta g,\\quad \\theta \\leftarrow \\theta + v

    \\text{RMSprop:}\\quad s \\leftarrow \\rho s + (1-\\rho) g^2,\\quad
    \\theta \\leftarrow \\theta - \\eta\\, g / (\\sqrt{s} + \\epsilon)

    \\text{Adam:}\\quad m \\leftarrow \\beta_1 m + (1-\\beta_1) g,\\quad
    v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2,\\quad
    \\theta \\leftarrow \\theta - \\eta\\,\\frac{\\hat m}{\\sqrt{\\hat v} + \\epsilon},\\;
    \\hat m = \\frac{m}{1-\\beta_1^t},\\; \\hat v = \\frac{v}{1-\\beta_2^t}
"""
from __future__ import annotations

import math

import numpy as np


class Optimizer:
    """Base class: ``step(params, grads)`` updates ``params`` in place."""

    name = "optimizer"

    def __init__(self, learning_rate: float = 0.01):
        if not (isinstance(learning_rate, (int, float)) and learning_rate > 0 and np.isfinite(learning_rate)):
            raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.t = 0

    def reset(self) -> None:
        """Forget all per-parameter state (a new training run starts from scratch)."""
        self.state = {}
        self.t = 0

    def step(self, params: dict, grads: dict) -> None:
        self.t += 1
        for key, g in grads.items():
            self._update(key, params[key], g)

    def _update(self, key: str, theta: np.ndarray, g: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def config(self) -> dict:
        """The settings that rebuild this optimizer (JSON values)."""
        return {"name": self.name, "learning_rate": self.learning_rate}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain stochastic gradient descent."""

    name = "sgd"

    def _update(self, key, theta, g):
        theta -= self.learning_rate * g


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum."""

    name = "momentum"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9):
        super().__init__(learning_rate)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)

    def _update(self, key, theta, g):
        st = self.state.get(key)
        if st is None:
            st = self.state[key] = {"v": np.zeros_like(theta)}
        v = st["v"]
        v *= self.momentum
        v -= self.learning_rate * g
        theta += v

    def config(self):
        return {**super().config(), "momentum": self.momentum}


class RMSprop(Optimizer):
    """Divide the step by a running root-mean-square of recent gradients."""

    name = "rmsprop"

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, epsilon: float = 1e-8):
        super().__init__(learning_rate)
        if not 0 <= rho < 1:
            raise ValueError(f"rho must be in [0, 1), got {rho!r}")
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _update(self, key, theta, g):
        st = self.state.get(key)
        if st is None:
            st = self.state[key] = {"s": np.zeros_like(theta)}
        s = st["s"]
        s *= self.rho
        s += (1 - self.rho) * g * g
        theta -= self.learning_rate * g / (np.sqrt(s) + self.epsilon)

    def config(self):
        return {**super().config(), "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, with bias correction."""

    name = "adam"

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8):
        super().__init__(learning_rate)
        for label, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= b < 1:
                raise ValueError(f"{label} must be in [0, 1), got {b!r}")
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def step(self, params, grads):
        self.t += 1
        # fold both bias corrections into one step size (as in the Adam paper, section 2); a
        # Python float, so float32 weights are updated in float32 arithmetic
        self._lr_t = float(self.learning_rate * math.sqrt(1 - self.beta2 ** self.t)
                           / (1 - self.beta1 ** self.t))
        for key, g in grads.items():
            self._update(key, params[key], g)

    def _update(self, key, theta, g):
        st = self.state.get(key)
        if st is None:
            st = self.state[key] = {"m": np.zeros_like(theta), "v": np.zeros_like(theta)}
        m, v = st["m"], st["v"]
        scratch = self.__dict__.setdefault("_scratch", {})   # no temporaries on every step
        buf = scratch.get(key)
        if buf is None or buf.shape != theta.shape or buf.dtype != theta.dtype:
            buf = scratch[key] = np.empty_like(theta)
        m *= self.beta1
        np.multiply(g, 1 - self.beta1, out=buf)
        m += buf
        v *= self.beta2
        np.multiply(g, g, out=buf)
        buf *= 1 - self.beta2
        v += buf
        np.sqrt(v, out=buf)
        buf += self.epsilon
        np.divide(m, buf, out=buf)
        buf *= self._lr_t
        theta -= buf

    def config(self):
        return {**super().config(), "beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, RMSprop, Adam)}


def make_optimizer(optimizer, learning_rate: float | None = None) -> Optimizer:
    """Build a fresh optimizer from a name (``"sgd"``, ``"momentum"``, ``"rmsprop"``, ``"adam"``),
    a config dict (as given by :meth:`Optimizer.config`), or copy an :class:`Optimizer` instance.

    ``learning_rate`` applies when ``optimizer`` is a name; an instance or dict keeps its own.
    """
    if isinstance(optimizer, Optimizer):
        return optimizer_from_config(optimizer.config())
    if isinstance(optimizer, dict):
        return optimizer_from_config(optimizer)
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        cls = OPTIMIZERS[optimizer.lower()]
        return cls() if learning_rate is None else cls(learning_rate=learning_rate)
    raise ValueError(
        f"optimizer must be one of {sorted(OPTIMIZERS)} or an Optimizer instance, got {optimizer!r}"
    )


def optimizer_from_config(config: dict) -> Optimizer:
    config = dict(config)
    name = config.pop("name", None)
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](**config)
