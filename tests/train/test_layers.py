"""Binary layers: exact forward, gradients owned by SignApprox, export-facing quantiser scales, aux branch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fpgabnn.errors import UserError
from fpgabnn.train.aux import attach_aux
from fpgabnn.train.layers import BinaryAct, BinaryConv2d, BinaryLinear, ChannelScale, InputQuant, TensorNorm
from fpgabnn.train.sign import binary_sign


def _sign(w):
    return torch.where(w >= 0, 1.0, -1.0)


@pytest.mark.parametrize("scaling", ["none", "analytic", "learned"])
def test_linear_forward_is_exact_sign_product_times_channel_scale(scaling):
    torch.manual_seed(0)
    layer = BinaryLinear(12, 5, scaling=scaling)
    with torch.no_grad():
        layer.weight[0, 0] = 0.0  # sign(0) = +1
        if scaling == "learned":
            layer.scale.alpha[1] = -0.7  # learned scales may be negative
    x = binary_sign(torch.randn(7, 12))
    y = layer(x)
    expected = F.linear(x, _sign(layer.weight.detach()))
    if scaling == "analytic":
        expected = expected * layer.weight.detach().abs().mean(1)
    elif scaling == "learned":
        expected = expected * layer.scale.alpha.detach()
    assert torch.equal(y, expected)
    q = layer.quant_weight()
    assert float(q.scale) == 1.0 and q.value[0, 0] == 1.0
    assert set(q.value.unique().tolist()) == {-1.0, 1.0}


@pytest.mark.parametrize("scaling", ["none", "analytic", "learned"])
def test_conv_forward_matches_functional_conv(scaling):
    torch.manual_seed(1)
    layer = BinaryConv2d(3, 4, 3, stride=2, padding=1, scaling=scaling)
    x = torch.randn(2, 3, 9, 9)
    y = layer(x)
    expected = F.conv2d(x, _sign(layer.weight.detach()), stride=2, padding=1)
    if scaling == "analytic":
        expected = expected * layer.weight.detach().abs().mean((1, 2, 3)).view(1, -1, 1, 1)
    elif scaling == "learned":
        expected = expected * layer.scale.alpha.detach().view(1, -1, 1, 1)
    assert torch.equal(y, expected)
    assert layer.bias is None


def test_learned_scale_starts_at_mean_abs_weight_and_is_trainable():
    layer = BinaryConv2d(2, 3, 3, scaling="learned")
    assert torch.equal(layer.scale.alpha.detach(), layer.weight.detach().abs().mean((1, 2, 3)))
    assert any(p is layer.scale.alpha for p in layer.parameters())
    with pytest.raises(UserError):
        BinaryLinear(3, 3, scaling="per-tensor")


def test_weight_gradient_is_the_clipped_ste_only():
    """Brevitas' clamp and sign are straight-through: the gradient is exactly SignApprox's (ste: 1{|w|<=1})."""
    torch.manual_seed(2)
    layer = BinaryLinear(6, 4, weight_grad="ste")
    with torch.no_grad():
        layer.weight.mul_(4.0)  # some |w| > 1
    x = binary_sign(torch.randn(5, 6))
    upstream = torch.randn(5, 4)
    (layer(x) * upstream).sum().backward()
    w = layer.weight.detach()
    expected = (upstream.T @ x) * (w.abs() <= 1).float()
    assert torch.allclose(layer.weight.grad, expected)
    assert (w.abs() > 1).any() and torch.all(layer.weight.grad[w.abs() > 1] == 0)


def test_analytic_scale_passes_gradient_to_the_latent_weight():
    layer = BinaryLinear(4, 2, scaling="analytic", weight_grad="ste")
    with torch.no_grad():
        layer.weight.fill_(3.0)  # STE mask is 0 everywhere: any gradient comes through alpha
    layer(torch.ones(1, 4)).sum().backward()
    assert torch.all(layer.weight.grad != 0)


def test_binary_act_is_exact_sign_and_ste_gradient():
    act = BinaryAct("ste")
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
    y = act(x)
    assert y.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_input_quant_is_power_of_two_fixed_point_of_the_pixel(bits):
    q = InputQuant(bits)
    pixels = torch.arange(256, dtype=torch.float32)
    y = q(pixels)
    step = 2.0 ** (1 - bits)
    ints = torch.clamp(torch.round((2.0 * (pixels / 255.0) - 1.0) / step), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    assert torch.equal(y, ints * step)
    assert float(q.quant.act_quant.scale()) == step
    assert y.min() == -1.0 and y.max() == 1.0 - step


def test_input_quant_one_bit_is_bipolar():
    y = InputQuant(1)(torch.arange(256, dtype=torch.float32))
    assert torch.equal(y, torch.where(torch.arange(256) >= 128, 1.0, -1.0))


@pytest.mark.parametrize("bits", [0, 17])
def test_input_quant_refuses_bad_bits(bits):
    with pytest.raises(UserError, match="input bits"):
        InputQuant(bits)


def test_channel_scale_refuses_unknown_kind():
    with pytest.raises(ValueError):
        ChannelScale("none", 3, 0)


def test_tensor_norm_matches_formula_and_tracks_statistics():
    norm = TensorNorm()
    with torch.no_grad():
        norm.weight.fill_(-1.5)
        norm.bias.fill_(0.25)
    x = torch.randn(8, 10) * 3 + 1
    y = norm(x)  # training: batch statistics over the whole tensor
    assert torch.allclose(y, (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-4) * -1.5 + 0.25)
    assert torch.allclose(norm.running_mean, 0.1 * x.mean().reshape(1))
    norm.eval()
    assert torch.equal(norm(x), (x - norm.running_mean) / torch.sqrt(norm.running_var + 1e-4) * -1.5 + 0.25)


def test_aux_branch_records_a_loss_in_training_only_and_reaches_the_latent_weight():
    torch.manual_seed(3)
    layer = BinaryConv2d(2, 3, 3, scaling="learned")
    x = binary_sign(torch.randn(4, 2, 6, 6))
    plain = layer(x)
    attach_aux([layer])
    out = layer(x)
    assert torch.equal(out, plain)  # the branch never changes the binary path
    loss = layer.aux_branch.pop_loss()
    assert loss is not None and 0 < float(loss) < 2
    with torch.no_grad():
        layer.weight.mul_(10)  # STE mask 0 everywhere: the only weight gradient left is the branch's
    layer(x)
    layer.aux_branch.pop_loss().backward()
    assert layer.weight.grad.abs().sum() > 0
    layer.eval()
    layer(x)
    assert layer.aux_branch.pop_loss() is None
