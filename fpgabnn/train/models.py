"""The model zoo: BNN-PYNQ's MLPs and CNV (deployable), binary ResNet-20 (training only).

Where a weight scale can act: in the MLPs, CNV and the post-activation ResNets every binary layer is
followed directly by BatchNorm, which divides by the batch's own standard deviation, so a per-channel
scale alpha before it is cancelled exactly (in training up to BN's eps; in eval it folds into the running
statistics). Only ``resnet20-preact`` (BN -> sign -> conv * alpha -> + shortcut, as Bulat et al. and
Bi-Real/RBNN's residual stream) lets alpha change what the network computes.

Every model takes raw pixels 0..255 as float32 NCHW, exposes ``input_shape`` (C, H, W),
``binary_layers()`` and ``holistic_groups()`` (for ``parametrize_model``), and ``aux_loss(logits, targets)``
(the latent-feature branch of ``fpgabnn.train.aux``; 0 when it is off).

Topologies follow brevitas_examples/bnn_pynq/models (FC.py, CNV.py) with the 1w1a configurations:
TFC 3x64, SFC 3x256, LFC 3x1024 hidden units (lfc_1w1a.ini; FINN's LFC also has three 1024-unit layers),
each followed by BatchNorm1d, a binary activation and dropout 0.2, and a last binary layer followed by a
scalar ``TensorNorm``. Their inputs default to 8 bits here (``input_bits``); BNN-PYNQ's MLPs use
``input_bits=1``.
"""

from __future__ import annotations

from collections import defaultdict

import torch
import torch.nn.functional as F
from torch import nn

from fpgabnn.errors import UserError
from fpgabnn.train import aux as aux_mod
from fpgabnn.train.layers import (
    BINARY_LAYERS,
    SCALINGS,
    BinaryAct,
    BinaryConv2d,
    BinaryLinear,
    InputQuant,
    TensorNorm,
    init_uniform_,
)

MLP_HIDDEN = {"tfc": (64, 64, 64), "sfc": (256, 256, 256), "lfc": (1024, 1024, 1024)}
MODELS = ("tfc", "sfc", "lfc", "cnv", "cnv28", "resnet20", "resnet20-bireal", "resnet20-preact")
DEPLOYABLE = ("tfc", "sfc", "lfc", "cnv", "cnv28")  # the compiler takes these (no zero padding of binary inputs)

DROPOUT = 0.2
CNV_CONVS = ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False))  # (channels, pool)
CNV_FCS = (512, 512)


def _width(channels: int, scale: float) -> int:
    return max(1, int(round(channels * scale)))


def groups_by_shape(layers) -> list[list[nn.Module]]:
    """Layers with identical weight shapes, in order; only groups of two or more."""
    groups = defaultdict(list)
    for layer in layers:
        groups[tuple(layer.weight.shape)].append(layer)
    return [g for g in groups.values() if len(g) > 1]


class BinaryNet(nn.Module):
    """What every model of the zoo provides besides ``forward``."""

    input_shape: tuple[int, int, int]

    def binary_layers(self) -> list[nn.Module]:
        return [m for m in self.modules() if isinstance(m, BINARY_LAYERS)]

    def holistic_groups(self) -> list[list[nn.Module]]:
        """Identically shaped binary layers, stacked by holistic Tucker (docs/methods.md section 2)."""
        return groups_by_shape(self.binary_layers())

    def aux_loss(self, logits=None, targets=None) -> torch.Tensor:
        device = logits.device if logits is not None else None
        return aux_mod.aux_loss(self.binary_layers(), device)


# ---- BNN-PYNQ ------------------------------------------------------------------------------------------
class FC(BinaryNet):
    """BNN-PYNQ's TFC/SFC/LFC: flatten, input quantiser, dropout, [binary FC, BN, sign, dropout] x n, FC, TensorNorm."""

    def __init__(self, hidden, in_channels, image_size, num_classes, input_bits, scaling, weight_grad, act_grad):
        super().__init__()
        self.input_shape = (in_channels, image_size, image_size)
        layers = [nn.Flatten(), InputQuant(input_bits), nn.Dropout(DROPOUT)]
        features = in_channels * image_size * image_size
        for width in hidden:
            layers += [BinaryLinear(features, width, scaling=scaling, weight_grad=weight_grad),
                       nn.BatchNorm1d(width), BinaryAct(act_grad), nn.Dropout(DROPOUT)]
            features = width
        layers += [BinaryLinear(features, num_classes, scaling=scaling, weight_grad=weight_grad), TensorNorm()]
        self.features = nn.Sequential(*layers)
        for layer in self.binary_layers():
            init_uniform_(layer)

    def forward(self, x):
        return self.features(x)


