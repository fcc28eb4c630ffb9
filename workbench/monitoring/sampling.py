"""The per-model input sampling rate: which share of a model's requests keeps its input rows in
the prediction log (1.0 for models whose traffic must be replayable, see
:mod:`workbench.loadgen.replay`). Stored in ``<home>/monitoring.json``; every serving worker
re-reads it within a second (:meth:`~.log.PredictionLog.load_settings`)."""
from __future__ import annotations

import json
from pathlib import Path

from ..home import resolve_home

SETTINGS = "monitoring.json"


def set_input_fraction(home, model: str, fraction: float | None) -> dict:
    """Keep the input rows of ``fraction`` of ``model``'s requests (1.0: all, for replay;
    None: back to the server's default). Written to ``<home>/monitoring.json``; running
    servers pick it up within a second. Returns the per-model settings."""
    if fraction is not None and not (isinstance(fraction, (int, float)) and 0 <= fraction <= 1):
        raise ValueError(f"the input fraction must be a number in [0, 1], got {fraction!r}")
    path = Path(resolve_home(home)) / SETTINGS
    settings = json.loads(path.read_text()) if path.exists() else {}
    fractions = settings.setdefault("input_fraction", {})
    if fraction is None:
        fractions.pop(model, None)
    else:
        fractions[model] = float(fraction)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(settings, indent=2))
    tmp.replace(path)
    return fractions
