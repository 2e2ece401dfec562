"""PyTorch eval, qonnx execution of the source, the hardware-layer graph and C simulation of the generated HLS
give identical integers, on Brevitas' own BNN-PYNQ models with non-trivial BatchNorm, 100 inputs each."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fpgabnn.builder import build
from fpgabnn.sim.csim import run_csim
from fpgabnn.sim.reference import random_pixels
from fpgabnn.verify import verify_build

SAMPLES = 100
TARGET_FPS = {"tfc_1w1a": 100_000, "sfc_1w1a": 20_000, "lfc_1w1a": 5_000, "cnv_1w1a": 1_000}


def stream_inputs(images: np.ndarray, lowered) -> np.ndarray:
    """Raw images -> the accelerator's input stream order (NHWC for CNNs, flat NCHW for MLPs)."""
    from fpgabnn.transforms.pipeline import split_dataflow

    first = split_dataflow(lowered).hw[0]
    n = images.shape[0]
    if len(lowered.get_tensor_shape(first.input[0])) == 4:
        return images.transpose(0, 2, 3, 1).reshape(n, -1).astype(np.int64)
    return images.reshape(n, -1).astype(np.int64)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TARGET_FPS))
def test_pytorch_qonnx_hw_graph_and_csim_agree(name, brevitas_qonnx, tmp_path):
    from qonnx.core.modelwrapper import ModelWrapper

    path, torch_model = brevitas_qonnx(name)
    out = tmp_path / "build"
    build(path, out, target_fps=TARGET_FPS[name], pixel_range="unit", quiet=True)

    # qonnx source vs lowered graph (every layer) vs C simulation
    result = verify_build(out, samples=SAMPLES, seed=3, quiet=True)
    assert result["bit_exact"], result["mismatches"][:5]
    assert result["lowered_graph_bit_exact"] and result["csim_bit_exact"]

    # PyTorch eval: the last layer's integer accumulators equal the simulated accelerator output
    shape = (1, 3, 32, 32) if name.startswith("cnv") else (1, 1, 28, 28)
    images = random_pixels(shape, SAMPLES, seed=4)
    sim = np.asarray(run_csim(out / "hls", stream_inputs(images, ModelWrapper(str(out / "model_hw.onnx")))))
    captured = {}
    last = [m for m in torch_model.modules() if type(m).__name__ == "QuantLinear"][-1]
    handle = last.register_forward_hook(lambda m, i, o: captured.__setitem__("acc", o))
    with torch.no_grad():
        torch_model(torch.from_numpy(images / 255.0).float())
    handle.remove()
    acc = captured["acc"]
    acc = acc.value if hasattr(acc, "value") else acc
    assert np.array_equal(acc.numpy().astype(np.int64), sim.reshape(SAMPLES, -1))
    # the accumulators are not degenerate (the comparison could fail)
    assert len(np.unique(sim)) > 5
