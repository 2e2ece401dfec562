"""Holistic Tucker: one decomposition shared by a group of identically shaped layers
(Bulat et al. 2019; docs/methods.md section 2).

The group's weights are stacked into T in R^{N x Co x Ci x k x k} = G x0 U_L x1 U_o x2 U_i x3 U_h x4 U_w.
Layer j's weight is W^(j) = (G x0 U_L[j, :]) x1 U_o x2 U_i x3 U_h x4 U_w: the core and the four mode factors
live once, in a ``HolisticTuckerGroup`` that every layer's parametrisation references (the same object,
so their gradients accumulate in the same tensors), and each layer owns only its row U_L[j, :].

Ranks: full by default (see ``tucker.tucker_ranks``); ``rank_ratio`` shrinks the channel modes,
``layer_rank`` the layer mode (default N).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from fpgabnn.train.parametrize.tucker import decompose, reconstruct


class HolisticTuckerGroup(nn.Module):
    """The shared core G [R_L, R_o, R_i, ...] and mode factors U_o, U_i, ... of a group of layers."""

    def __init__(self, weights: Sequence[Tensor], ranks: Sequence[int]):
        super().__init__()
        stacked = torch.stack([w.detach() for w in weights])
        self.shape = tuple(stacked.shape[1:])
        self.ranks = tuple(ranks)
        core, factors = decompose(stacked, ranks)
        self.core = nn.Parameter(core)
        self.factors = nn.ParameterList([nn.Parameter(f) for f in factors[1:]])

    def weight(self, row: Tensor) -> Tensor:
        """(G x0 row) x1 U_o x2 U_i ...: the weight of the layer whose U_L row is ``row``."""
        return reconstruct(torch.tensordot(row, self.core, dims=([0], [0])), list(self.factors))

    @torch.no_grad()
    def row_of(self, W: Tensor) -> Tensor:
        """The U_L row whose weight is closest to W in least squares, the shared factors fixed.

        At full rank this is exactly W's row of the group's U_L (the projection is exact).
        """
        basis = torch.stack([self.weight(e) for e in torch.eye(self.ranks[0], dtype=self.core.dtype,
                                                                device=self.core.device)])
        A = basis.reshape(self.ranks[0], -1).double()
        row = torch.linalg.lstsq(A.T, W.reshape(-1, 1).double()).solution
        return row.reshape(-1).to(W)

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}, ranks={list(self.ranks)}"


class HolisticTuckerWeight(nn.Module):
    """Parametrisation of one layer of a group: its original is its row of U_L."""

    def __init__(self, group: HolisticTuckerGroup):
        super().__init__()
        self.group = group

    def forward(self, row: Tensor) -> Tensor:
        return self.group.weight(row)

    def right_inverse(self, W: Tensor) -> Tensor:
        return self.group.row_of(W)
