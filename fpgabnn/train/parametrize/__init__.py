"""Weight re-parametrisations of the binary layers (docs/methods.md sections 2 and 3).

Each method registers a ``torch.nn.utils.parametrize`` parametrisation on ``module.weight``, so
``module.weight`` becomes the real-valued *latent* weight, rebuilt from the method's own tensors at every
access; the binary layer then binarises it. Nothing of the factors reaches export: only sign(latent).

    baseline         nothing: the latent is the plain weight
    svd              W = reshape(U diag(s) V^T)                                  svd.py
    tucker           W = G x1 U_o x2 U_i x3 U_h x4 U_w                           tucker.py
    holistic-tucker  one Tucker decomposition per group of same-shaped layers   holistic.py
    rotation         RBNN's standardise-and-rotate, R1/R2 by alternating opt.    rotation.py
    tucker-rotation  Tucker, then rotation of the reconstructed weight (two chained parametrisations)

Options (all optional): svd ``rank``, ``rank_ratio``; tucker ``ranks``, ``rank_ratio``; holistic-tucker
``ranks``, ``rank_ratio``, ``layer_rank``; rotation ``seed``, ``cycles``, ``theta_init``; tucker-rotation
the union of tucker's and rotation's. Ranks default to full (svd.py, tucker.py say how they are bounded and
what rank_ratio shrinks). Rotation ``seed`` seeds R1, R2 (``parametrize_model`` gives layer i seed + i);
without it they come from torch's global generator, so a fixed ``torch.manual_seed`` reproduces them too.
``theta_init`` defaults to "uniform" (U(0, pi/2) per output channel; a number sets it), ``start`` to
"identity" ("random": Haar-random R1, R2 as in the paper), ``adjustable`` to true (false: RBNN's ablation
without theta), ``cycles`` to 3 (rotation.py says why).
"""

from __future__ import annotations

from collections import Counter

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize as P

from fpgabnn.errors import UserError
from fpgabnn.train.parametrize.holistic import HolisticTuckerGroup, HolisticTuckerWeight
from fpgabnn.train.parametrize.rotation import CYCLES, STARTS, THETA_INITS, RotationWeight
from fpgabnn.train.parametrize.svd import SVDWeight, svd_rank
from fpgabnn.train.parametrize.tucker import TuckerWeight, bound_ranks, tucker_ranks

METHODS = ("baseline", "svd", "tucker", "holistic-tucker", "rotation", "tucker-rotation")

_TUCKER = ("ranks", "rank_ratio")
_ROTATION = ("seed", "cycles", "theta_init", "start", "adjustable")
OPTIONS = {
    "baseline": (),
    "svd": ("rank", "rank_ratio"),
    "tucker": _TUCKER,
    "holistic-tucker": _TUCKER + ("layer_rank",),
    "rotation": _ROTATION,
    "tucker-rotation": _TUCKER + _ROTATION,
}

__all__ = [
    "METHODS", "OPTIONS", "parametrize_weight", "parametrize_model", "rotation_update", "latent_weight",
    "SVDWeight", "TuckerWeight", "HolisticTuckerGroup", "HolisticTuckerWeight", "RotationWeight",
]


def latent_weight(module: nn.Module) -> Tensor:
    """The real-valued weight the layer binarises: the parametrised ``module.weight`` or the plain one."""
    return module.weight


