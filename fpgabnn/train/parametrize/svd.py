"""Layer-wise SVD re-parametrisation (Bulat, Kossaifi, Tzimiropoulos, Pantic 2019; docs/methods.md section 2).

    W = reshape(U diag(s) V^T, [Co, Ci, k, k]),   U in R^{Co x R}, s in R^R, V in R^{n x R}, n = Ci*k*k

All three factors are learned. They start from the truncated SVD of the layer's initial weight
(``right_inverse``), so at full rank R = min(Co, n) the initial latent weight is the initial weight.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from fpgabnn.errors import UserError


def svd_rank(shape: tuple[int, ...], rank: int | None = None, rank_ratio: float | None = None) -> int:
    """R from ``rank`` or ``rank_ratio`` (ceil(ratio * min(Co, n)), at least 1); full rank by default."""
    full = min(shape[0], math.prod(shape[1:]))
    if rank is not None and rank_ratio is not None:
        raise UserError("svd takes rank or rank_ratio, not both; drop one of them")
    if rank is not None:
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= full:
            raise UserError(f"svd rank must be an integer in 1..{full} for weight {list(shape)}, got {rank!r}")
        return rank
    if rank_ratio is not None:
        if not isinstance(rank_ratio, (int, float)) or not 0 < rank_ratio <= 1:
            raise UserError(f"rank_ratio must be in (0, 1], got {rank_ratio!r}")
        return max(1, min(full, math.ceil(rank_ratio * full)))
    return full


class SVDWeight(nn.Module):
    """Parametrisation of a [Co, ...] weight by rank-``rank`` factors (U, s, V)."""

    def __init__(self, shape: tuple[int, ...], rank: int):
        super().__init__()
        self.shape = tuple(shape)
        self.rank = rank

    def forward(self, U: Tensor, s: Tensor, V: Tensor) -> Tensor:
        return ((U * s) @ V.T).reshape(self.shape)

    @torch.no_grad()
    def right_inverse(self, W: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The leading ``rank`` singular triplets of W reshaped to [Co, n] (computed in float64)."""
        U, s, Vh = torch.linalg.svd(W.reshape(W.shape[0], -1).double(), full_matrices=False)
        r = self.rank
        return tuple(t.to(W).contiguous() for t in (U[:, :r], s[:r], Vh[:r].T))

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}, rank={self.rank}"
