"""Plain matplotlib drawings shared by the panels and the notebooks.

Each ``plot_*`` function draws on an ``ax`` it is given and returns it, so the caller decides
where the figure lives (a notebook cell, a panel's ``Output``, a PNG file).
:func:`figure_to_output` turns a figure into an output record that a widget can show.

>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> plot_confusion_matrix([0, 1, 1], [0, 1, 0], labels=[0, 1], ax=ax)   # doctest: +ELLIPSIS
<Axes: ...>
"""
from __future__ import annotations

import base64
import io

import numpy as np


def plot_history(history, ax, metric: str = "loss"):
    """Draw ``metric`` and, when present, ``val_<metric>`` per epoch.

    Parameters
    ----------
    history : workbench.training.History
    ax : matplotlib.axes.Axes
    metric : str, default="loss"
        A key of the history: ``"loss"``, ``"accuracy"`` or ``"r2"``.
    """
    for key, style in ((metric, "-"), ("val_" + metric, "--")):
        if key in history:
            values = history[key]
            ax.plot(history.epochs[:len(values)], values, style, label=key.replace("val_", "validation "))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return ax


def plot_confusion_matrix(y_true, y_pred, labels, ax, *, title="confusion matrix"):
    """Draw the counts of (true, predicted) label pairs as a heat map with numbers.

    Rows are the true labels, columns the predicted ones, both in the order of ``labels``.
    """
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(np.asarray(y_true).tolist(), np.asarray(y_pred).tolist()):
        counts[index[t], index[p]] += 1
    ax.imshow(counts, cmap="Blues")
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, [str(label) for label in labels])
    ax.set_yticks(ticks, [str(label) for label in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = counts.max() / 2 if counts.size else 0
    for (i, j), c in np.ndenumerate(counts):
        if c:
            ax.text(j, i, str(c), ha="center", va="center", fontsize="small",
                    color="white" if c > threshold else "black")
    return ax


def plot_predicted_vs_true(y_true, y_pred, ax, *, title="predicted vs true"):
    """Scatter the predictions against the true values, with the diagonal of perfect answers."""
    y_true = np.asarray(y_true, dtype=float).ravel()
    y_pred = np.asarray(y_pred, dtype=float).ravel()
    ax.scatter(y_true, y_pred, s=12, alpha=0.7)
    lo, hi = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
    ax.plot([lo, hi], [lo, hi], "k--", linewidth=1, label="perfect")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def plot_digits(images, titles=None, *, ncols: int = 10, fig=None):
    """Draw 8×8 (or any square) grey images in a grid; return the figure.

    Parameters
    ----------
    images : array-like of shape (n, side * side) or (n, side, side)
    titles : list of str, optional
        One short title per image.
    ncols : int, default=10
    fig : matplotlib.figure.Figure, optional
        Drawn into; a new pyplot figure when None.
    """
    images = np.asarray(images, dtype=float)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"each image must have a square number of pixels, got {images.shape[1]}")
        images = images.reshape(-1, side, side)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must have shape (n, side*side) or (n, side, side), got {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(1.1 * ncols, 1.3 * nrows))
    for i, image in enumerate(images):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ax.imshow(image, cmap="gray_r")
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize="small")
    return fig


def figure_to_output(fig, dpi: int = 80) -> dict:
    """Render ``fig`` as PNG and return it as a notebook output record.

    Setting ``output_widget.outputs = (record,)`` replaces what the widget shows in one update
    (no flicker), and is safe from a background thread, where ``with output:`` is not.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                     "text/plain": f"<Figure: {fig.get_label() or 'plot'}>"}}