def _check(method: str, options: dict) -> dict:
    """Validated options of ``method``, with None values dropped (None means the default)."""
    if method not in METHODS:
        raise UserError(f"unknown re-parametrisation method {method!r}; choose one of {', '.join(METHODS)}")
    unknown = sorted(set(options) - set(OPTIONS[method]))
    if unknown:
        allowed = ", ".join(OPTIONS[method]) or "none"
        raise UserError(f"method {method!r} has no option {', '.join(unknown)}; its options: {allowed}")
    options = {k: v for k, v in options.items() if v is not None}
    if "seed" in options and (isinstance(options["seed"], bool) or not isinstance(options["seed"], int)):
        raise UserError(f"rotation seed must be an integer, got {options['seed']!r}")
    if "cycles" in options and (isinstance(options["cycles"], bool) or not isinstance(options["cycles"], int)
                                or options["cycles"] < 1):
        raise UserError(f"rotation cycles must be a positive integer, got {options['cycles']!r}")
    theta = options.get("theta_init", "uniform")
    if theta not in THETA_INITS and (isinstance(theta, bool) or not isinstance(theta, (int, float))):
        raise UserError(f"theta_init must be 'uniform' or a number (radians), got {theta!r}")
    if not isinstance(options.get("adjustable", True), bool):
        raise UserError(f"rotation adjustable must be true or false, got {options['adjustable']!r}")
    if options.get("start", "identity") not in STARTS:
        raise UserError(f"rotation start must be one of {', '.join(STARTS)}, got {options['start']!r}")
    if "layer_rank" in options and (isinstance(options["layer_rank"], bool)
                                    or not isinstance(options["layer_rank"], int) or options["layer_rank"] < 1):
        raise UserError(f"layer_rank must be a positive integer, got {options['layer_rank']!r}")
    return options


def _weight_of(module: nn.Module) -> Tensor:
    weight = getattr(module, "weight", None)
    if not isinstance(weight, Tensor) or weight.dim() not in (2, 4):
        raise ValueError(f"{type(module).__name__} has no [Co, Ci] or [Co, Ci, k, k] weight to re-parametrise")
    if P.is_parametrized(module, "weight"):
        raise ValueError(f"{type(module).__name__}.weight is already re-parametrised")
    return weight


def _register_rotation(module: nn.Module, options: dict) -> None:
    seed = options.get("seed")
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    rotation = RotationWeight(tuple(module.weight.shape), generator, options.get("cycles", CYCLES),
                              options.get("theta_init", "uniform"), options.get("start", "identity"),
                              options.get("adjustable", True))
    P.register_parametrization(module, "weight", rotation.to(module.weight.device))


def _register_tucker(module: nn.Module, options: dict) -> None:
    shape = tuple(module.weight.shape)
    ranks = tucker_ranks(shape, options.get("ranks"), options.get("rank_ratio"))
    P.register_parametrization(module, "weight", TuckerWeight(shape, ranks))


def parametrize_weight(module: nn.Module, method: str, **options) -> None:
    """Register ``method``'s parametrisation on ``module.weight`` (a Conv2d or Linear, or subclass).

    A layer alone has nothing to share, so "holistic-tucker" here is layer-wise Tucker
    (``layer_rank`` is then unused); ``parametrize_model`` forms the groups.
    """
    options = _check(method, options)
    if method == "baseline":
        return
    shape = tuple(_weight_of(module).shape)
    if method == "svd":
        P.register_parametrization(module, "weight", SVDWeight(shape, _ranks_for(shape, method, options)))
    elif method in ("tucker", "holistic-tucker"):
        _register_tucker(module, options)
    elif method == "rotation":
        _register_rotation(module, options)
    else:  # tucker-rotation
        _register_tucker(module, options)
        _register_rotation(module, options)


def _layer_options(options: dict, index: int) -> dict:
    """Per-layer options: a given seed becomes seed + index, so layers get different rotations."""
    if "seed" in options:
        return {**options, "seed": options["seed"] + index}
    return options


