"""Issue-8 fixes: theta start, rotation start, aux options, config on Python 3.10, CLI from the dataclass."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import sys

import pytest
import torch
from torch import nn

from fpgabnn.errors import UserError
from fpgabnn.train.parametrize import parametrize_weight, rotation_update


def _rot(layer):
    return layer.parametrizations.weight[0]


def _layer(seed=0):
    torch.manual_seed(seed)
    layer = nn.Conv2d(6, 8, 3, bias=False)
    nn.init.uniform_(layer.weight, -1, 1)
    return layer


def test_theta_default_is_per_channel_uniform_below_pi_over_2_and_pi_over_2_kills_the_gradient():
    layer = _layer()
    parametrize_weight(layer, "rotation", seed=0, start="random")
    theta = _rot(layer).theta.detach()
    assert float(theta.min()) >= 0 and float(theta.max()) < math.pi / 2 and len(set(theta.tolist())) == 8
    G = torch.randn(8, 6, 3, 3)
    (layer.weight * G).sum().backward()
    assert float(layer.parametrizations.weight.original.grad.abs().sum()) > 0

    stuck = _layer()
    parametrize_weight(stuck, "rotation", seed=0, start="random", theta_init=math.pi / 2)
    (stuck.weight * G).sum().backward()
    assert float(stuck.parametrizations.weight.original.grad.abs().max()) == 0.0  # sin(pi/2) == 1 in float32
    fixed = _layer()
    parametrize_weight(fixed, "rotation", theta_init=1.0)
    assert torch.equal(_rot(fixed).theta.detach(), torch.full((8,), 1.0))


def test_rotation_start_identity_or_random():
    ident, rand = _layer(), _layer()
    w = ident.weight.detach().clone()
    parametrize_weight(ident, "rotation", seed=0)  # identity is the default
    parametrize_weight(rand, "rotation", seed=0, start="random")
    assert torch.equal(_rot(ident).R1, torch.eye(_rot(ident).n1)) and torch.equal(_rot(ident).R2, torch.eye(_rot(ident).n2))
    assert not torch.equal(_rot(rand).R1, torch.eye(_rot(rand).n1))
    # identity start: the latent's signs are the plain weight's signs (the standardisation keeps most).
    from fpgabnn.train.parametrize.rotation import standardise

    assert torch.equal(torch.sign(ident.weight.detach()), torch.sign(standardise(w)))
    # and the first epoch-start update moves R away from the identity, raising the objective.
    report = rotation_update(nn.Sequential(ident))
    (entry,) = report.values()
    assert entry["after"] >= entry["before"]
    with pytest.raises(UserError, match="start"):
        parametrize_weight(_layer(), "rotation", start="sideways")
    with pytest.raises(UserError, match="theta_init"):
        parametrize_weight(_layer(), "rotation", theta_init="big")


def test_rotation_without_adjustable_is_the_rotated_weight_with_gradient():
    layer = _layer()
    parametrize_weight(layer, "rotation", start="random", seed=1, adjustable=False)
    rot = _rot(layer)
    assert not hasattr(rot, "theta")
    from fpgabnn.train.parametrize.rotation import standardise

    X = standardise(layer.parametrizations.weight.original.detach()).reshape(8, rot.n1, rot.n2)
    torch.testing.assert_close(layer.weight.detach(), (rot.R1.T @ X @ rot.R2).reshape(8, 6, 3, 3), atol=1e-5, rtol=0)
    layer.weight.sum().backward()
    assert float(layer.parametrizations.weight.original.grad.abs().sum()) > 0


@pytest.mark.parametrize("stop", ["none", "real", "binary"])
def test_aux_stop_gradient_variants(stop):
    from fpgabnn.train.models import build_model

    torch.manual_seed(0)
    model = build_model("tfc", aux=True, aux_stop_grad=stop, width_scale=0.25).train()
    model(torch.randint(0, 256, (8, 1, 28, 28)).float())
    loss = model.aux_loss()
    assert loss.requires_grad
    loss.backward()
    first = model.binary_layers()[1]  # its input depends on the previous layers
    grad = first.weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="stop-gradient"):
        build_model("tfc", aux=True, aux_stop_grad="both")


def test_preact_block_lets_the_scale_act_and_bn_cancels_it_elsewhere():
    from fpgabnn.train.layers import ChannelScale
    from fpgabnn.train.models import build_model

    x = torch.randint(0, 256, (16, 3, 32, 32)).float()
    for name, cancelled in (("resnet20-bireal", True), ("resnet20-preact", False)):
        torch.manual_seed(0)
        model = build_model(name, scaling="learned", width_scale=0.25, real_ends=True).train()
        a = model(x)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, ChannelScale):
                    m.alpha.mul_(3)
        b = model(x)
        assert torch.allclose(a, b, atol=1e-4) == cancelled, name


def test_real_ends_and_standardise_options():
    from fpgabnn.train.config import TrainConfig
    from fpgabnn.train.models import SampleStandardise, build_model

    c = TrainConfig(model="resnet20", dataset="digits", epochs=1, out="x").resolve()
    assert c.real_ends is True
    assert TrainConfig(model="tfc", dataset="digits", epochs=1, out="x").resolve().real_ends is False
    with pytest.raises(UserError, match="ResNets only"):
        TrainConfig(model="lfc", dataset="digits", epochs=1, out="x", act_standardise=True).resolve()
    model = build_model("resnet20", act_standardise=True, width_scale=0.25, real_ends=True)
    assert any(isinstance(m, SampleStandardise) for m in model.modules())
    assert isinstance(model.head, nn.Linear) and isinstance(model.stem, nn.Conv2d)


def test_config_reads_toml_with_tomli_when_tomllib_is_missing(tmp_path, monkeypatch):
    """Python 3.10 has no tomllib: config.py must fall back to tomli (as deploy/boards.py does)."""
    pytest.importorskip("tomli") if sys.version_info < (3, 11) else None
    import fpgabnn.train.config as config

    real = importlib.import_module("tomllib") if sys.version_info >= (3, 11) else None
    fake_tomli = real or pytest.importorskip("tomli")
    monkeypatch.setitem(sys.modules, "tomllib", None)  # "import tomllib" now raises ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "tomli", fake_tomli)
    reloaded = importlib.reload(config)
    try:
        assert reloaded.tomllib is fake_tomli
        path = tmp_path / "run.toml"
        path.write_text('model = "tfc"\nlr = 0.01\n[method_options]\nrank_ratio = 0.5\n')
        assert reloaded.load_config_file(path) == {"model": "tfc", "lr": 0.01, "method_options": {"rank_ratio": 0.5}}
    finally:
        monkeypatch.undo()
        importlib.reload(config)


def test_cli_options_are_derived_from_the_dataclass():
    from fpgabnn.commands import train as cmd
    from fpgabnn.train.config import TrainConfig

    p = argparse.ArgumentParser()
    cmd.add_arguments(p)
    dests = {a.dest for a in p._actions}
    assert {f.name for f in dataclasses.fields(TrainConfig)} <= dests
    args = p.parse_args(["--aux-weight", "0.5", "--no-real-ends", "--epochs", "3", "--aux-stop-grad", "real"])
    args.config = None
    values = cmd.config_from_args(args)
    assert values["aux_weight"] == 0.5 and values["real_ends"] is False and values["epochs"] == 3
    assert values["aux_stop_grad"] == "real"
    for f in dataclasses.fields(TrainConfig):
        assert f.metadata.get("help"), f"{f.name} has no help text"


def test_factor_lr_scale_gives_svd_factors_a_relative_rate(tmp_path):
    from fpgabnn.train.config import TrainConfig
    from fpgabnn.train.models import build_model
    from fpgabnn.train.trainer import Trainer

    torch.manual_seed(0)
    model = build_model("tfc", method="svd", width_scale=0.25)
    trainer = Trainer(TrainConfig(model="tfc", dataset="digits", epochs=1, out=str(tmp_path / "r"), method="svd",
                                  factor_lr_scale=True))
    groups = trainer._optimizer(model).param_groups
    scales = sorted(g["lr_scale"] for g in groups[1:])
    assert len(groups) == 1 + 3 * len(model.binary_layers())  # U, s, V of every layer
    assert scales[0] < 0.5 < 1.5 < scales[-1]  # U, V entries are small, singular values large
    assert groups[0]["lr_scale"] == 1.0 and groups[0]["params"]  # BatchNorm etc. unchanged


def test_factor_lr_scale_covers_holistic_tucker_shared_factors(tmp_path):
    from fpgabnn.train.config import TrainConfig
    from fpgabnn.train.models import build_model
    from fpgabnn.train.trainer import Trainer

    torch.manual_seed(0)
    model = build_model("resnet20-preact", method="holistic-tucker", width_scale=0.25, real_ends=True)
    shared = {id(p) for m in model.modules() if type(m).__name__ == "HolisticTuckerGroup" for p in m.parameters()}
    assert len(shared) >= 2 * 3  # per stage at least one group with a core and its mode factors
    trainer = Trainer(TrainConfig(model="resnet20-preact", dataset="digits", epochs=1, out=str(tmp_path / "r"),
                                  method="holistic-tucker", factor_lr_scale=True, optimizer="adam"))
    groups = trainer._optimizer(model).param_groups
    scale = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    assert shared <= set(scale) and all(scale[i] != 1.0 for i in shared)
    # the rows of U_L (each layer's own tensor) are scaled too; BatchNorm stays at 1
    rows = [layer.parametrizations.weight.original for layer in model.binary_layers()
            if type(layer.parametrizations.weight[0]).__name__ == "HolisticTuckerWeight"]
    assert rows and all(scale[id(r)] != 1.0 for r in rows)
    assert groups[0]["lr_scale"] == 1.0 and any(p.dim() == 1 for p in groups[0]["params"])
    # every trainable tensor is in exactly one group
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len([p for p in model.parameters() if p.requires_grad])


def test_clip_weights_keeps_plain_latent_weights_in_unit_range(tmp_path):
    from fpgabnn.train.config import TrainConfig
    from fpgabnn.train.trainer import Trainer

    def latent_max(clip):
        cfg = TrainConfig(model="tfc", dataset="digits", epochs=1, out=str(tmp_path / f"c{clip}"), lr=0.2,
                          clip_weights=clip, width_scale=0.25)
        trainer = Trainer(cfg, progress=False, plots=False, log=lambda m: None)
        trainer.fit()
        from fpgabnn.train.checkpoint import load_checkpoint, model_from_checkpoint

        model = model_from_checkpoint(load_checkpoint(tmp_path / f"c{clip}" / "last.pt"))
        return max(float(layer.weight.abs().max()) for layer in model.binary_layers())

    assert latent_max(False) > 1.0  # Adam at a large lr pushes weights beyond the clipped STE's range...
    assert latent_max(True) <= 1.0  # ...and the clip brings them back after every step


def test_pad_to_reaches_the_model_and_the_test_set(tmp_path):
    from fpgabnn.train.checkpoint import load_checkpoint
    from fpgabnn.train.config import TrainConfig
    from fpgabnn.train.trainer import Trainer

    cfg = TrainConfig(model="tfc", dataset="digits", epochs=1, out=str(tmp_path / "p"), pad_to=32, width_scale=0.25)
    result = Trainer(cfg, progress=False, plots=False, log=lambda m: None).fit()
    ckpt = load_checkpoint(tmp_path / "p" / "last.pt")
    assert ckpt["model_config"]["image_size"] == 32 and ckpt["dataset"]["pad_to"] == 32
    assert result.test and result.test["samples"] == 360
    with pytest.raises(UserError, match="pad-to"):
        TrainConfig(model="tfc", dataset="digits", epochs=1, out="x", pad_to=0).resolve()