class CNV(BinaryNet):
    """BNN-PYNQ's CNV: six unpadded 3x3 binary convs (max-pool after the 2nd and 4th), two binary FCs, FC, TensorNorm.

    ``first_padding`` pads the first conv only (its input is the 8-bit image, where zero is a valid value):
    cnv28 uses 2, so a 28x28 image becomes 30x30 after it, exactly CNV's size after its first conv on 32x32,
    and the rest of the network is unchanged. (With ``input_bits=1`` that input is bipolar, and the compiler
    refuses the padding: use cnv28 with multi-bit inputs.)

    No two CNV layers have the same weight shape, so ``holistic_groups()`` is empty at the published widths
    and holistic Tucker falls back to layer-wise Tucker on CNV.
    """

    def __init__(self, in_channels, image_size, num_classes, input_bits, scaling, weight_grad, act_grad,
                 first_padding=0, width_scale=1.0):
        super().__init__()
        self.input_shape = (in_channels, image_size, image_size)
        binary = {"scaling": scaling, "weight_grad": weight_grad}
        conv = [InputQuant(input_bits)]
        channels, size = in_channels, image_size
        for i, (out_ch, pool) in enumerate(CNV_CONVS):
            out_ch = _width(out_ch, width_scale)
            pad = first_padding if i == 0 else 0
            conv += [BinaryConv2d(channels, out_ch, 3, padding=pad, **binary), nn.BatchNorm2d(out_ch, eps=1e-4),
                     BinaryAct(act_grad)]
            size = size + 2 * pad - 2
            if pool:
                conv.append(nn.MaxPool2d(2))
                size //= 2
            if size < 1:
                raise UserError(f"CNV needs 32x32 images (cnv28: 28x28); {image_size}x{image_size} is too small")
            channels = out_ch
        self.conv_features = nn.Sequential(*conv)
        features = channels * size * size
        fc = []
        for width in CNV_FCS:
            width = _width(width, width_scale)
            fc += [BinaryLinear(features, width, **binary), nn.BatchNorm1d(width, eps=1e-4), BinaryAct(act_grad)]
            features = width
        fc += [BinaryLinear(features, num_classes, **binary), TensorNorm()]
        self.linear_features = nn.Sequential(*fc)
        for layer in self.binary_layers():
            init_uniform_(layer)

    def forward(self, x):
        return self.linear_features(torch.flatten(self.conv_features(x), 1))


