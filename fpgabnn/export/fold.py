"""Fold a training model into its deployable form: plain +-1 weights, constant scales, nothing else.

The re-parametrisations (SVD/Tucker factors, rotations), the gradient approximations and the auxiliary
branch exist for training only; at inference a binary layer is fully described by sign(latent) and, when
scaled, by its per-channel alpha. ``fold_for_export`` keeps exactly that, so the export traces
``weight -> BipolarQuant -> Conv/Gemm [-> Mul]`` and no factor can reach the graph.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import parametrize as P

from fpgabnn.train.layers import BINARY_LAYERS, ChannelScale
from fpgabnn.train.sign import SignApprox, binary_sign


@torch.no_grad()
def fold_for_export(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode computing exactly the same eval outputs with +-1 weights and no training-only parts."""
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if P.is_parametrized(module):
            _own_class(module)
    for layer in [m for m in folded.modules() if isinstance(m, BINARY_LAYERS)]:
        _fold_layer(layer)
    # every re-parametrisation is gone now (e.g. on non-binary layers a method might have touched)
    for module in list(folded.modules()):
        if P.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                P.remove_parametrizations(module, name, leave_parametrized=True)
    _replace_modules(folded, lambda m: isinstance(m, (SignApprox, nn.Dropout)), lambda m: nn.Identity())
    if hasattr(folded, "aux"):
        folded.aux = False
    return folded


def _own_class(module: nn.Module) -> None:
    """Give a deep-copied parametrised module its own injected class.

    A deep copy shares the ``Parametrized<Layer>`` class with the original, and ``remove_parametrizations``
    deletes the weight property from that class, which would break the original model.
    """
    cls = module.__class__
    attrs = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    module.__class__ = type(cls.__name__, cls.__bases__, attrs)


def _fold_layer(layer: nn.Module) -> None:
    with P.cached():
        latent = layer.latent().detach().clone()
    alpha = ChannelScale.analytic(latent) if layer.scale is not None and layer.scale.kind == "analytic" else None
    if P.is_parametrized(layer, "weight"):
        P.remove_parametrizations(layer, "weight", leave_parametrized=True)
    layer.weight = nn.Parameter(binary_sign(latent).to(layer.weight.dtype), requires_grad=False)
    if alpha is not None:
        constant = ChannelScale("constant", alpha.numel(), layer.scale.spatial_dims)
        constant.alpha.copy_(alpha)
        layer.scale = constant
    layer.aux_branch = None
    layer.folded = True


def _replace_modules(root: nn.Module, match, make) -> None:
    for name, child in list(root.named_children()):
        if match(child):
            setattr(root, name, make(child))
        else:
            _replace_modules(child, match, make)
