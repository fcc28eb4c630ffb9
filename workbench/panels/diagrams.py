"""Diagrams that explain an idea better than a sentence: where an alias sends its requests
(:func:`plot_route`), what a rollback steps back through (:func:`plot_alias_stack`), the path of
one request through the service (:func:`plot_request_path`) and the drift rule of the dashboard
(:func:`plot_drift_rule`).

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


def alias_stacks(events, alias: str = "production") -> list:
    """Replay the audit log of one alias: ``[(label, earlier, current), ...]`` per event.

    ``earlier`` is the alias's history stack (oldest first) after the event — what
    :meth:`~workbench.registry.Registry.rollback` would step back through — and ``current`` the
    version the alias points at. A move pushes the old target; a rollback pops it back.

    >>> from workbench.registry.records import AuditEvent
    >>> log = [AuditEvent(1, "m", "aliased", 1, "production", None, "me", 0.0),
    ...        AuditEvent(2, "m", "aliased", 2, "production", 1, "me", 1.0),
    ...        AuditEvent(3, "m", "rolled back", 1, "production", 2, "me", 2.0)]
    >>> alias_stacks(log)
    [('aliased v1', [], 1), ('aliased v2', [1], 2), ('rolled back v1', [], 1)]
    """
    stack, out = [], []
    for event in events:
        if event.alias != alias or event.version is None:
            continue
        if event.action == "rolled back":
            if stack:
                stack.pop()
        elif event.previous is not None:
            stack.append(event.previous)
        out.append((f"{event.action} v{event.version}", list(stack), event.version))
    return out


def plot_alias_stack(events, alias: str = "production", ax=None):
    """Draw an alias's history stack after each of its events (from ``Registry.history``).

    One column per event: the version the alias points at on top (green), the earlier targets a
    rollback would return to below it (grey, oldest at the bottom). Returns ``ax``.
    """
    import matplotlib.pyplot as plt

    states = alias_stacks(events, alias)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.8 * max(len(states), 2) + 1, 3))
    height = max([len(earlier) + 1 for _, earlier, _ in states] + [2])
    ax.set(xlim=(-0.6, len(states) - 0.4), ylim=(-0.6, 0.5 * height))
    ax.axis("off")
    for x, (label, earlier, current) in enumerate(states):
        for y, version in enumerate(earlier):
            _box(ax, x, y * 0.5, f"v{version}", _COPY, width=0.8, height=0.4)
        _box(ax, x, len(earlier) * 0.5, f"v{current}  ← {alias}", _ANSWER, width=0.8, height=0.4)
        ax.text(x, -0.45, label, ha="center", va="center", fontsize=9)
    ax.set_title(f"the history of {alias!r}: a rollback returns to the grey box just below",
                 fontsize=10)
    return ax


# The stages of one inference request, in the order the service runs them, with the status it
# answers when a stage refuses (see workbench/serving/inference.py).
REQUEST_STAGES = (("key", "401"), ("role and\nscope", "403"), ("quota", "429"),
                  ("model or\nalias", "404"), ("body and\nshape", "400 / 413\n/ 422"),
                  ("model\npredicts", None))


def plot_request_path(ax=None):
    """Draw the path of one ``POST /v2/models/NAME/infer`` through the service; returns ``ax``.

    Each check can refuse the request (red, with its status) before the model runs; the answer
    goes back first, and only then is the request counted in ``/metrics`` and queued for the
    prediction log, which a writer thread stores in batches off the request path.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.4))
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.axis("off")
    xs = [0.065 + 0.14 * i for i in range(len(REQUEST_STAGES) + 1)]
    _box(ax, xs[0], 0.7, "client", "black", width=0.11, height=0.17)
    for x, (stage, status) in zip(xs[1:], REQUEST_STAGES):
        _box(ax, x, 0.7, stage, _ANSWER if status is None else "black", width=0.11, height=0.17)
        if status is not None:
            ax.text(x, 0.42, status, ha="center", va="center", fontsize=9, color="#b22222")
            _arrow(ax, (x, 0.61), (x, 0.5), "#b22222")
    for left, right in zip(xs, xs[1:]):
        _arrow(ax, (left + 0.055, 0.7), (right - 0.055, 0.7), "black")
    _arrow(ax, (xs[-1], 0.87), (xs[0], 0.87), _ANSWER, "the answer (or the refusal) goes back first")
    for x in (xs[0], xs[-1]):
        ax.plot([x, x], [0.79, 0.87], color=_ANSWER, lw=1.6)
    _box(ax, 0.35, 0.12, "/metrics\ncounters", _COPY, width=0.14, height=0.16)
    _box(ax, 0.62, 0.12, "prediction log\n(a queue)", _COPY, width=0.16, height=0.16)
    _box(ax, 0.86, 0.12, "predictions.db\n(writer thread)", _COPY, width=0.18, height=0.16)
    _arrow(ax, (0.7, 0.12), (0.77, 0.12), _COPY, dashed=True)
    ax.text(0.12, 0.12, "then, every request\n(answered or refused):", ha="center",
            va="center", fontsize=9, color="#555555")
    ax.text(0.5, 0.3, "red: the status a check answers with when it refuses", ha="center",
            fontsize=9, color="#b22222")
    return ax


def plot_drift_rule(report, ax=None):
    """Draw the dashboard's drift rule over one :class:`~workbench.monitoring.DriftReport`.

    One point per feature: its PSI across, the strength of its KS test up (``-log10 p``). A
    feature counts as *drifted* only in the shaded corner: PSI in the major band **and** a p-value
    below the Bonferroni-corrected level (``ALPHA / n_features``). Returns ``ax``.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from workbench.monitoring.drift import ALPHA, MAJOR, MODERATE

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    features = report.features
    level = -np.log10(features[0].alpha if features else ALPHA)
    cap = 3 * level                     # p-values far below the level are drawn at the top
    x = np.array([max(f.psi, 1e-3) for f in features])
    y = np.array([min(-np.log10(max(f.ks_pvalue, 1e-300)), cap) for f in features])
    top, right = cap * 1.08, max(x.max(initial=0) * 1.6, 1.0)
    ax.set(xscale="log", xlim=(1e-3, right), ylim=(0, top),
           xlabel="PSI (log scale)", ylabel=f"KS test: −log10 p (capped at {cap:.0f})")
    ax.axvspan(MAJOR, right, ymin=level / top, color="#f4a582", alpha=0.35, lw=0,
               label="drifted: major PSI and significant")
    for limit in (MODERATE, MAJOR):
        ax.axvline(limit, color="#888888", ls="--", lw=0.8)
    ax.axhline(level, color="#b22222", lw=1,
               label=f"Bonferroni level: p < {ALPHA:g} / {len(features)}")
    ax.axhline(-np.log10(ALPHA), color="#b22222", lw=0.8, ls=":", label=f"uncorrected p < {ALPHA:g}")
    drifted = np.array([f.drifted for f in features], dtype=bool)
    ax.scatter(x[~drifted], y[~drifted], s=14, color="#777777", label="a feature")
    ax.scatter(x[drifted], y[drifted], s=18, color="#b22222", label="a drifted feature")
    for lo, hi, band in ((1e-3, MODERATE, "stable"), (MODERATE, MAJOR, "moderate"),
                         (MAJOR, right, "major")):
        ax.text(np.sqrt(lo * hi), top * 0.99, band, ha="center", va="top", fontsize=8,
                color="#555555")
    ax.set_title(f"{int(drifted.sum())} of {len(features)} features drifted "
                 f"(drift share {report.drift_share:.0%})", fontsize=10)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return ax
