"""Fixtures for end-to-end tests: QONNX files exported once per session."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from bnn_pynq_export import export_bnn_pynq

# RTL simulators of the tests run few frames: compile them without C++ optimisation (much faster to build)
os.environ.setdefault("FPGABNN_QUICK_SIM", "1")


def _randomise_batchnorm(model: torch.nn.Module, seed: int) -> None:
    """Non-trivial BN statistics: thresholds inside, at the edge of and outside the popcount range, negative
    and exactly-zero gamma."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=gen) * 8)
            module.running_var.copy_(torch.rand(n, generator=gen) * 20 + 0.5)
            gamma = torch.randn(n, generator=gen)
            gamma[0] = 0.0
            gamma[1 % n] = -abs(gamma[1 % n]) - 0.1
            module.weight.data.copy_(gamma)
            module.bias.data.copy_(torch.randn(n, generator=gen))


@pytest.fixture(scope="session")
def brevitas_qonnx(tmp_path_factory):
    """name -> (path, model) of a Brevitas BNN-PYNQ model (random weights, randomised BN) exported to QONNX."""
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = export_bnn_pynq(name, tmp_path_factory.mktemp("brevitas") / f"{name}.onnx",
                                          lambda model: _randomise_batchnorm(model, seed=len(name)))
        return cache[name]

    return get


@pytest.fixture
def rng():
    return np.random.default_rng(0)
