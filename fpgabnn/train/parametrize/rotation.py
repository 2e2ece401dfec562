"""RBNN bi-rotation of the weights (Lin et al., NeurIPS 2020; docs/methods.md section 3; the authors' code,
lmbxmu/RBNN cifar/modules/binarized_modules.py).

Per layer, one pair of orthogonal matrices R1 [n1 x n1], R2 [n2 x n2] (n = Ci*k*k = n1*n2, n1 the largest
divisor of n not above floor(sqrt(n)); n = Ci for a Linear) rotates every output channel's standardised
weight X_i = reshape(w_s[i], [n1, n2]) towards its own sign pattern. The latent weight is

    w' = w_s + |sin theta_i| * (stopgrad(R1^T X_i R2) - w_s),   w_s = (w - mean_i) / std_i per output channel

theta per output channel (a parameter); R1, R2 are buffers updated only by ``alternating_update`` (the
trainer calls it at each epoch's first mini-batch).
The standardisation is part of the latent (as in the authors' code; std is the unbiased one): it is what
sign() sees, and it is a positive per-channel scale and shift, so nothing of it survives export except the
signs.

Two starting points matter (docs/methods.md, "Rotation"):

- ``theta_init``: the gradient reaching w is (1 - |sin theta|) times the incoming one, and in float32
  sin(pi/2) is exactly 1, so theta = pi/2 (the authors' released default) gives w exactly zero gradient
  and theta itself cos(pi/2) ~ 0: under SGD nothing moves. The default "uniform" draws theta per output
  channel from U(0, pi/2) (the authors' code until May 2020); a number sets every channel to it.
- ``adjustable`` (default True) is RBNN's "A": without it there is no theta and the latent is the rotated
  weight R1^T X_i R2 itself, its gradient flowing back through the fixed rotation (the ablation's B+R).
- ``start``: "identity" (default) starts R1 = R2 = I, so the first latent is the standardised weight
  itself; "random" draws Haar-random orthogonal matrices as in the paper. With BNN-PYNQ's U(-1, 1)
  weights a random rotation first moves the weights away from their signs (benchmarks/rotation_start.py).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from fpgabnn.train.sign import binary_sign

CYCLES = 3  # alternating-optimisation cycles per update (the authors' code)
STARTS = ("identity", "random")
THETA_INITS = ("uniform",)  # or a number
STD_EPS = 1e-12  # a constant output channel standardises to 0 instead of NaN


def factor_pair(n: int) -> tuple[int, int]:
    """(n1, n2) with n1 * n2 = n and n1 the largest divisor of n not above floor(sqrt(n))."""
    for n1 in range(math.isqrt(n), 0, -1):
        if n % n1 == 0:
            return n1, n // n1
    raise ValueError(f"cannot factorise {n}")


def random_orthogonal(n: int, generator: torch.Generator | None = None) -> Tensor:
    """A Haar-distributed random orthogonal matrix (QR of a Gaussian matrix with the signs of R's diagonal)."""
    q, r = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=generator))
    return q * torch.where(torch.diagonal(r) >= 0, 1.0, -1.0).to(q)


def standardise(w: Tensor) -> Tensor:
    """(w - mean) / std over everything but the output channel (dim 0)."""
    flat = w.reshape(w.shape[0], -1)
    centred = flat - flat.mean(dim=1, keepdim=True)
    n = flat.shape[1]
    # unbiased std from the centred values (as torch.std computes it, without a second mean pass)
    std = (centred.square().sum(dim=1, keepdim=True) / (n - 1)).sqrt() if n > 1 else torch.ones_like(centred[:, :1])
    return (centred / std.clamp_min(STD_EPS)).reshape(w.shape)


def initial_theta(channels: int, theta_init: float | str = "uniform",
                  generator: torch.Generator | None = None) -> Tensor:
    """theta per output channel: U(0, pi/2) for "uniform", else the given number for every channel."""
    if theta_init == "uniform":
        return torch.rand(channels, generator=generator) * (math.pi / 2)
    if isinstance(theta_init, bool) or not isinstance(theta_init, (int, float)):
        raise ValueError(f"theta_init must be 'uniform' or a number, got {theta_init!r}")
    return torch.full((channels,), float(theta_init))


def objective(X: Tensor, R1: Tensor, R2: Tensor) -> float:
    """max over B of sum_i tr(B_i^T R1^T X_i R2) = sum_i ||R1^T X_i R2||_1 (reached at B = sign)."""
    return float((R1.T @ X @ R2).abs().sum())


