"""Weight re-parametrisations: exact reconstruction, factor shapes, holistic sharing, RBNN rotation."""

import copy
import math

import pytest
import torch
from brevitas.nn import QuantConv2d, QuantLinear
from torch import nn
from torch.nn.utils import parametrize as P

from fpgabnn.errors import UserError
from fpgabnn.train.parametrize import (
    METHODS,
    HolisticTuckerWeight,
    RotationWeight,
    SVDWeight,
    TuckerWeight,
    latent_weight,
    parametrize_model,
    parametrize_weight,
    rotation_update,
)
from fpgabnn.train.parametrize.rotation import alternating_update, factor_pair, random_orthogonal

SHAPES = [(8, 6, 3, 3), (16, 3, 3, 3), (12, 50), (40, 7)]  # incl. Co > Ci*k*k and a tall/wide Linear


def make_layer(shape, seed=0):
    torch.manual_seed(seed)
    if len(shape) == 4:
        return nn.Conv2d(shape[1], shape[0], shape[2], bias=False)
    return nn.Linear(shape[1], shape[0], bias=False)


def originals(layer):
    chain = layer.parametrizations.weight
    return [chain.original] if chain.is_tensor else [getattr(chain, f"original{i}") for i in range(chain.ntensors)]


# ---- SVD and Tucker --------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["svd", "tucker"])
@pytest.mark.parametrize("shape", SHAPES)
def test_full_rank_reconstructs_initial_weight(method, shape):
    layer = make_layer(shape)
    initial = layer.weight.detach().clone()
    parametrize_weight(layer, method)
    assert P.is_parametrized(layer, "weight")
    assert all(not torch.equal(o, initial) for o in originals(layer))  # it really is rebuilt from factors
    torch.testing.assert_close(layer.weight, initial, atol=1e-5, rtol=0)
    torch.testing.assert_close(latent_weight(layer), initial, atol=1e-5, rtol=0)


def test_svd_truncated_factor_shapes():
    layer = make_layer((8, 6, 3, 3))
    parametrize_weight(layer, "svd", rank=3)
    assert isinstance(layer.parametrizations.weight[0], SVDWeight)
    U, s, V = originals(layer)
    assert (U.shape, s.shape, V.shape) == ((8, 3), (3,), (54, 3))
    assert layer.weight.shape == (8, 6, 3, 3)
    layer = make_layer((8, 6, 3, 3))
    parametrize_weight(layer, "svd", rank_ratio=0.5)  # ceil(0.5 * min(8, 54)) = 4
    assert [o.shape[-1] for o in originals(layer)] == [4, 4, 4]


def test_svd_truncation_is_the_best_low_rank_approximation():
    layer = make_layer((8, 6, 3, 3))
    W = layer.weight.detach().reshape(8, -1).double().clone()
    parametrize_weight(layer, "svd", rank=2)
    s = torch.linalg.svdvals(W)
    error = torch.linalg.norm(layer.weight.detach().reshape(8, -1).double() - W)
    assert float(error) == pytest.approx(float(s[2:].norm()), rel=1e-4)  # Eckart-Young


def test_tucker_truncated_factor_shapes():
    layer = make_layer((8, 6, 3, 3))
    parametrize_weight(layer, "tucker", ranks=(4, 2, 3, 1))
    core, *factors = originals(layer)
    assert core.shape == (4, 2, 3, 1)
    assert [f.shape for f in factors] == [(8, 4), (6, 2), (3, 3), (3, 1)]
    layer = make_layer((8, 6, 3, 3))
    parametrize_weight(layer, "tucker", rank_ratio=0.5)  # channel modes only
    assert originals(layer)[0].shape == (4, 3, 3, 3)
    layer = make_layer((12, 50))
    parametrize_weight(layer, "tucker", ranks=(5, None))  # None = full, bounded by the other mode: 5
    assert originals(layer)[0].shape == (5, 5)


def test_tucker_full_ranks_are_bounded_by_the_unfoldings():
    layer = make_layer((16, 3, 3, 3))
    parametrize_weight(layer, "tucker")
    assert layer.parametrizations.weight[0].ranks == (16, 3, 3, 3)
    layer = make_layer((40, 7))
    parametrize_weight(layer, "tucker")
    assert layer.parametrizations.weight[0].ranks == (7, 7)


def test_factors_receive_gradients():
    layer = make_layer((8, 6, 3, 3))
    parametrize_weight(layer, "tucker", ranks=(4, 3, 2, 2))
    (layer(torch.randn(2, 6, 5, 5)) ** 2).sum().backward()
    assert all(o.grad is not None and o.grad.abs().sum() > 0 for o in originals(layer))


