"""The exact sign with a choice of backward approximations (docs/methods.md sections 1, 3 and 4).

Forward is always ``binary_sign`` (sign(0) = +1, as Brevitas and qonnx BipolarQuant), so a trained model
exports to exactly what it computed. Only the gradient differs, dL/dx = dL/dy * d(x) with

    ste   d = 1{|x| <= 1}                               clipped straight-through estimator (BNN)
    poly  d = max(0, 2 - 2|x|)                          piecewise polynomial (Bi-Real Net)
    ede   d = k * t * (1 - tanh^2(t x))                 error decay estimator (IR-Net), Tmin 0.1, Tmax 10
    rbnn  d = k * max(0, sqrt(2) t - t^2 |x|)           RBNN's training-aware approximation, Tmin 1e-2, Tmax 10

with the schedule over epochs e = 0..E-1 shared by ede and rbnn:
t = 10^(log10 Tmin + (log10 Tmax - log10 Tmin) * e / E), k = max(1/t, 1). RBNN's activations use k = 1 and
t_a = max(t, 1) (the authors' BinaryQuantize_a); IR-Net uses the same (t, k) for weights and activations.

The effective (t, k) live in float64 buffers, so a checkpoint resumes with exactly the same gradients.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from fpgabnn.errors import UserError

GRAD_APPROXIMATIONS = ("ste", "poly", "ede", "rbnn")
ROLES = ("weight", "activation")

# (Tmin, Tmax) of the scheduled approximations: IR-Net's paper and RBNN's run scripts.
T_RANGES = {"ede": (0.1, 10.0), "rbnn": (1e-2, 1e1)}


def binary_sign(x: Tensor) -> Tensor:
    """+1 where x >= 0, else -1, in x's dtype (torch.sign would give 0 at 0)."""
    return (x >= 0).to(x.dtype) * 2 - 1


def schedule(kind: str, role: str, epoch: int, total_epochs: int) -> tuple[float, float]:
    """The effective (t, k) of ``kind`` for ``role`` at ``epoch`` of ``total_epochs``; (1, 1) if unscheduled."""
    if total_epochs < 1 or not 0 <= epoch <= total_epochs:
        raise ValueError(f"need 0 <= epoch <= total_epochs and total_epochs >= 1, got {epoch}/{total_epochs}")
    if kind not in T_RANGES:
        return 1.0, 1.0
    t_min, t_max = T_RANGES[kind]
    t = 10.0 ** (math.log10(t_min) + (math.log10(t_max) - math.log10(t_min)) * epoch / total_epochs)
    k = max(1.0 / t, 1.0)
    if kind == "rbnn" and role == "activation":
        return max(t, 1.0), 1.0
    return t, k


def _derivative(kind: str, x: Tensor, t: Tensor, k: Tensor) -> Tensor:
    """d(x) of the module docstring, in x's dtype."""
    t, k = t.to(x.dtype), k.to(x.dtype)
    if kind == "ste":
        return (x.abs() <= 1).to(x.dtype)
    if kind == "poly":
        return torch.clamp(2 - 2 * x.abs(), min=0)
    if kind == "ede":
        return k * t * (1 - torch.tanh(t * x) ** 2)
    return k * torch.clamp(math.sqrt(2) * t - t * t * x.abs(), min=0)


class _SignFunction(torch.autograd.Function):
    """binary_sign forward, the chosen surrogate derivative backward."""

    @staticmethod
    def forward(ctx, x, kind, t, k):
        ctx.kind = kind
        ctx.save_for_backward(x, t, k)
        return binary_sign(x)

    @staticmethod
    def backward(ctx, grad_output):
        x, t, k = ctx.saved_tensors
        return grad_output * _derivative(ctx.kind, x, t, k), None, None, None


class SignApprox(nn.Module):
    """y = sign(x) exactly; the backward of ``kind`` (one of GRAD_APPROXIMATIONS) for a weight or activation.

    Call ``set_progress(epoch, total_epochs)`` at the start of each epoch (``set_sign_progress`` does it
    for a whole model); the buffers ``t`` and ``k`` hold the effective values the backward uses.
    """

    def __init__(self, kind: str = "ste", role: str = "weight"):
        super().__init__()
        if kind not in GRAD_APPROXIMATIONS:
            raise UserError(f"unknown gradient approximation {kind!r}; choose one of {', '.join(GRAD_APPROXIMATIONS)}")
        if role not in ROLES:
            raise UserError(f"unknown sign role {role!r}; choose one of {', '.join(ROLES)}")
        self.kind, self.role = kind, role
        t, k = schedule(kind, role, 0, 1)
        self.register_buffer("t", torch.tensor(t, dtype=torch.float64))
        self.register_buffer("k", torch.tensor(k, dtype=torch.float64))

    @torch.no_grad()
    def set_progress(self, epoch: int, total_epochs: int) -> None:
        t, k = schedule(self.kind, self.role, epoch, total_epochs)
        self.t.fill_(t)
        self.k.fill_(k)

    def forward(self, x: Tensor) -> Tensor:
        return _SignFunction.apply(x, self.kind, self.t, self.k)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, role={self.role!r}"


def set_sign_progress(model: nn.Module, epoch: int, total_epochs: int) -> None:
    """``set_progress`` on every SignApprox in ``model`` (the trainer calls this at each epoch start)."""
    for module in model.modules():
        if isinstance(module, SignApprox):
            module.set_progress(epoch, total_epochs)