# ---- ResNet-20 (CIFAR), training only ---------------------------------------------------------------------
class ShortcutA(nn.Module):
    """Option-A shortcut (He et al. 2016): stride-2 subsampling and zero channels, no parameters."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.stride = stride
        extra = out_channels - in_channels
        self.pad = (extra // 2, extra - extra // 2)

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if any(self.pad):
            x = F.pad(x, (0, 0, 0, 0, *self.pad))
        return x


class BinaryBasicBlock(nn.Module):
    """Two binary 3x3 convs (signs of their real-valued inputs, BN after each).

    Plain: out = htanh(BN(conv2(sign(htanh(BN(conv1(sign x)))))) + shortcut(x)).
    Bi-Real (Liu et al. 2018): a real-valued shortcut around every conv,
    h = htanh(BN(conv1(sign x)) + shortcut(x)); out = htanh(BN(conv2(sign h)) + h).
    """

    def __init__(self, in_channels, out_channels, stride, bireal, binary, act_grad, standardise=False):
        super().__init__()
        self.bireal = bireal
        self.act1, self.act2 = _sign(act_grad, standardise), _sign(act_grad, standardise)
        self.conv1 = BinaryConv2d(in_channels, out_channels, 3, stride=stride, padding=1, **binary)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = BinaryConv2d(out_channels, out_channels, 3, padding=1, **binary)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = ShortcutA(in_channels, out_channels, stride)

    def forward(self, x):
        h = self.bn1(self.conv1(self.act1(x)))
        if self.bireal:
            h = F.hardtanh(h + self.shortcut(x))
            return F.hardtanh(self.bn2(self.conv2(self.act2(h))) + h)
        h = F.hardtanh(h)
        return F.hardtanh(self.bn2(self.conv2(self.act2(h))) + self.shortcut(x))


class SampleStandardise(nn.Module):
    """RBNN's per-sample activation standardisation before the sign: (x - mean) / std over (C, H, W).

    The threshold then depends on the whole feature map of each input, which a streaming accelerator
    cannot compute: models using it train and export but are never compiled.
    """

    def forward(self, x):
        flat = x.flatten(1)
        mean = flat.mean(1).view(-1, *([1] * (x.dim() - 1)))
        std = flat.std(1).view(-1, *([1] * (x.dim() - 1)))
        return (x - mean) / (std + 1e-5)


def _sign(act_grad: str, standardise: bool) -> nn.Module:
    act = BinaryAct(act_grad)
    return nn.Sequential(SampleStandardise(), act) if standardise else act


class PreActBinaryBlock(nn.Module):
    """Pre-activation binary block with a real-valued shortcut around every conv (Bulat et al. 2019;
    Bi-Real's stream): h = sc(x) + alpha1 * conv1(sign(BN(x))); out = h + alpha2 * conv2(sign(BN(h))).

    No BatchNorm follows a conv, so the weight scale alpha (``--scaling``) is what sets each conv's
    contribution to the residual stream: here a learned or analytic scale is not cancelled.
    """

    def __init__(self, in_channels, out_channels, stride, binary, act_grad, standardise=False):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(in_channels), nn.BatchNorm2d(out_channels)
        self.act1, self.act2 = _sign(act_grad, standardise), _sign(act_grad, standardise)
        self.conv1 = BinaryConv2d(in_channels, out_channels, 3, stride=stride, padding=1, **binary)
        self.conv2 = BinaryConv2d(out_channels, out_channels, 3, padding=1, **binary)
        self.shortcut = ShortcutA(in_channels, out_channels, stride)

    def forward(self, x):
        h = self.shortcut(x) + self.conv1(self.act1(self.bn1(x)))
        return h + self.conv2(self.act2(self.bn2(h)))


class ResNet20(BinaryNet):
    """Binary CIFAR ResNet-20 (3 stages x 3 blocks, 16/32/64 channels, option-A shortcuts), as in RBNN.

    Training only for now: the binary 3x3 convs zero-pad binary activations, and zero is not a bipolar
    value, so the compiler refuses them (the QONNX export itself works). ``real_ends`` makes the first
    conv and the last FC real-valued, as in RBNN's and Bulat et al.'s tables (the trainer's default for
    the ResNets); binary ends are what the compiler would need. ``block`` is "plain", "bireal" or
    "preact" (``PreActBinaryBlock``); ``standardise`` puts RBNN's per-sample standardisation before
    each binary activation.
    """

    def __init__(self, in_channels, image_size, num_classes, input_bits, scaling, weight_grad, act_grad,
                 block="plain", real_ends=False, width_scale=1.0, standardise=False):
        super().__init__()
        self.input_shape = (in_channels, image_size, image_size)
        binary = {"scaling": scaling, "weight_grad": weight_grad}
        widths = [_width(w, width_scale) for w in (16, 32, 64)]
        self.input_quant = InputQuant(input_bits)
        if real_ends:
            self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        else:
            self.stem = BinaryConv2d(in_channels, widths[0], 3, padding=1, **binary)
        self.stem_bn = nn.BatchNorm2d(widths[0])
        blocks, channels = [], widths[0]
        for stage, width in enumerate(widths):
            for b in range(3):
                stride = 2 if stage > 0 and b == 0 else 1
                if block == "preact":
                    blocks.append(PreActBinaryBlock(channels, width, stride, binary, act_grad, standardise))
                else:
                    blocks.append(BinaryBasicBlock(channels, width, stride, block == "bireal", binary, act_grad,
                                                   standardise))
                channels = width
        self.preact = block == "preact"
        if self.preact:
            self.final_bn = nn.BatchNorm2d(channels)
        self.blocks = nn.Sequential(*blocks)
        self.stages = [blocks[i : i + 3] for i in range(0, 9, 3)]  # plain list: not registered twice
        if real_ends:
            self.head = nn.Linear(channels, num_classes)
        else:
            self.head = nn.Sequential(_sign(act_grad, standardise), BinaryLinear(channels, num_classes, **binary),
                                      TensorNorm())
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                if isinstance(m, BINARY_LAYERS):
                    m.reset_scale()

    def holistic_groups(self) -> list[list[nn.Module]]:
        """Per stage, the identically shaped convs (a stage's strided first conv stays layer-wise)."""
        groups = []
        for stage in self.stages:
            convs = [c for block in stage for c in (block.conv1, block.conv2)]
            groups += groups_by_shape(convs)
        return groups

    def forward(self, x):
        x = F.hardtanh(self.stem_bn(self.stem(self.input_quant(x))))
        x = self.blocks(x)
        if self.preact:
            x = F.hardtanh(self.final_bn(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ---- factory ---------------------------------------------------------------------------------------------
def _defaults(name: str) -> tuple[int, int]:
    """(in_channels, image_size) of the data set a model was designed for."""
    if name in MLP_HIDDEN or name == "cnv28":
        return 1, 28
    return 3, 32


def build_model(name: str, method: str = "baseline", scaling: str = "none", weight_grad: str = "ste",
                act_grad: str = "ste", input_bits: int = 8, in_channels: int | None = None, num_classes: int = 10,
                image_size: int | None = None, method_options: dict | None = None, aux: bool = False,
                width_scale: float = 1.0, real_ends: bool = False, act_standardise: bool = False,
                aux_stop_grad: str = "none") -> nn.Module:
    """A model of ``MODELS`` with the given re-parametrisation ``method`` applied to its binary layers.

    ``width_scale`` multiplies the channel/unit counts (1.0 = the published topology; tests use less).
    ``real_ends`` (ResNet-20 only) makes the first conv and the last FC real-valued; ``act_standardise``
    (ResNet-20 only) adds RBNN's per-sample activation standardisation.
    """
    from fpgabnn.train.parametrize import METHODS, parametrize_model
    from fpgabnn.train.sign import GRAD_APPROXIMATIONS

    choices = {"model": (name, MODELS), "method": (method, METHODS), "scaling": (scaling, SCALINGS),
               "weight gradient": (weight_grad, GRAD_APPROXIMATIONS), "activation gradient": (act_grad, GRAD_APPROXIMATIONS)}
    for what, (value, allowed) in choices.items():
        if value not in allowed:
            raise UserError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
    d_channels, d_size = _defaults(name)
    in_channels = d_channels if in_channels is None else int(in_channels)
    image_size = d_size if image_size is None else int(image_size)
    if in_channels < 1 or image_size < 1 or num_classes < 1 or not width_scale > 0:
        raise UserError(f"{name}: channels, image size, classes and width scale must be positive")
    if (real_ends or act_standardise) and not name.startswith("resnet"):
        raise UserError(f"real_ends and act_standardise apply to the ResNet models only, not {name!r}")
    common = dict(in_channels=in_channels, image_size=image_size, num_classes=num_classes, input_bits=input_bits,
                  scaling=scaling, weight_grad=weight_grad, act_grad=act_grad)
    if name in MLP_HIDDEN:
        hidden = [_width(h, width_scale) for h in MLP_HIDDEN[name]]
        model = FC(hidden, **common)
    elif name in ("cnv", "cnv28"):
        model = CNV(**common, first_padding=2 if name == "cnv28" else 0, width_scale=width_scale)
    else:
        block = {"resnet20": "plain", "resnet20-bireal": "bireal", "resnet20-preact": "preact"}[name]
        model = ResNet20(**common, block=block, real_ends=real_ends, width_scale=width_scale,
                         standardise=act_standardise)
    if method != "baseline":
        parametrize_model(model, method, model.binary_layers(), groups=model.holistic_groups(),
                          **dict(method_options or {}))
    if aux:
        aux_mod.attach_aux(model.binary_layers(), aux_stop_grad)
    model.name = name
    return model
