"""ONNX in and out: export any workbench model; load, check and serve ONNX graphs made elsewhere.

:func:`export_onnx` lives here (it reads every model family); :class:`OnnxModel` lives in the
models layer (:mod:`workbench.models.onnx_model`) because the registry rebuilds it like any model.

>>> from workbench.onnx import export_onnx, OnnxModel                  # doctest: +SKIP
>>> data = export_onnx(model, "model.onnx")                            # doctest: +SKIP
>>> OnnxModel.from_bytes(data).predict(X)                              # doctest: +SKIP
"""
from ..models.onnx_model import OnnxModel, OnnxModelError, inspect_onnx
from .export import export_onnx

__all__ = ["OnnxModel", "OnnxModelError", "export_onnx", "inspect_onnx"]