# ---- holistic Tucker ---------------------------------------------------------------------------------------
def holistic_net():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(4, 6, 3, bias=False), nn.Conv2d(6, 6, 3, bias=False),
                         nn.Conv2d(6, 6, 3, bias=False), nn.Conv2d(6, 6, 3, bias=False, stride=2),
                         nn.Flatten(), nn.Linear(6, 5, bias=False))


def test_holistic_groups_share_one_object_and_reconstruct():
    net = holistic_net()
    layers = [net[0], net[1], net[2], net[3], net[5]]
    initial = [layer.weight.detach().clone() for layer in layers]
    # group 1..3 share; net[0] has another shape -> layer-wise; net[5] is in no group -> layer-wise.
    parametrize_model(net, "holistic-tucker", layers, groups=[[net[0], net[1], net[2], net[3]]])
    groups = [net[i].parametrizations.weight[0] for i in (1, 2, 3)]
    assert all(isinstance(g, HolisticTuckerWeight) for g in groups)
    assert groups[0].group is groups[1].group is groups[2].group
    assert isinstance(net[0].parametrizations.weight[0], TuckerWeight)
    assert isinstance(net[5].parametrizations.weight[0], TuckerWeight)
    for i in (1, 2, 3):  # each layer owns only its row of U_L
        assert originals(net[i])[0].shape == (3,)
    for layer, w in zip(layers, initial):
        torch.testing.assert_close(layer.weight, w, atol=1e-5, rtol=0)
    core = groups[0].group.core
    assert sum(p is core for p in net.parameters()) == 1  # listed once for the optimiser


def test_holistic_gradients_accumulate_in_the_shared_tensors():
    net = holistic_net()
    parametrize_model(net, "holistic-tucker", [net[1], net[2], net[3]])  # groups=None: by shape
    group = net[1].parametrizations.weight[0].group
    shared = [group.core, *group.factors]
    targets = [torch.randn(6, 6, 3, 3, generator=torch.Generator().manual_seed(i)) for i in range(2)]

    def grads(which):
        for p in net.parameters():
            p.grad = None
        sum((net[i].weight * targets[j]).sum() for j, i in enumerate((1, 2)) if i in which).backward()
        return [p.grad.clone() for p in shared]

    alone_a, alone_b, both = grads({1}), grads({2}), grads({1, 2})
    for a, b, ab in zip(alone_a, alone_b, both):
        assert a.abs().sum() > 0 and b.abs().sum() > 0
        torch.testing.assert_close(ab, a + b)


def test_holistic_truncated_ranks_and_deepcopy_keeps_sharing():
    net = holistic_net()
    parametrize_model(net, "holistic-tucker", [net[1], net[2], net[3]], layer_rank=2, rank_ratio=0.5)
    group = net[1].parametrizations.weight[0].group
    assert group.core.shape == (2, 3, 3, 3, 3)
    assert [f.shape for f in group.factors] == [(6, 3), (6, 3), (3, 3), (3, 3)]
    clone = copy.deepcopy(net)
    assert clone[1].parametrizations.weight[0].group is clone[2].parametrizations.weight[0].group
    assert clone[1].parametrizations.weight[0].group is not group


def test_parametrize_weight_holistic_alone_is_layerwise_tucker():
    layer = make_layer((8, 6, 3, 3))
    parametrize_weight(layer, "holistic-tucker")
    assert isinstance(layer.parametrizations.weight[0], TuckerWeight)


# ---- rotation ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,pair", [(64 * 9, (24, 24)), (128 * 9, (32, 36)), (256 * 9, (48, 48)), (784, (28, 28)),
                                    (7, (1, 7)), (27, (3, 9))])
def test_factor_pair(n, pair):
    assert factor_pair(n) == pair


def standardised(w):
    flat = w.reshape(w.shape[0], -1).double()
    return ((flat - flat.mean(1, keepdim=True)) / flat.std(1, keepdim=True)).reshape(w.shape)


def rotation_of(layer):
    return next(p for p in layer.parametrizations.weight if isinstance(p, RotationWeight))


