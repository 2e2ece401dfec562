"""QONNX models for the compiler benchmark: Brevitas' BNN-PYNQ 1W1A networks, random-initialised, plus variants
whose BatchNorm makes thresholding awkward, to show where finn-plus fails and fpgabnn does not.

Random weights (Brevitas' own uniform(-1, 1) init) with BatchNorm statistics drawn at the scale of the
accumulator they normalise, so every threshold lies well inside the popcount range, as after training. The
variants change one BatchNorm in the middle of the network (the second binary layer's, whose input is binary):

- ``always_on`` / ``always_off``: channel 0's threshold is pushed outside [-K, K] (K = fan-in), so its output is
  +1 (or -1) for every input;
- ``neg_gamma``: a quarter of the channels have a negative gamma (the comparison flips direction);
- ``zero_gamma``: two channels have gamma = 0 (the output is the sign of beta, a constant).

Each claim is checked in PyTorch on random inputs before the file is written; ``models.json`` lists the files
with what was changed, the measured share of +1 outputs in the changed channels, and the target fps both
compilers are given (at 100 MHz).

Usage: python benchmarks/finn_plus_models.py [--out benchmarks/models] [--only tfc_w1a1,cnv_w1a1_neg_gamma]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

BASES = {  # name: (brevitas_examples config, input shape)
    "tfc_w1a1": ("tfc_1w1a", (1, 1, 28, 28)),
    "sfc_w1a1": ("sfc_1w1a", (1, 1, 28, 28)),
    "lfc_w1a1": ("lfc_1w1a", (1, 1, 28, 28)),
    "cnv_w1a1": ("cnv_1w1a", (1, 3, 32, 32)),
}
TARGET_FPS = {"tfc_w1a1": 100000, "sfc_w1a1": 50000, "lfc_w1a1": 10000, "cnv_w1a1": 1000}  # at 100 MHz, both tools
VARIANTS = ("always_on", "always_off", "neg_gamma", "zero_gamma")
VARIANT_BASES = ("tfc_w1a1", "cnv_w1a1")  # the variants are made of these
PERTURBED_LAYER = 1  # index among the binary layers: the second one, whose input is binary
CHECK_SAMPLES = 256


def binary_layers(model):
    """(weight layer, BatchNorm, activation quantiser) triples in forward order."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear

    mods = [m for m in model.modules() if isinstance(m, (QuantConv2d, QuantLinear, torch.nn.modules.batchnorm._BatchNorm,
                                                         QuantIdentity))]
    triples = []
    for i, m in enumerate(mods):
        if isinstance(m, (QuantConv2d, QuantLinear)) and i + 2 < len(mods) \
                and isinstance(mods[i + 1], torch.nn.modules.batchnorm._BatchNorm) \
                and isinstance(mods[i + 2], QuantIdentity):
            triples.append((m, mods[i + 1], mods[i + 2]))
    return triples


def fan_in(layer) -> int:
    w = layer.weight
    return int(np.prod(w.shape[1:]))


def randomise_batchnorm(model, gen: torch.Generator) -> None:
    """BatchNorm statistics at the accumulator's scale (std of a +-1 dot product of K terms is about sqrt(K))."""
    for layer, bn, _ in binary_layers(model):
        k, c = fan_in(layer), bn.num_features
        std = float(np.sqrt(k))
        with torch.no_grad():
            bn.running_mean.copy_(torch.randn(c, generator=gen) * 0.3 * std)
            bn.running_var.copy_((0.5 + torch.rand(c, generator=gen)) * std * std)
            bn.weight.copy_(0.5 + torch.rand(c, generator=gen))
            bn.bias.copy_(torch.randn(c, generator=gen) * 0.2)


