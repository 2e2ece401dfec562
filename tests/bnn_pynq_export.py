"""One export of Brevitas' BNN-PYNQ reference models for the test suites (flow, finn, transforms).

Each suite brings its own BatchNorm randomiser, because each tests a different edge: random statistics
(flow), always-on/off and zero-gamma channels (finn), thresholds set from the fan-in around every integer
step (transforms). The export itself, its seed and input shape are the same everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch


def input_shape(cfg: str) -> tuple:
    """BNN-PYNQ's input: CIFAR-10 for the CNVs, MNIST for the MLPs (values in [0, 1])."""
    return (1, 3, 32, 32) if cfg.startswith("cnv") else (1, 1, 28, 28)


def export_bnn_pynq(cfg: str, path: Path, set_batchnorm: Callable[[torch.nn.Module], object]):
    """brevitas_examples config (e.g. "tfc_1w1a") -> (QONNX path, the eval-mode torch model), with weights
    from seed 0 and BatchNorms set by ``set_batchnorm``."""
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(0)
    model, _ = model_with_cfg(cfg, pretrained=False)
    set_batchnorm(model)
    model.eval()
    export_qonnx(model, torch.rand(input_shape(cfg)), export_path=str(path))
    return path, model
