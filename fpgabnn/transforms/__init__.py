"""Graph transformations from Brevitas' QONNX to fpgabnn's hardware-layer graph (one concept per module)."""
