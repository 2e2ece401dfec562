"""Binary layers on Brevitas, built so that their QONNX export is exactly what the compiler lowers.

A binary layer holds a real-valued *latent* weight (possibly re-parametrised, see
``fpgabnn.train.parametrize``). Its forward pass is

    y = alpha[c] * conv(a, sign(latent))        (docs/methods.md sections 1-3)

with ``sign`` the exact sign (sign(0) = +1) and a custom backward (``SignApprox``), fed to a Brevitas
binary quantiser of constant scale 1. Sign of +-1 is itself, so Brevitas changes nothing in the
forward pass and nothing in the gradient (its clamp is straight-through); it is there for its export
path: the exported graph has a BipolarQuant of scale 1 on weights that are exactly +-1. ``alpha``, when
used, is a separate ``ChannelScale`` module after the layer, so it exports as an explicit per-channel
ONNX ``Mul``, which the compiler absorbs exactly into the thresholds of the following sign.

What the compiler requires and these layers guarantee: binary quantisers (weights and activations)
with scale 1, a power-of-two input scale, scales only as per-channel ``Mul`` nodes, no bias on binary
layers. Not guaranteed here (a model's choice): no zero padding on binary-input convolutions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from brevitas.core.function_wrapper import TensorClampSte
from brevitas.core.restrict_val import RestrictValueType
from brevitas.core.scaling import ScalingImplType, ScalingPerOutputType
from brevitas.inject import ExtendedInjector
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from brevitas.quant.base import IntQuant, SignedBinaryClampedConst
from brevitas.quant.solver import ActQuantSolver, WeightQuantSolver
from torch import nn

from fpgabnn.errors import UserError
from fpgabnn.train.parametrize import latent_weight, parametrize_weight
from fpgabnn.train.sign import SignApprox

SCALINGS = ("none", "analytic", "learned")
INPUT_BITS = range(1, 17)


# ---- quantiser presets (Brevitas injectors: pieces mixed, empty bodies) --------------------------------
class BinaryWeightQuant(SignedBinaryClampedConst, WeightQuantSolver):
    """+-1 weights with constant scale 1; the clamp is straight-through so ``SignApprox`` owns the gradient."""

    tensor_clamp_impl = TensorClampSte
    scaling_const = 1.0


class BinaryActQuant(SignedBinaryClampedConst, ActQuantSolver):
    """+-1 activations with constant scale 1 (max(|min_val|, |max_val|) = 1); straight-through clamp."""

    tensor_clamp_impl = TensorClampSte
    min_val = -1.0
    max_val = 1.0


class ConstPowerOfTwoScaling(ExtendedInjector):
    """A per-tensor scale fixed by min_val/max_val and rounded to a power of two."""

    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.POWER_OF_TWO
    scaling_per_output_type = ScalingPerOutputType.TENSOR


class PixelQuant(IntQuant, ConstPowerOfTwoScaling, ActQuantSolver):
    """Signed b-bit fixed point on [-1, 1 - 2^(1-b)]: scale 2^(1-b) (BNN-PYNQ CNV's Q1.7 input for b = 8)."""

    min_val = -1.0
    max_val = 1.0


# ---- building blocks -------------------------------------------------------------------------------------
class ChannelScale(nn.Module):
    """y * alpha[c] after a binary layer; exports as one ONNX Mul by a [1, C, 1, ...] constant.

    kind "analytic": alpha = mean |latent| per output channel, recomputed every forward (XNOR-Net);
    "learned": a trainable parameter initialised to mean |W| per channel, free to change sign
    (Bulat et al. 2019); "constant": a buffer (what ``fold_for_export`` leaves behind).
    """

    KINDS = ("analytic", "learned", "constant")

    def __init__(self, kind: str, channels: int, spatial_dims: int):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown channel scale kind {kind!r}")
        self.kind = kind
        self.spatial_dims = spatial_dims
        if kind == "learned":
            self.alpha = nn.Parameter(torch.ones(channels))
        elif kind == "constant":
            self.register_buffer("alpha", torch.ones(channels))

    @staticmethod
    def analytic(latent: torch.Tensor) -> torch.Tensor:
        return latent.abs().mean(dim=tuple(range(1, latent.dim())))

    def forward(self, y: torch.Tensor, latent: torch.Tensor | None = None) -> torch.Tensor:
        alpha = self.analytic(latent) if self.kind == "analytic" else self.alpha
        return y * alpha.view(1, -1, *([1] * self.spatial_dims))


class _BinaryWeightLayer:
    """What BinaryConv2d and BinaryLinear share: the weight sign, the scale, the re-parametrisation hook.

    ``folded`` layers (see ``fpgabnn.export.fold``) hold plain +-1 weights and skip the latent path, so
    their export traces exactly ``weight -> BipolarQuant -> Conv/Gemm [-> Mul]``.
    """

    spatial_dims = 0

    def _setup_binary(self, scaling: str, weight_grad: str, method: str, method_options: dict | None):
        if scaling not in SCALINGS:
            raise UserError(f"unknown scaling {scaling!r}; choose one of {', '.join(SCALINGS)}")
        self.weight_sign = SignApprox(weight_grad, role="weight")
        self.scale = None if scaling == "none" else ChannelScale(scaling, self.out_features_, self.spatial_dims)
        self.aux_branch = None  # set by fpgabnn.train.aux.attach_aux
        self.accumulator = nn.Identity()  # tap on the integer pre-activation (hooks; exports nothing)
        self.folded = False
        self.reset_scale()
        if method != "baseline":
            parametrize_weight(self, method, **(method_options or {}))

    @torch.no_grad()
    def reset_scale(self) -> None:
        """Initialise a learned scale to mean |W| per output channel (call after re-initialising W)."""
        if self.scale is not None and self.scale.kind == "learned":
            self.scale.alpha.copy_(ChannelScale.analytic(self.weight))

    def latent(self) -> torch.Tensor:
        return self.weight if self.folded else latent_weight(self)

    def quant_weight(self, quant_input=None, subtensor_slice_list=None):
        """sign(latent) with the chosen gradient, passed through Brevitas' binary quantiser (its export path)."""
        return self.weight_quant(self.weight_sign(self.latent()))

    def _binary_forward(self, x, brevitas_forward):
        with torch.nn.utils.parametrize.cached():  # one latent reconstruction per forward
            latent = None if self.folded else self.latent()
            y = self.accumulator(brevitas_forward(x))
            if self.scale is not None:
                y = self.scale(y, latent)
            if self.aux_branch is not None and self.training:
                self.aux_branch(self.real_forward(x, latent), y)
        return y


class BinaryConv2d(_BinaryWeightLayer, QuantConv2d):
    """3x3 (or any) convolution with +-1 weights, no bias (BatchNorm follows)."""

    spatial_dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0, *,
                 scaling: str = "none", weight_grad: str = "ste", method: str = "baseline",
                 method_options: dict | None = None):
        QuantConv2d.__init__(self, in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                             bias=False, weight_quant=BinaryWeightQuant)
        self.out_features_ = out_channels
        self._setup_binary(scaling, weight_grad, method, method_options)

    def real_forward(self, x, weight):
        return self._conv_forward(x, weight, None)

    def forward(self, x):
        return self._binary_forward(x, super().forward)


