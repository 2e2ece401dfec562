"""fold_for_export: +-1 weights, no training-only parts, exactly the same eval outputs."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from fpgabnn.export import fold_for_export
from fpgabnn.train.layers import ChannelScale
from fpgabnn.train.models import MODELS, build_model
from fpgabnn.train.parametrize import METHODS, rotation_update
from fpgabnn.train.sign import SignApprox

SCALINGS = ("none", "analytic", "learned")
# tfc: every method x scaling; each other model: one or two methods and scalings, chosen so that every
# non-baseline method meets a convolutional model and every model every kind of scale at least once overall.
CASES = [("tfc", method, scaling) for method, scaling in itertools.product(METHODS, SCALINGS)]
CASES += [
    ("sfc", "tucker", "none"), ("lfc", "rotation", "analytic"),
    ("cnv", "holistic-tucker", "learned"), ("cnv", "svd", "none"),
    ("cnv28", "tucker-rotation", "analytic"), ("cnv28", "baseline", "learned"),
    ("resnet20", "holistic-tucker", "none"), ("resnet20", "rotation", "learned"),
    ("resnet20-bireal", "tucker", "analytic"), ("resnet20-bireal", "svd", "learned"),
    ("resnet20-preact", "rotation", "learned"), ("resnet20-preact", "holistic-tucker", "analytic"),
]
assert {name for name, _, _ in CASES} == set(MODELS)

def _trained_looking(randomize, name, method, scaling, aux=False, seed=0):
    torch.manual_seed(seed)
    model = build_model(name, method=method, scaling=scaling, width_scale=0.25, aux=aux)
    rotation_update(model)  # rotations away from their initial state
    with torch.no_grad():  # move every latent tensor (factors, rotation angles) off its initial value
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return randomize(model, seed)


@pytest.mark.parametrize("name, method, scaling", CASES)
def test_fold_keeps_eval_outputs_identical(name, method, scaling, pixels, randomize):
    model = _trained_looking(randomize, name, method, scaling, aux=(name == "tfc"))
    x = pixels(model, 6)
    model.train()
    model(x)  # leaves aux losses and training state behind, which folding must cope with
    model.eval()
    folded = fold_for_export(model)
    with torch.no_grad():
        assert torch.equal(folded(x), model(x))
    assert model.training is False and folded.training is False
    for layer in folded.binary_layers():
        assert not torch.nn.utils.parametrize.is_parametrized(layer)
        assert set(layer.weight.unique().tolist()) <= {-1.0, 1.0}
        assert layer.folded and layer.aux_branch is None
        assert layer.scale is None or layer.scale.kind in ("learned", "constant")
        assert (layer.scale is None) == (scaling == "none")
    assert not any(isinstance(m, (SignApprox, nn.Dropout)) for m in folded.modules())
    # the original still trains: folding a copy must not touch it (shared parametrised classes)
    model.train()
    model(x).sum().backward()
    assert all(layer.weight.requires_grad for layer in model.binary_layers())


def test_fold_keeps_only_sign_and_scale_parameters(randomize):
    model = _trained_looking(randomize, "tfc", "tucker-rotation", "analytic")
    folded = fold_for_export(model)
    baseline = build_model("tfc", scaling="analytic", width_scale=0.25)
    names = {n for n, _ in folded.named_parameters()} | {n for n, _ in folded.named_buffers()}
    expected = {n for n, _ in baseline.named_parameters()} | {n for n, _ in baseline.named_buffers()}
    expected = {n for n in expected if not n.endswith((".t", ".k"))}  # SignApprox schedules are gone too
    expected |= {f"{n}.scale.alpha" for n, m in baseline.named_modules() if hasattr(m, "reset_scale")}
    assert names == expected
    assert all(isinstance(layer.scale, ChannelScale) and layer.scale.kind == "constant" for layer in folded.binary_layers())
