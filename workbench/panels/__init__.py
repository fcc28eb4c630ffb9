"""ipywidgets panels: the only part of the workbench that imports ipywidgets.

Each panel is loaded on first use (``from workbench.panels import TrainingPanel``), so one panel's
missing or broken module never stops another from importing.
"""
from __future__ import annotations

import importlib

#: public name -> module that defines it
_EXPORTS = {
    "TrainingPanel": "workbench.panels.training_panel",
    "RegistryPanel": "workbench.panels.registry_panel",
    "DeploymentPanel": "workbench.panels.deployment_panel",
    "MonitoringDashboard": "workbench.panels.monitoring_panel",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.panels' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)