def alternating_update(X: Tensor, R1: Tensor, R2: Tensor, cycles: int = CYCLES) -> tuple[Tensor, Tensor]:
    """``cycles`` rounds of B-, R1- and R2-steps, each maximising sum_i tr(B_i^T R1^T X_i R2) in its block.

    R1-step: D1 = sum_i B_i R2^T X_i^T = U1 S1 V1^T, R1 = V1 U1^T (orthogonal Procrustes);
    R2-step: D2 = sum_i X_i^T R1 B_i = U2 S2 V2^T, R2 = U2 V2^T. X is [Co, n1, n2]; all in X's dtype.
    """
    for _ in range(cycles):
        B = binary_sign(R1.T @ X @ R2)
        D1 = (B @ R2.T @ X.transpose(1, 2)).sum(0)
        U1, _, V1h = torch.linalg.svd(D1)
        R1 = V1h.T @ U1.T
        D2 = (X.transpose(1, 2) @ R1 @ B).sum(0)
        U2, _, V2h = torch.linalg.svd(D2)
        R2 = U2 @ V2h
    return R1, R2


class RotationWeight(nn.Module):
    """Parametrisation w -> w' of the module docstring, for a weight [Co, ...] with n = prod(shape[1:])."""

    def __init__(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
                 cycles: int = CYCLES, theta_init: float | str = "uniform", start: str = "identity",
                 adjustable: bool = True):
        super().__init__()
        if start not in STARTS:
            raise ValueError(f"unknown rotation start {start!r}; choose one of {', '.join(STARTS)}")
        self.shape = tuple(shape)
        self.n1, self.n2 = factor_pair(math.prod(self.shape[1:]))
        self.cycles = cycles
        dtype = torch.get_default_dtype()
        if start == "random":
            R1, R2 = random_orthogonal(self.n1, generator), random_orthogonal(self.n2, generator)
        else:
            R1, R2 = torch.eye(self.n1), torch.eye(self.n2)
        self.register_buffer("R1", R1.to(dtype))
        self.register_buffer("R2", R2.to(dtype))
        self.adjustable = bool(adjustable)
        if self.adjustable:
            self.theta = nn.Parameter(initial_theta(self.shape[0], theta_init, generator))

    def alpha(self) -> Tensor:
        """|sin theta| per output channel, in [0, 1]: how far each channel is rotated (1 without A)."""
        if not self.adjustable:
            return torch.ones(self.shape[0], device=self.R1.device)
        return torch.sin(self.theta).abs()

    def blocks(self, w: Tensor) -> Tensor:
        """X = standardised w as [Co, n1, n2]."""
        return standardise(w).reshape(self.shape[0], self.n1, self.n2)

    def forward(self, w: Tensor) -> Tensor:
        w_s = standardise(w)
        if not self.adjustable:  # RBNN's ablation without "A": the rotated weight itself, gradient through R
            R1, R2 = self.R1.to(w), self.R2.to(w)
            return (R1.T @ w_s.reshape(-1, self.n1, self.n2) @ R2).reshape(w.shape)
        with torch.no_grad():
            rotated = (self.R1.T.to(w) @ w_s.reshape(-1, self.n1, self.n2) @ self.R2.to(w)).reshape(w.shape)
        alpha = self.alpha().to(w).reshape(-1, *([1] * (w.dim() - 1)))
        return torch.lerp(w_s, rotated, alpha)  # w_s + alpha * (rotated - w_s)

    @torch.no_grad()
    def update(self, w: Tensor) -> tuple[float, float]:
        """Warm-started alternating optimisation on the detached ``w`` (in float64); returns the objective
        before and after. Keeps the old R1, R2 if the new ones would score lower (rounding only)."""
        X = self.blocks(w.detach().double())
        R1, R2 = self.R1.double(), self.R2.double()
        before = objective(X, R1, R2)
        new_R1, new_R2 = alternating_update(X, R1, R2, self.cycles)
        new_R1, new_R2 = new_R1.to(self.R1), new_R2.to(self.R2)
        after = objective(X, new_R1.double(), new_R2.double())
        if after < before:
            return before, before
        self.R1.copy_(new_R1)
        self.R2.copy_(new_R2)
        return before, after

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}, n1={self.n1}, n2={self.n2}, cycles={self.cycles}, adjustable={self.adjustable}"