class BinaryLinear(_BinaryWeightLayer, QuantLinear):
    """Fully connected layer with +-1 weights, no bias."""

    spatial_dims = 0

    def __init__(self, in_features: int, out_features: int, *, scaling: str = "none", weight_grad: str = "ste",
                 method: str = "baseline", method_options: dict | None = None):
        QuantLinear.__init__(self, in_features, out_features, bias=False, weight_quant=BinaryWeightQuant)
        self.out_features_ = out_features
        self._setup_binary(scaling, weight_grad, method, method_options)

    def real_forward(self, x, weight):
        return F.linear(x, weight)

    def forward(self, x):
        return self._binary_forward(x, super().forward)


BINARY_LAYERS = (BinaryConv2d, BinaryLinear)


@torch.no_grad()
def init_uniform_(layer: nn.Module, bound: float = 1.0) -> None:
    """BNN-PYNQ's initialisation, W ~ U(-bound, bound), and a matching learned scale."""
    nn.init.uniform_(layer.weight, -bound, bound)
    layer.reset_scale()


class BinaryAct(nn.Module):
    """sign(x) with a training-aware gradient, exported as a BipolarQuant of scale 1.

    The RBNN reference standardises activations per sample before the sign; that needs the whole
    feature map of each input and cannot stream, so models put BatchNorm before this instead
    (docs/methods.md section 3).
    """

    def __init__(self, grad: str = "ste"):
        super().__init__()
        self.sign = SignApprox(grad, role="activation")
        self.quant = QuantIdentity(act_quant=BinaryActQuant)

    def forward(self, x):
        return self.quant(self.sign(x))


class InputQuant(nn.Module):
    """Raw pixels 0..255 -> x/255 -> 2x - 1 -> ``bits``-bit fixed point with a power-of-two scale.

    bits = 8 is BNN-PYNQ CNV's Q1.7 input (scale 2^-7); bits = 1 a bipolar input (BNN-PYNQ's MLPs).
    The compiler turns this whole chain into thresholds on the raw UINT8 pixel.
    """

    def __init__(self, bits: int = 8):
        super().__init__()
        if bits not in INPUT_BITS:
            raise UserError(f"input bits must be between 1 and 16, got {bits}")
        self.bits = bits
        if bits == 1:
            self.quant = QuantIdentity(act_quant=BinaryActQuant)
        else:
            self.quant = QuantIdentity(act_quant=PixelQuant, bit_width=bits, max_val=1.0 - 2.0 ** (1 - bits))

    def forward(self, x):
        x = x / 255.0
        x = 2.0 * x - 1.0
        return self.quant(x)


class TensorNorm(nn.Module):
    """A scalar BatchNorm over the whole tensor, as BNN-PYNQ puts after the last layer
    (brevitas_examples/bnn_pynq/models/tensor_norm.py): one mean, variance, weight and bias."""

    def __init__(self, eps: float = 1e-4, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))
        self.register_buffer("running_mean", torch.zeros(1))
        self.register_buffer("running_var", torch.ones(1))

    def forward(self, x):
        if self.training:
            mean, var = x.mean(), x.var(unbiased=False)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * x.var(unbiased=True))
            return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
        return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps) * self.weight + self.bias