def test_rotation_forward_formula_and_stopgrad():
    layer = make_layer((8, 6, 3, 3))
    w = layer.weight.detach().clone()
    parametrize_weight(layer, "rotation", seed=3, start="random")
    rot = rotation_of(layer)
    with torch.no_grad():
        rot.theta.copy_(torch.linspace(-4, 4, 8))
    alpha = torch.sin(rot.theta.detach()).abs().double().view(-1, 1, 1, 1)
    X = standardised(w).reshape(8, rot.n1, rot.n2)
    rotated = (rot.R1.double().T @ X @ rot.R2.double()).reshape(w.shape)
    want = standardised(w) + alpha * (rotated - standardised(w))
    torch.testing.assert_close(layer.weight.double(), want, atol=1e-5, rtol=0)
    # The rotated term is detached: the latent's gradient is (1 - alpha) times that through w_s.
    G = torch.randn(8, 6, 3, 3)
    (layer.weight * G).sum().backward()
    w_leaf = w.clone().requires_grad_(True)
    ((1 - alpha.float()) * standardised(w_leaf).float() * G).sum().backward()
    torch.testing.assert_close(layer.parametrizations.weight.original.grad, w_leaf.grad, atol=1e-5, rtol=1e-4)


def test_rotation_matrices_orthogonal_and_objective_never_decreases():
    increased = 0
    for seed in range(4):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Conv2d(6, 10, 3, bias=False), nn.Linear(30, 12, bias=False))
        parametrize_model(net, "rotation", [net[0], net[1]], seed=seed)
        for epoch in range(4):
            report = rotation_update(net)
            assert set(report) == {"0.weight", "1.weight"}
            for values in report.values():
                assert values["after"] >= values["before"]
                increased += values["after"] > values["before"] * (1 + 1e-6)
            for name, layer in (("0.weight", net[0]), ("1.weight", net[1])):
                rot = rotation_of(layer)
                for R in (rot.R1, rot.R2):
                    torch.testing.assert_close(R.double() @ R.double().T, torch.eye(len(R), dtype=torch.float64),
                                               atol=1e-5, rtol=0)
                # the reported objective is sum_i ||R1^T X_i R2||_1 of the current latent, recomputed here
                X = standardised(layer.parametrizations.weight.original.detach()).reshape(-1, rot.n1, rot.n2)
                objective = float((rot.R1.double().T @ X @ rot.R2.double()).abs().sum())
                assert objective == pytest.approx(report[name]["after"], rel=1e-6)
            with torch.no_grad():  # an epoch of training moves the weights
                for layer in (net[0], net[1]):
                    layer.parametrizations.weight.original.add_(0.05 * torch.randn_like(layer.weight))
    assert increased > 0  # the optimisation does something


def test_alternating_steps_alone_are_monotone():
    """Without rotation_update's keep-the-better guard: every cycle raises sum_i ||R1^T X_i R2||_1."""
    generator = torch.Generator().manual_seed(0)
    for n1, n2 in [(3, 9), (8, 9), (4, 8), (6, 6)]:
        X = torch.randn(10, n1, n2, dtype=torch.float64, generator=generator)
        R1, R2 = random_orthogonal(n1, generator), random_orthogonal(n2, generator)
        values = [float((R1.T @ X @ R2).abs().sum())]
        for _ in range(8):
            R1, R2 = alternating_update(X, R1, R2, cycles=1)
            values.append(float((R1.T @ X @ R2).abs().sum()))
        assert all(b >= a * (1 - 1e-12) for a, b in zip(values, values[1:]))
        assert values[-1] > values[0]


def test_alpha_stays_in_unit_interval():
    layer = make_layer((8, 6, 3, 3))
    parametrize_weight(layer, "rotation", seed=0, theta_init=1.0, start="random")
    rot = rotation_of(layer)
    optimiser = torch.optim.SGD(layer.parameters(), lr=50.0)
    for _ in range(20):
        optimiser.zero_grad()
        (layer.weight * torch.randn(8, 6, 3, 3)).sum().backward()
        optimiser.step()
        alpha = rot.alpha()
        assert float(alpha.min()) >= 0 and float(alpha.max()) <= 1
    assert float(rot.theta.detach().abs().max()) > math.pi  # theta really left [0, pi]


def test_rotation_seed_reproducible_and_distinct_per_layer():
    a, b, c = (make_layer((8, 6, 3, 3)) for _ in range(3))
    parametrize_weight(a, "rotation", seed=5, start="random")
    parametrize_weight(b, "rotation", seed=5, start="random")
    parametrize_weight(c, "rotation", seed=6, start="random")
    assert torch.equal(rotation_of(a).R1, rotation_of(b).R1) and torch.equal(rotation_of(a).R2, rotation_of(b).R2)
    assert not torch.equal(rotation_of(a).R1, rotation_of(c).R1)
    net = nn.Sequential(make_layer((8, 6, 3, 3)), make_layer((8, 6, 3, 3)))
    parametrize_model(net, "rotation", list(net), seed=5, start="random")
    assert torch.equal(rotation_of(net[0]).R1, rotation_of(a).R1)  # layer i gets seed + i
    assert torch.equal(rotation_of(net[1]).R1, rotation_of(c).R1)