def parametrize_model(model: nn.Module, method: str, layers: list[nn.Module],
                      groups: list[list[nn.Module]] | None = None, **options) -> None:
    """Apply ``method`` to each of ``layers`` (all submodules of ``model``).

    For "holistic-tucker", each of ``groups`` shares one decomposition (default: ``layers`` grouped by
    weight shape). Within a group, the layers of its most common shape share it, provided there are at
    least two; the others, and layers in no group, get layer-wise Tucker. ``groups`` is ignored by the
    other methods.
    """
    options = _check(method, options)
    members = {id(m) for m in model.modules()}
    if any(id(layer) not in members for layer in layers):
        raise ValueError("every layer to re-parametrise must be a submodule of the model")
    if len({id(layer) for layer in layers}) != len(layers):
        raise ValueError("a layer is listed twice")
    for layer in layers:  # all checks before any change, so a bad option leaves the model as it was
        _ranks_for(tuple(_weight_of(layer).shape), method, options)
    if method != "holistic-tucker":
        for i, layer in enumerate(layers):
            parametrize_weight(layer, method, **_layer_options(options, i))
        return

    if groups is None:
        by_shape: dict[tuple, list[nn.Module]] = {}
        for layer in layers:
            by_shape.setdefault(tuple(layer.weight.shape), []).append(layer)
        groups = list(by_shape.values())
    listed = {id(layer) for layer in layers}
    grouped: set[int] = set()
    for group in groups:
        for layer in group:
            if id(layer) not in listed:
                raise ValueError("a holistic group holds a layer that is not in the list of layers")
            if id(layer) in grouped:
                raise ValueError("a layer is in two holistic groups")
            grouped.add(id(layer))

    tucker_options = {k: v for k, v in options.items() if k in _TUCKER}
    shared: set[int] = set()
    for group in groups:
        if not group:
            continue
        common = Counter(tuple(layer.weight.shape) for layer in group).most_common(1)[0][0]
        same = [layer for layer in group if tuple(layer.weight.shape) == common]
        if len(same) < 2:
            continue
        ranks = _holistic_ranks(common, len(same), options)
        shared_group = HolisticTuckerGroup([layer.weight for layer in same], ranks)
        for layer in same:
            P.register_parametrization(layer, "weight", HolisticTuckerWeight(shared_group))
            shared.add(id(layer))
    for layer in layers:
        if id(layer) not in shared:
            parametrize_weight(layer, "tucker", **tucker_options)


def _ranks_for(shape: tuple[int, ...], method: str, options: dict):
    """The ranks ``method`` gives a weight of ``shape`` (raises UserError on options that do not fit)."""
    if method == "svd":
        return svd_rank(shape, options.get("rank"), options.get("rank_ratio"))
    if method in ("tucker", "holistic-tucker", "tucker-rotation"):
        return tucker_ranks(shape, options.get("ranks"), options.get("rank_ratio"), what=method)
    return None


def _holistic_ranks(shape: tuple[int, ...], n_layers: int, options: dict) -> tuple[int, ...]:
    """Ranks of a group's stacked tensor [N, *shape]: ``layer_rank`` (default N; clamped to N, since
    groups differ in size) for the layer mode, the layer-wise Tucker ranks for the weight modes, then
    ``bound_ranks``."""
    layer_rank = min(options.get("layer_rank", n_layers), n_layers)
    weight_ranks = tucker_ranks(shape, options.get("ranks"), options.get("rank_ratio"), what="holistic-tucker")
    return bound_ranks((layer_rank, *weight_ranks))


def _chain_input(parametrizations: P.ParametrizationList, index: int) -> Tensor:
    """What parametrisation ``index`` of the chain receives: the originals through the ones before it."""
    if parametrizations.is_tensor:
        x = parametrizations.original
        if index == 0:
            return x
        x = parametrizations[0](x)
    else:
        x = parametrizations[0](*(getattr(parametrizations, f"original{i}") for i in range(parametrizations.ntensors)))
    for j in range(1, index):
        x = parametrizations[j](x)
    return x


@torch.no_grad()
def rotation_update(model: nn.Module) -> dict[str, dict[str, float]]:
    """RBNN's alternating optimisation of R1, R2 on every rotation parametrisation in ``model``
    (call at the first mini-batch of every epoch). Returns {"<layer>.weight": {"before": f, "after": f}}
    with f the objective sum_i ||R1^T X_i R2||_1, which never decreases."""
    results = {}
    for name, module in model.named_modules():
        if not P.is_parametrized(module):
            continue
        for tensor_name, chain in module.parametrizations.items():
            for index, parametrization in enumerate(chain):
                if isinstance(parametrization, RotationWeight):
                    before, after = parametrization.update(_chain_input(chain, index))
                    key = f"{name}.{tensor_name}" if name else tensor_name
                    results[key] = {"before": before, "after": after}
    return results
