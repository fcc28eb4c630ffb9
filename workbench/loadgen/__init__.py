"""Load generation: realistic traffic for a running service, through its real HTTP API.

An HTTP *client* of the service, so it sits on top of the layers (it may use serving's key store
and the registry to pick rows that fit a model); no layer imports it. ``workbench simulate`` is
its command line.
"""
from .simulator import BAD_KINDS, SimulationResult, TrafficSimulator, simulate

__all__ = ["BAD_KINDS", "SimulationResult", "TrafficSimulator", "simulate"]
