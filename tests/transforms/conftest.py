"""Fixtures of the lowering tests: Brevitas' BNN-PYNQ reference models with adversarial BatchNorm statistics,
exported to QONNX once per session, and their prepared source / lowered graphs."""

from __future__ import annotations

import numpy as np
import pytest

from bnn_pynq_export import export_bnn_pynq
from lowering_builders import BNN_PYNQ, adversarial_bn


def randomize_batchnorm(model, first_step: float, seed: int) -> int:
    """Set every BatchNorm's running statistics, gamma and beta (lowering_builders.adversarial_bn) from the
    fan-in of the layer before it, and TensorNorm's scalars; returns the number of BatchNorms touched."""
    import torch
    from brevitas.nn import QuantConv2d, QuantLinear

    rng = np.random.default_rng(seed)
    fan_in, step, layers, touched = None, 2.0, 0, 0
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (QuantConv2d, QuantLinear)):
                fan_in = module.weight[0].numel()
                step = first_step if layers == 0 else 2.0
                layers += 1
            elif isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                p = adversarial_bn(rng, module.num_features, reach=float(fan_in), step=step)
                module.weight.copy_(torch.from_numpy(p["gamma"]))
                module.bias.copy_(torch.from_numpy(p["beta"]))
                module.running_mean.copy_(torch.from_numpy(p["mean"]))
                module.running_var.copy_(torch.from_numpy(p["var"]))
                touched += 1
            elif type(module).__name__ == "TensorNorm":
                module.weight.copy_(torch.tensor([rng.uniform(-2, 2)]))
                module.bias.copy_(torch.tensor([rng.normal()]))
                module.running_mean.copy_(torch.tensor([rng.normal()]))
                module.running_var.copy_(torch.tensor([rng.uniform(0.5, 4.0)]))
    return touched


@pytest.fixture(scope="session")
def bnn_pynq_onnx(tmp_path_factory):
    """name -> path of the QONNX export (exported on first use; export takes seconds)."""
    paths = {}

    def get(name: str):
        if name not in paths:
            first_step = BNN_PYNQ[name][1]

            def set_batchnorm(model):
                assert randomize_batchnorm(model, first_step, seed=sum(map(ord, name))) > 0

            paths[name], _ = export_bnn_pynq(name, tmp_path_factory.mktemp("bnn_pynq") / f"{name}.onnx", set_batchnorm)
        return paths[name]

    return get


@pytest.fixture(scope="session")
def bnn_pynq_lowered(bnn_pynq_onnx):
    """name -> (prepared source with the /255 pixel scale, lowered graph)."""
    cache = {}

    def get(name: str):
        if name not in cache:
            from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source
            from fpgabnn.transforms.tidy import load_qonnx

            source = prepare_source(load_qonnx(bnn_pynq_onnx(name)), pixel_range="unit")
            cache[name] = (source, lower_to_hw(source))
        return cache[name]

    return get