def perturb(model, variant: str) -> dict:
    """Apply ``variant`` to the BatchNorm of binary layer PERTURBED_LAYER; return what was changed."""
    layer, bn, _ = binary_layers(model)[PERTURBED_LAYER]
    k, c = fan_in(layer), bn.num_features
    with torch.no_grad():
        if variant in ("always_on", "always_off"):
            ch = [0]
            bn.weight[0], bn.bias[0], bn.running_var[0] = 1.0, 0.0, 1.0
            bn.running_mean[0] = -2.0 * k if variant == "always_on" else 2.0 * k
            what = f"channel 0 threshold {float(bn.running_mean[0]):+g}, outside the popcount range [-{k}, {k}]"
        elif variant == "neg_gamma":
            ch = list(range(0, c, 4))
            bn.weight[ch] = -bn.weight[ch]
            what = f"gamma < 0 on {len(ch)} of {c} channels (every 4th)"
        elif variant == "zero_gamma":
            ch = [0, 1]
            bn.weight[ch] = 0.0
            bn.bias[0], bn.bias[1] = 0.5, -0.5
            what = "gamma = 0 on channels 0 (beta > 0) and 1 (beta < 0)"
        else:
            raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return {"layer_index": PERTURBED_LAYER, "fan_in": k, "channels": ch, "change": what}


def channel_on_share(model, shape, channels, gen: torch.Generator) -> list[float]:
    """Share of +1 outputs of the perturbed layer's activation per listed channel, on random [0, 1) inputs."""
    _, _, act = binary_layers(model)[PERTURBED_LAYER]
    seen = []
    handle = act.register_forward_hook(lambda _m, _i, out: seen.append(out.detach().clone()))
    try:
        with torch.no_grad():
            model(torch.rand((CHECK_SAMPLES,) + tuple(shape[1:]), generator=gen))
    finally:
        handle.remove()
    out = seen[0]
    out = out.reshape(out.shape[0], out.shape[1], -1)
    return [float((out[:, ch, :] > 0).float().mean()) for ch in channels]


def export(model, shape, path: Path) -> None:
    """Brevitas QONNX export, re-saved with every tensor inline (one self-contained file)."""
    from brevitas.export import export_qonnx

    with tempfile.TemporaryDirectory(prefix="finn-plus-models-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        quiet = [logging.getLogger(n) for n in ("torch.onnx", "torch._export", "torch.export", "onnxscript")]
        for lg in quiet:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            export_qonnx(model, torch.rand(shape), export_path=str(raw))
        proto = onnx.load(str(raw), load_external_data=True)
    tmp_path = path.with_suffix(".onnx.tmp")
    onnx.save(proto, str(tmp_path))
    tmp_path.replace(path)


def make(name: str, seed: int) -> tuple[torch.nn.Module, tuple, dict]:
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    base, _, variant = name.partition("_w1a1")
    base += "_w1a1"
    variant = variant.lstrip("_")
    cfg_name, shape = BASES[base]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model, _ = model_with_cfg(cfg_name, pretrained=False)
    randomise_batchnorm(model, gen)
    model.eval()
    info = {"name": name, "base": base, "brevitas_model": cfg_name, "variant": variant or None,
            "input_shape": list(shape), "pixel_range": "unit", "target_fps": TARGET_FPS[base], "seed": seed}
    if variant:
        info.update(perturb(model, variant))
        info["on_share"] = [round(x, 4) for x in channel_on_share(model, shape, info["channels"], gen)]
        check_variant(info)
    return model, shape, info


def check_variant(info: dict) -> None:
    """Refuse to write a variant that does not do what its name says."""
    share = info["on_share"]
    variant = info["variant"]
    if variant == "always_on" and share != [1.0]:
        raise SystemExit(f"{info['name']}: channel 0 is not always +1 (share {share})")
    if variant == "always_off" and share != [0.0]:
        raise SystemExit(f"{info['name']}: channel 0 is not always -1 (share {share})")
    if variant == "zero_gamma" and share != [1.0, 0.0]:
        raise SystemExit(f"{info['name']}: zero-gamma channels are not constant (shares {share})")


def all_names() -> list[str]:
    return list(BASES) + [f"{b}_{v}" for b in VARIANT_BASES for v in VARIANTS]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "models"), help="output directory")
    p.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(all_names())}")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or all_names()
    unknown = sorted(set(names) - set(all_names()))
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(all_names())}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "models.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for name in names:
        model, shape, info = make(name, args.seed)
        path = out / f"{name}.onnx"
        export(model, shape, path)
        info["file"] = path.name
        manifest[name] = info
        extra = f": {info['change']}, +1 share {info['on_share']}" if info["variant"] else ""
        print(f"wrote {path}{extra}", file=sys.stderr)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