def test_rotation_state_dict_round_trip_restores_outputs():
    def build(seed):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.Flatten(), nn.Linear(8 * 4 * 4, 4, bias=False))
        parametrize_model(net, "tucker-rotation", [net[0], net[2]])
        return net

    trained = build(0)
    rotation_update(trained)
    with torch.no_grad():
        rotation_of(trained[0]).theta.fill_(1.1)
    restored = build(1)
    x = torch.randn(2, 3, 6, 6)
    assert not torch.equal(trained(x), restored(x))
    restored.load_state_dict(trained.state_dict())
    assert torch.equal(trained(x), restored(x))
    assert torch.equal(rotation_of(trained[0]).R1, rotation_of(restored[0]).R1)


def test_tucker_rotation_chains_and_updates_on_the_reconstruction():
    layer = make_layer((8, 6, 3, 3))
    net = nn.Sequential(layer)
    parametrize_model(net, "tucker-rotation", [layer], ranks=(4, 3, 3, 3), seed=0)
    chain = layer.parametrizations.weight
    assert [type(p) for p in chain] == [TuckerWeight, RotationWeight]
    rot = chain[1]
    reconstruction = chain[0](*originals(layer)).detach()
    X = standardised(reconstruction).reshape(8, rot.n1, rot.n2)
    before = float((rot.R1.double().T @ X @ rot.R2.double()).abs().sum())
    report = rotation_update(net)
    assert report["0.weight"]["before"] == pytest.approx(before, rel=1e-6)


# ---- API, errors, determinism ----------------------------------------------------------------------------
def test_unknown_method_and_options_raise_user_error():
    layer = make_layer((8, 6, 3, 3))
    with pytest.raises(UserError, match="holistic-tucker"):
        parametrize_weight(layer, "cp")
    with pytest.raises(UserError, match="rank_ratio"):
        parametrize_weight(layer, "svd", ranks=(1, 2))
    with pytest.raises(UserError):
        parametrize_weight(layer, "baseline", rank=3)
    with pytest.raises(UserError):
        parametrize_weight(layer, "svd", rank=100)
    with pytest.raises(UserError):
        parametrize_weight(layer, "svd", rank=2, rank_ratio=0.5)
    with pytest.raises(UserError):
        parametrize_weight(layer, "tucker", ranks=(2, 2))
    assert not P.is_parametrized(layer)
    net = nn.Sequential(make_layer((8, 6, 3, 3)), make_layer((12, 50)))
    with pytest.raises(UserError):  # a 4-mode rank list does not fit the Linear: nothing is changed
        parametrize_model(net, "tucker", list(net), ranks=(2, 2, 2, 2))
    assert not any(P.is_parametrized(m) for m in net)


def test_baseline_registers_nothing():
    layer = make_layer((8, 6, 3, 3))
    parametrize_weight(layer, "baseline")
    assert not P.is_parametrized(layer)
    assert latent_weight(layer) is layer.weight


@pytest.mark.parametrize("method", METHODS)
def test_deterministic_for_a_fixed_seed(method):
    def run():
        torch.manual_seed(7)
        net = nn.Sequential(nn.Conv2d(3, 6, 3, bias=False), nn.Conv2d(6, 6, 3, bias=False),
                            nn.Conv2d(6, 6, 3, bias=False))
        parametrize_model(net, method, list(net), **({"rank_ratio": 0.5} if "tucker" in method else {}))
        rotation_update(net)
        return [t.clone() for t in net.state_dict().values()], net(torch.randn(1, 3, 9, 9))

    (state_a, y_a), (state_b, y_b) = run(), run()
    assert all(torch.equal(a, b) for a, b in zip(state_a, state_b))
    assert torch.equal(y_a, y_b)


@pytest.mark.parametrize("method", METHODS)
def test_works_on_brevitas_layers(method):
    torch.manual_seed(0)
    net = nn.Sequential(QuantConv2d(4, 6, 3, bias=False), QuantConv2d(6, 6, 3, bias=False),
                        QuantConv2d(6, 6, 3, bias=False), nn.Flatten(), QuantLinear(6, 3, bias=False))
    layers = [net[0], net[1], net[2], net[4]]
    initial = [layer.weight.detach().clone() for layer in layers]
    parametrize_model(net, method, layers)
    rotation_update(net)
    net(torch.randn(2, 4, 7, 7)).sum().backward()
    if method in ("svd", "tucker", "holistic-tucker"):
        for layer, w in zip(layers, initial):
            torch.testing.assert_close(latent_weight(layer), w, atol=1e-5, rtol=0)
