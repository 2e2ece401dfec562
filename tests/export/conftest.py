"""Shared fixtures for the export tests: models with non-trivial inference state."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fpgabnn.train.layers import BINARY_LAYERS, TensorNorm


def randomize_inference_state(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BatchNorm statistics and affine parameters (one negative and one zero gamma per layer),
    learned scales with negative entries, a negative TensorNorm weight: what a trained model may hold.

    Means and variances follow the magnitude of the accumulator feeding each BatchNorm, so signs vary."""
    g = torch.Generator().manual_seed(seed)
    fan_in = 1.0
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, BINARY_LAYERS):
                fan_in = float(m.weight[0].numel())
                if m.scale is not None and m.scale.kind == "learned":
                    alpha = torch.randn(m.scale.alpha.shape, generator=g)
                    alpha[0] = -abs(float(alpha[0])) - 0.1
                    m.scale.alpha.copy_(alpha)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                spread = fan_in ** 0.5
                m.running_mean.copy_(torch.randn(c, generator=g) * spread * 0.5)
                m.running_var.copy_((torch.rand(c, generator=g) * 1.5 + 0.5) * fan_in)
                gamma = torch.randn(c, generator=g)
                gamma[0] = 0.0
                if c > 1:
                    gamma[1] = -abs(float(gamma[1])) - 0.1
                m.weight.copy_(gamma)
                m.bias.copy_(torch.randn(c, generator=g) * 0.5)
            elif isinstance(m, TensorNorm):
                m.running_mean.fill_(float(torch.randn(1, generator=g)))
                m.running_var.fill_(float(torch.rand(1, generator=g)) * 10 + 1)
                m.weight.fill_(-0.8)
                m.bias.fill_(0.3)
    return model


@pytest.fixture
def pixels():
    def make(model, n, seed=0):
        g = torch.Generator().manual_seed(seed)
        return torch.randint(0, 256, (n, *model.input_shape), generator=g).float()

    return make


@pytest.fixture(scope="session")
def randomize():
    """``randomize_inference_state`` as a fixture (tests/ is not a package, so no relative imports)."""
    return randomize_inference_state
