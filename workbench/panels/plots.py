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


def traffic_figure(health, *, now: float, window: float, targets=None):
    """The dashboard's charts: requests per second (red: refused or failed) and latency on one
    shared time axis, the whole window from ``-window`` to 0 seconds, and the answers per
    predicted class; each with a legend. ``targets`` (:class:`~.targets.Targets`) draws the p99
    target and alert level as dashed lines. Returns a matplotlib ``Figure``."""
    # imported here, not with the module: the first paint of a dashboard does without it
    from matplotlib.figure import Figure

    # fixed margins, not layout="constrained": the page redraws this every few seconds, and the
    # constrained solver was two thirds of each redraw; the figure's size and text never change
    fig = Figure(figsize=(11, 3.0))
    gs = fig.add_gridspec(1, 3, width_ratios=[1.2, 1.2, 1], left=0.055, right=0.99, bottom=0.16,
                          top=0.9, wspace=0.22)
    ax_rps = fig.add_subplot(gs[0])
    ax_lat = fig.add_subplot(gs[1], sharex=ax_rps)
    ax_pred = fig.add_subplot(gs[2])
    ts = health.timeseries
    if ts is not None and len(ts.start):
        t = np.asarray(ts.start, dtype=float) - now
        rps = np.asarray(ts.requests_per_s, dtype=float)
        ax_rps.plot(t, rps, color="#1f77b4", label="requests / s")
        ax_rps.fill_between(t, rps * np.nan_to_num(ts.error_rate), color="#d62728", alpha=0.5,
                            label="of which refused or failed")
        ax_lat.plot(t, ts.p50_ms, color="#1f77b4", label="p50 (median)")
        ax_lat.plot(t, ts.p99_ms, color="#ff7f0e", label="p99 (slowest 1 %)")
    if targets is not None:
        ax_lat.axhline(targets.p99_ms, color="#1a7f37", linestyle="--", linewidth=1,
                       label=f"p99 target {targets.p99_ms:g} ms")
        ax_lat.axhline(targets.p99_ms_alert, color="#cf222e", linestyle=":", linewidth=1,
                       label=f"p99 alert {targets.p99_ms_alert:g} ms")
    ax_rps.set_xlim(-float(window), 0.0)   # both charts: the whole window, shared
    ax_rps.set_ylim(bottom=0)
    ax_lat.set_ylim(bottom=0)
    ax_rps.set(title="requests / s", xlabel="seconds ago")
    ax_lat.set(title="latency (ms)", xlabel="seconds ago")
    for ax in (ax_rps, ax_lat):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize="x-small")
    items = list(health.predictions.items())[:12]
    if items:
        ax_pred.bar([str(k) for k, _ in items], [v for _, v in items], color="#7f7f7f",
                    label="answers per predicted class")
        ax_pred.legend(loc="upper right", fontsize="x-small")
    ax_pred.set(title="predictions", xlabel="predicted class")
    ax_pred.tick_params(axis="x", labelsize="small")
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
