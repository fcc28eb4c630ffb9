"""Lazy exports: a package names what it offers, and each name is imported on first use.

``import workbench`` (or ``workbench.panels``, ``workbench.serving``) then stays cheap: a dashboard
kernel never pays for the web stack, and one panel's broken module never stops another's import.
"""
from __future__ import annotations

import importlib


def lazy_exports(package: str, namespace: dict, exports: dict[str, str]):
    """Return ``(__getattr__, __dir__)`` for a package whose ``exports`` map each public name to
    the module defining it (absolute, or relative like ``".app"``). A name is imported on first
    access and then cached in the package's ``namespace``."""

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted([*namespace, *exports])

    return __getattr__, __dir__
