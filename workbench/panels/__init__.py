"""ipywidgets panels: the only part of the workbench that imports ipywidgets.

Each panel is loaded on first use (``from workbench.panels import TrainingPanel``), so one panel's
missing or broken module never stops another from importing.
"""
from __future__ import annotations

from .._lazy import lazy_exports

#: public name -> module that defines it
_EXPORTS = {
    "TrainingPanel": "workbench.panels.training_panel",
    "RegistryPanel": "workbench.panels.registry_panel",
    "DeploymentPanel": "workbench.panels.deployment_panel",
    "MonitoringDashboard": "workbench.panels.monitoring_panel",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
__all__ = sorted(_EXPORTS)
