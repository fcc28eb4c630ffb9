"""The convolutional forward pass in numpy only (the estimator and the serving path share it).

See :mod:`workbench.models.conv` for the maths; this module imports nothing but numpy so that a
serving worker can run a ``ConvClassifier`` without scikit-learn.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

KERNEL = 3


def im2col(images: np.ndarray) -> np.ndarray:
    """Every 3×3 patch of zero-padded images (n, H, W) as rows: shape (n, H, W, 9)."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    patches = sliding_window_view(padded, (KERNEL, KERNEL), axis=(1, 2))  # (n, H, W, 3, 3)
    return patches.reshape(*images.shape, KERNEL * KERNEL)


def col2im(dcols: np.ndarray) -> np.ndarray:
    """Adjoint of :func:`im2col`: add patch gradients (n, H, W, 9) back onto (n, H, W) pixels."""
    n, H, W, _ = dcols.shape
    padded = np.zeros((n, H + 2, W + 2), dtype=dcols.dtype)
    for k in range(KERNEL * KERNEL):
        di, dj = divmod(k, KERNEL)
        padded[:, di:di + H, dj:dj + W] += dcols[..., k]
    return padded[:, 1:-1, 1:-1]


def conv_forward(X, params: dict, shape: tuple[int, int], pool: tuple[int, int], keep: bool = False):
    """Logits of conv 3×3 (``W0``, ``b0``) → ReLU → max-pool → dense (``W1``, ``b1``) for flat rows
    ``X`` of ``shape`` images; with ``keep``, also ``(cols, Z1, windows, P)`` for the backward pass."""
    (H, W), (ph, pw), n = shape, pool, X.shape[0]
    F = params["W0"].shape[1]
    cols = im2col(X.reshape(n, H, W))                     # (n, H, W, 9)
    Z1 = cols @ params["W0"] + params["b0"]               # (n, H, W, F)
    A1 = np.maximum(Z1, 0)
    Hp, Wp = H // ph, W // pw
    windows = A1[:, :Hp * ph, :Wp * pw].reshape(n, Hp, ph, Wp, pw, F)
    P = windows.max(axis=(2, 4))                          # (n, Hp, Wp, F)
    Z2 = P.reshape(n, -1) @ params["W1"] + params["b1"]
    return (Z2, (cols, Z1, windows, P)) if keep else Z2
