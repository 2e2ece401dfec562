"""Fixtures of the estimate/report tests: Brevitas' BNN-PYNQ models (random weights) exported to QONNX and
lowered once per session."""

from __future__ import annotations

import pytest

SHAPES = {"tfc_1w1a": (1, 1, 28, 28), "cnv_1w1a": (1, 3, 32, 32)}


@pytest.fixture(scope="session")
def bnn_pynq_hw(tmp_path_factory):
    """name -> (path of the QONNX export, lowered hardware graph), built on first use."""
    cache = {}

    def get(name: str):
        if name not in cache:
            import torch
            from brevitas.export import export_qonnx
            from brevitas_examples.bnn_pynq.models import model_with_cfg

            from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source
            from fpgabnn.transforms.tidy import load_qonnx

            torch.manual_seed(0)
            model, _ = model_with_cfg(name, pretrained=False)
            model.eval()
            path = tmp_path_factory.mktemp("bnn_pynq") / f"{name}.onnx"
            export_qonnx(model, torch.randn(SHAPES[name]), export_path=str(path))
            cache[name] = (path, lower_to_hw(prepare_source(load_qonnx(path), pixel_range="unit")))
        return cache[name]

    return get
