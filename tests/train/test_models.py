"""The model zoo: published topologies, the factory's checks, groups for holistic Tucker, every method trains."""

from __future__ import annotations

import pytest
import torch
from brevitas.nn import QuantConv2d, QuantLinear

from fpgabnn.errors import UserError
from fpgabnn.train.layers import BinaryConv2d, BinaryLinear
from fpgabnn.train.models import MODELS, build_model
from fpgabnn.train.parametrize import METHODS


def _weight_shapes(model, types):
    return [tuple(m.weight.shape) for m in model.modules() if isinstance(m, types)]


@pytest.mark.parametrize("name", ["tfc_1w1a", "sfc_1w1a", "lfc_1w1a", "cnv_1w1a"])
def test_bnn_pynq_topologies_match_brevitas_examples(name):
    """Same binary layer shapes as brevitas_examples.bnn_pynq (the FINN reference models)."""
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    reference, _ = model_with_cfg(name, pretrained=False)
    ours = build_model(name.split("_")[0])
    assert _weight_shapes(ours, (BinaryConv2d, BinaryLinear)) == _weight_shapes(reference, (QuantConv2d, QuantLinear))
    assert sum(isinstance(m, torch.nn.Dropout) for m in ours.modules()) == \
        sum(isinstance(m, torch.nn.Dropout) for m in reference.modules())


def test_cnv28_keeps_cnv_after_the_padded_first_conv():
    cnv, cnv28 = build_model("cnv"), build_model("cnv28")
    assert cnv28.input_shape == (1, 28, 28) and cnv.input_shape == (3, 32, 32)
    shapes, shapes28 = _weight_shapes(cnv, (BinaryConv2d, BinaryLinear)), _weight_shapes(cnv28, (BinaryConv2d, BinaryLinear))
    assert shapes28[0] == (64, 1, 3, 3) and shapes28[1:] == shapes[1:]
    convs = [m for m in cnv28.modules() if isinstance(m, BinaryConv2d)]
    assert convs[0].padding == (2, 2) and all(c.padding == (0, 0) for c in convs[1:])
    assert cnv28.eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("name", MODELS)
def test_forward_shapes_and_layer_lists(name):
    model = build_model(name, num_classes=7, width_scale=0.25).eval()
    x = torch.randint(0, 256, (3, *model.input_shape)).float()
    assert model(x).shape == (3, 7)
    layers = model.binary_layers()
    assert layers and all(isinstance(m, (BinaryConv2d, BinaryLinear)) for m in layers)
    for group in model.holistic_groups():
        assert len(group) >= 2 and len({tuple(m.weight.shape) for m in group}) == 1
        assert all(any(m is layer for layer in layers) for m in group)


def test_binary_convs_pad_only_where_the_input_is_integer():
    """The compiler cannot zero-pad bipolar inputs: deployable models pad at most the first conv."""
    for name in ("cnv", "cnv28"):
        convs = [m for m in build_model(name, width_scale=0.25).modules() if isinstance(m, BinaryConv2d)]
        assert all(c.padding == (0, 0) for c in convs[1:])
    assert all(not m.bias_quant.is_quant_enabled and m.bias is None for m in build_model("tfc").binary_layers())


def test_resnet20_structure_and_stage_groups():
    plain = build_model("resnet20")
    convs = [m for m in plain.modules() if isinstance(m, BinaryConv2d)]
    assert len(convs) == 19 and len(plain.binary_layers()) == 20  # 18 block convs + stem, binary FC
    assert [len(g) for g in plain.holistic_groups()] == [6, 5, 5]  # a stage's strided conv stays layer-wise
    assert [tuple(g[0].weight.shape) for g in plain.holistic_groups()] == [(16, 16, 3, 3), (32, 32, 3, 3), (64, 64, 3, 3)]
    real = build_model("resnet20", real_ends=True)
    assert len(real.binary_layers()) == 18
    assert type(real.stem) is torch.nn.Conv2d and type(real.head) is torch.nn.Linear
    torch.manual_seed(0)
    bireal = build_model("resnet20-bireal", width_scale=0.5).eval()
    torch.manual_seed(0)
    plain = build_model("resnet20", width_scale=0.5).eval()
    plain.load_state_dict(bireal.state_dict())
    x = torch.randint(0, 256, (2, 3, 32, 32)).float()
    assert not torch.equal(plain(x), bireal(x))  # same weights, different wiring


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"name": "vgg"}, "unknown model"),
        ({"name": "tfc", "method": "prune"}, "unknown method"),
        ({"name": "tfc", "scaling": "per-tensor"}, "unknown scaling"),
        ({"name": "tfc", "weight_grad": "magic"}, "unknown weight gradient"),
        ({"name": "tfc", "act_grad": "magic"}, "unknown activation gradient"),
        ({"name": "cnv", "image_size": 28}, "too small"),
        ({"name": "tfc", "input_bits": 0}, "input bits"),
        ({"name": "tfc", "real_ends": True}, "ResNet"),
        ({"name": "tfc", "num_classes": 0}, "positive"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs, needle):
    with pytest.raises(UserError, match=needle):
        build_model(**kwargs)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_reloads(method):
    """Forward/backward reach every trainable tensor; a state dict reloads into a model built the same way."""
    from fpgabnn.train.parametrize import rotation_update

    config = dict(name="tfc", method=method, scaling="learned", weight_grad="ste", act_grad="ste", width_scale=0.5)
    torch.manual_seed(0)
    model = build_model(**config)
    rotation_update(model)
    with torch.no_grad():  # off the initial point (RBNN's theta = pi/2 has a zero gradient there)
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.randint(0, 256, (16, *model.input_shape)).float()
    torch.nn.functional.cross_entropy(model(x), torch.arange(16) % 10).backward()
    starved = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert set(starved) <= {"features.16.bias"}  # TensorNorm's bias shifts all logits: cross-entropy ignores it
    torch.manual_seed(1)
    again = build_model(**config)
    again.load_state_dict(model.state_dict())
    model.eval(), again.eval()
    assert torch.equal(model(x), again(x))


def test_aux_loss_only_with_aux_and_in_training():
    torch.manual_seed(0)
    plain = build_model("tfc", width_scale=0.5)
    torch.manual_seed(0)
    with_aux = build_model("tfc", width_scale=0.5, aux=True)
    x = torch.randint(0, 256, (8, 1, 28, 28)).float()
    with_aux.eval(), plain.eval()
    assert torch.equal(plain(x), with_aux(x))
    with_aux.train()
    logits = with_aux(x)
    loss = with_aux.aux_loss(logits, None)
    assert 0 < float(loss) < 2 and loss.requires_grad
    assert float(with_aux.aux_loss(logits, None)) == 0.0  # consumed
    plain.train()
    assert float(plain.aux_loss(plain(x), None)) == 0.0
