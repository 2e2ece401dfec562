"""Layer-wise Tucker re-parametrisation (Bulat et al. 2019; docs/methods.md section 2).

    W = G x1 U_o x2 U_i x3 U_h x4 U_w          (a Linear weight: W = G x1 U_o x2 U_i)

Core and factors are learned, initialised by tensorly's ``tucker`` (HOSVD initialisation refined by HOOI)
of the layer's initial weight. Unlike SVD it keeps the spatial modes separate.

Ranks, where the paper leaves them open: full by default, i.e. per mode the rank of that mode's unfolding
bound, min(dim_i, prod_{j != i} r_j), so full rank reproduces the initial weight exactly without
redundant zero components (a [64, 784] Linear gets ranks (64, 64), BNN-PYNQ CNV's first conv
[64, 3, 3, 3] gets (27, 3, 3, 3)). ``rank_ratio`` shrinks the channel modes only (output and input
channels), since the spatial modes are 1-3 wide; ``ranks`` sets every mode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from fpgabnn.errors import UserError

HOOI_ITERATIONS = 100  # tensorly's default; only used for truncated ranks (full ranks are exact after HOSVD)


def bound_ranks(ranks: Sequence[int]) -> tuple[int, ...]:
    """Clamp each mode's rank to the product of the others' (higher ranks only add zero components)."""
    ranks = list(ranks)
    changed = True
    while changed:
        changed = False
        for i, r in enumerate(ranks):
            bound = math.prod(ranks[:i] + ranks[i + 1:])
            if r > bound:
                ranks[i], changed = bound, True
    return tuple(ranks)


def tucker_ranks(shape: Sequence[int], ranks: Sequence[int | None] | None = None, rank_ratio: float | None = None,
                 channel_modes: Sequence[int] = (0, 1), what: str = "tucker") -> tuple[int, ...]:
    """Per-mode ranks for a tensor of ``shape``: explicit ``ranks`` (None entries = full), or ``rank_ratio``
    applied to ``channel_modes``, or full; then clamped by ``bound_ranks``."""
    shape = tuple(int(d) for d in shape)
    if ranks is not None and rank_ratio is not None:
        raise UserError(f"{what} takes ranks or rank_ratio, not both; drop one of them")
    if ranks is not None:
        if isinstance(ranks, (str, bytes)) or not isinstance(ranks, Sequence) or len(ranks) != len(shape):
            raise UserError(f"{what} ranks must be a list of {len(shape)} integers for weight {list(shape)}, "
                            f"got {ranks!r}")
        chosen = []
        for r, d in zip(ranks, shape):
            if r is None:
                r = d
            if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= d:
                raise UserError(f"{what} ranks {list(ranks)} do not fit weight {list(shape)}; "
                                "each must be an integer between 1 and its mode's size")
            chosen.append(r)
    elif rank_ratio is not None:
        if not isinstance(rank_ratio, (int, float)) or not 0 < rank_ratio <= 1:
            raise UserError(f"rank_ratio must be in (0, 1], got {rank_ratio!r}")
        chosen = [max(1, math.ceil(rank_ratio * d)) if i in channel_modes else d for i, d in enumerate(shape)]
    else:
        chosen = list(shape)
    return bound_ranks(chosen)


def decompose(tensor: Tensor, ranks: Sequence[int]) -> tuple[Tensor, list[Tensor]]:
    """(core, factors) of ``tensor`` by tensorly (numpy backend, float64), returned in tensor's dtype/device."""
    import tensorly as tl  # here, not at the top: 0.6 s of import that only Tucker methods need
    from tensorly.decomposition import tucker

    array = tensor.detach().cpu().double().numpy()
    full = tuple(ranks) == bound_ranks(array.shape)
    with tl.backend_context("numpy"):
        core, factors = tucker(array, rank=list(ranks), init="svd", n_iter_max=1 if full else HOOI_ITERATIONS)
    like = dict(dtype=tensor.dtype, device=tensor.device)
    return (torch.as_tensor(np.ascontiguousarray(core)).to(**like),
            [torch.as_tensor(np.ascontiguousarray(f)).to(**like) for f in factors])


def reconstruct(core: Tensor, factors: Sequence[Tensor]) -> Tensor:
    """core x_0 factors[0] x_1 factors[1] ... (mode products, differentiable)."""
    x = core
    for mode, factor in enumerate(factors):
        x = torch.tensordot(factor, x, dims=([1], [mode])).movedim(0, mode)
    return x


class TuckerWeight(nn.Module):
    """Parametrisation of a weight by a Tucker core and one factor matrix per mode."""

    def __init__(self, shape: Sequence[int], ranks: Sequence[int]):
        super().__init__()
        self.shape, self.ranks = tuple(shape), tuple(ranks)

    def forward(self, core: Tensor, *factors: Tensor) -> Tensor:
        return reconstruct(core, factors)

    @torch.no_grad()
    def right_inverse(self, W: Tensor) -> tuple[Tensor, ...]:
        core, factors = decompose(W, self.ranks)
        return (core, *factors)

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}, ranks={list(self.ranks)}"
