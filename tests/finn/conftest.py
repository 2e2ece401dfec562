"""Fixtures of the FINN interop tests: Brevitas' BNN-PYNQ models whose BatchNorms make always-on, always-off,
zero-gamma and negative-gamma channels, exported to QONNX once per session, and finn-plus's environment.

finn-plus runs in its own venv (benchmarks/setup_finn_plus.sh, which .ci/install calls); these tests fail,
not skip, when it is missing: the interop is what they check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bnn_pynq_export import export_bnn_pynq

#: name -> (brevitas_examples config, input shape, fpgabnn target fps, check samples, finn-plus codegen in the
#: export check: LFC's 1.4 M weights make finn-plus's weight files slow and it has no op TFC/SFC lack)
MODELS = {
    "tfc": ("tfc_1w1a", (1, 1, 28, 28), 100_000, 3, True),
    "sfc": ("sfc_1w1a", (1, 1, 28, 28), 50_000, 2, True),
    "lfc": ("lfc_1w1a", (1, 1, 28, 28), 10_000, 1, False),
    "cnv": ("cnv_1w1a", (1, 3, 32, 32), 1_000, 1, True),
}


def awkward_batchnorm(model: torch.nn.Module, seed: int) -> None:
    """Thresholds inside the accumulator range (as after training) except: channel 0 gamma = 0, beta > 0
    (always on); channel 1 gamma = 0, beta < 0 (always off); channel 2 mean far below the range (always on);
    channel 3 far above (always off); every 4th channel from 4 on has a negative gamma."""
    from brevitas.nn import QuantConv2d, QuantLinear

    gen = torch.Generator().manual_seed(seed)
    fan_in = None
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (QuantConv2d, QuantLinear)):
                fan_in = m.weight[0].numel()
            elif isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                n, spread = m.num_features, float(np.sqrt(fan_in))
                m.running_mean.copy_(torch.randn(n, generator=gen) * spread * 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) * spread**2 + 1.0)
                gamma = torch.rand(n, generator=gen) + 0.2
                gamma[4::4] *= -1
                beta = torch.randn(n, generator=gen) * 0.1
                gamma[0], beta[0], gamma[1], beta[1] = 0.0, 0.5, 0.0, -0.5
                m.running_mean[2], m.running_mean[3] = -4.0 * fan_in, 4.0 * fan_in
                m.weight.copy_(gamma)
                m.bias.copy_(beta)


@pytest.fixture(scope="session")
def bnn_pynq(tmp_path_factory):
    """short name -> QONNX path of the model (inputs in [0, 1], so builds use --pixel-range unit)."""
    cache = {}

    def get(name: str):
        if name not in cache:
            cfg = MODELS[name][0]
            cache[name], _ = export_bnn_pynq(cfg, tmp_path_factory.mktemp("finn_models") / f"{name}.onnx",
                                             lambda model: awkward_batchnorm(model, seed=len(cfg)))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def finn_env():
    """finn-plus's interpreter; a failure naming the fix when it is missing (CI installs it)."""
    from fpgabnn.errors import UserError
    from fpgabnn.finn.env import finn_python

    try:
        return finn_python()
    except UserError as err:
        pytest.fail(f"the FINN interop tests need finn-plus: {err}")
