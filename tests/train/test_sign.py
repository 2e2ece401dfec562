"""SignApprox: exact sign forward, each backward against its closed form, schedules, state_dict."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from fpgabnn.errors import UserError
from fpgabnn.train.sign import GRAD_APPROXIMATIONS, SignApprox, binary_sign, set_sign_progress

GRID = np.concatenate([np.linspace(-3, 3, 601), [0.0, -0.0, 1.0, -1.0, 1e-7, -1e-7]])


def expected_tk(kind, role, epoch, epochs):
    """The schedules written independently: t = Tmin * (Tmax / Tmin) ** (e / E)."""
    if kind == "ede":
        t = 0.1 * 100.0 ** (epoch / epochs)
        return t, max(1 / t, 1.0)
    if kind == "rbnn":
        t = 0.01 * 1000.0 ** (epoch / epochs)
        return (max(t, 1.0), 1.0) if role == "activation" else (t, max(1 / t, 1.0))
    return None, None


def expected_derivative(kind, x, t, k):
    """Closed forms in numpy float64, elementwise."""
    if kind == "ste":
        return (np.abs(x) <= 1).astype(np.float64)
    if kind == "poly":
        return np.maximum(0.0, 2 - 2 * np.abs(x))
    if kind == "ede":
        return k * t * (1 - np.tanh(t * x) ** 2)
    return k * np.maximum(0.0, math.sqrt(2) * t - t * t * np.abs(x))


@pytest.mark.parametrize("kind", GRAD_APPROXIMATIONS)
@pytest.mark.parametrize("role", ["weight", "activation"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_is_exact_sign(kind, role, dtype):
    x = torch.tensor(GRID, dtype=dtype)
    y = SignApprox(kind, role)(x)
    assert y.dtype == dtype
    assert torch.equal(y, torch.where(x >= 0, 1.0, -1.0).to(dtype))
    assert torch.equal(SignApprox(kind, role)(torch.tensor([0.0, -0.0], dtype=dtype)), torch.ones(2, dtype=dtype))
    assert torch.equal(binary_sign(x), y)


@pytest.mark.parametrize("kind", GRAD_APPROXIMATIONS)
@pytest.mark.parametrize("role", ["weight", "activation"])
@pytest.mark.parametrize("epoch,epochs", [(0, 10), (3, 10), (7, 10), (9, 10), (1, 3), (2, 3)])
def test_backward_matches_closed_form(kind, role, epoch, epochs):
    sign = SignApprox(kind, role)
    sign.set_progress(epoch, epochs)
    t, k = expected_tk(kind, role, epoch, epochs)
    if t is not None:
        assert float(sign.t) == pytest.approx(t, rel=1e-12)
        assert float(sign.k) == pytest.approx(k, rel=1e-12)
    x = torch.tensor(GRID, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(len(GRID), dtype=torch.float64, generator=torch.Generator().manual_seed(epoch))
    sign(x).backward(upstream)
    want = upstream.numpy() * expected_derivative(kind, GRID, t, k)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-10, atol=1e-12)


def test_schedule_values_at_a_few_epochs():
    # RBNN, E = 3: t = 10^(-2 + 3e/3) = 0.01, 0.1, 1; k = 100, 10, 1; activations t = 1, k = 1.
    weight, act = SignApprox("rbnn", "weight"), SignApprox("rbnn", "activation")
    for e, (t, k) in enumerate([(0.01, 100.0), (0.1, 10.0), (1.0, 1.0)]):
        set_sign_progress(nn.Sequential(weight, act), e, 3)
        assert (float(weight.t), float(weight.k)) == pytest.approx((t, k), rel=1e-12)
        assert (float(act.t), float(act.k)) == (1.0, 1.0)
    # IR-Net, E = 2: t = 0.1, 1; k = 10, 1.
    ede = SignApprox("ede")
    for e, (t, k) in enumerate([(0.1, 10.0), (1.0, 1.0)]):
        ede.set_progress(e, 2)
        assert (float(ede.t), float(ede.k)) == pytest.approx((t, k), rel=1e-12)


def test_rbnn_gradient_vanishes_outside_support():
    sign = SignApprox("rbnn")
    sign.set_progress(5, 10)  # t = 10^-0.5
    t = 10 ** -0.5
    x = torch.tensor([math.sqrt(2) / t * 1.001, -math.sqrt(2) / t * 1.001, 0.0], requires_grad=True)
    sign(x).sum().backward()
    assert x.grad[:2].abs().max() == 0
    assert x.grad[2] == pytest.approx(max(1 / t, 1) * math.sqrt(2) * t, rel=1e-6)


def test_set_sign_progress_reaches_nested_modules():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(SignApprox("ede"), SignApprox("rbnn", "activation")))
    set_sign_progress(model, 4, 5)
    assert float(model[1][0].t) == pytest.approx(0.1 * 100 ** 0.8, rel=1e-12)
    assert float(model[1][1].t) == pytest.approx(max(1.0, 0.01 * 1000 ** 0.8), rel=1e-12)


@pytest.mark.parametrize("kind", GRAD_APPROXIMATIONS)
def test_state_dict_round_trip_restores_identical_gradients(kind):
    trained = SignApprox(kind)
    trained.set_progress(6, 11)
    restored = SignApprox(kind)
    restored.load_state_dict(trained.state_dict())
    assert set(trained.state_dict()) == {"t", "k"}
    grads = []
    for module in (trained, restored):
        x = torch.linspace(-2, 2, 41, requires_grad=True)
        module(x).backward(torch.ones(41))
        grads.append(x.grad)
    assert torch.equal(grads[0], grads[1])
    if kind in ("ede", "rbnn"):  # a fresh module (epoch 0) really differs, so the round trip mattered
        x = torch.linspace(-2, 2, 41, requires_grad=True)
        SignApprox(kind)(x).backward(torch.ones(41))
        assert not torch.equal(x.grad, grads[0])


def test_unknown_kind_names_the_valid_ones():
    with pytest.raises(UserError) as error:
        SignApprox("tanh")
    assert all(kind in str(error.value) for kind in GRAD_APPROXIMATIONS)
    with pytest.raises(UserError):
        SignApprox("ste", role="bias")


def test_extra_repr_shows_kind_and_role():
    text = repr(SignApprox("poly", "activation"))
    assert "poly" in text and "activation" in text


def test_bad_progress_rejected():
    with pytest.raises(ValueError):
        SignApprox("rbnn").set_progress(3, 0)
