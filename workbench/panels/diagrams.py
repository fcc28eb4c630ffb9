"""Diagrams that explain an idea better than a sentence: where an alias sends its requests.

:func:`plot_route` draws one :class:`~workbench.registry.AliasRoute` — clients on the left, the
alias in the middle, each version it answers with on the right with its share of the traffic,
and a shadow (if any) below, fed by a dashed copy of every request whose answer nobody receives.

>>> import matplotlib.pyplot as plt
>>> from workbench.registry import AliasRoute
>>> fig, ax = plt.subplots()
>>> plot_route(AliasRoute("production", 1, {1: 0.9, 2: 0.1}, shadow=3), ax=ax)  # doctest: +ELLIPSIS
<Axes: ...>
"""
from __future__ import annotations

_ANSWER = "#2b7a2b"
_COPY = "#888888"


def _box(ax, x, y, text, color, width=0.22, height=0.13):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.01,rounding_size=0.02",
                                facecolor="white", edgecolor=color, linewidth=1.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def _arrow(ax, start, end, color, label=None, dashed=False):
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": color, "linewidth": 1.6,
                            "linestyle": "--" if dashed else "-", "shrinkA": 0, "shrinkB": 0})
    if label:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.035, label, ha="center",
                va="bottom", fontsize=9, color=color)


def plot_route(route, ax=None, *, model: str = "model"):
    """Draw where requests for ``route.alias`` go; returns ``ax``.

    Parameters
    ----------
    route : workbench.registry.AliasRoute
        From ``Registry.route(name, alias)`` (weights per version, optional shadow).
    ax : matplotlib.axes.Axes, optional
        Drawn on a new figure when not given.
    model : str
        The model's name, shown in the alias box.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.axis("off")
    _box(ax, 0.12, 0.62, "clients", "black")
    _box(ax, 0.45, 0.62, f"{model}\n{route.alias!r}", "black", width=0.24)
    _arrow(ax, (0.23, 0.62), (0.33, 0.62), "black", "requests")
    versions = sorted(route.weights.items())
    ys = [0.62] if len(versions) == 1 else [0.85 - 0.46 * i / (len(versions) - 1) for i in range(len(versions))]
    for (version, weight), y in zip(versions, ys):
        _box(ax, 0.86, y, f"v{version}", _ANSWER, width=0.16)
        _arrow(ax, (0.57, 0.62), (0.78, y), _ANSWER, f"{weight:.0%}")
    if route.shadow is not None:
        _box(ax, 0.86, 0.12, f"v{route.shadow}\n(shadow)", _COPY, width=0.16)
        _arrow(ax, (0.45, 0.55), (0.78, 0.12), _COPY, "copy of each request", dashed=True)
    ax.text(0.5, 0.98, "answers go back to the client from the green versions only"
            if route.shadow is not None else "each request is answered by one version",
            ha="center", va="top", fontsize=9, color="#555555")
    return ax
