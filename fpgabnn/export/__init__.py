"""Folding re-parametrised binary models into +-1 weights, and their exact QONNX export."""

from fpgabnn.export.fold import fold_for_export
from fpgabnn.export.qonnx_export import export_qonnx_model

__all__ = ["fold_for_export", "export_qonnx_model"]
