"""What training did to the binary weights: flips, angles, quantisation error, scales, bimodality.

Read-only analyses returning plain dicts (qonnx style). The trainer logs ``weight_statistics``
every epoch; ``inspect_checkpoint`` gives the per-layer report behind ``fpgabnn inspect``.
The three effects RBNN reports (docs/methods.md section 3) are measured as:

- flip rate: fraction of sign(latent) different from the binary weights at step 0;
- angle: arccos(<w, sign(w)> / (|w| |sign(w)|)) over the layer's flattened latent weight w;
- quantisation error: per output channel, |w - a sign(w)|^2 / |w|^2 with the best a = mean|w|,
  which equals 1 - mean(|w|)^2 / mean(w^2); averaged over channels. 0 when every |w| is equal.
- bimodality: Sarle's coefficient (skew^2 + 1) / kurtosis of w / mean|w| (per channel);
  above 5/9 (the uniform's value) suggests two modes.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

SCALE_HINTS = ("scale", "alpha", "theta")
HIST_RANGE = 3.0
HIST_BINS = 60


def binary_layer_items(model) -> list[tuple[str, torch.nn.Module]]:
    """(qualified name, module) of every binary layer, in model order."""
    found = model.binary_layers() if hasattr(model, "binary_layers") else []
    if isinstance(found, dict):
        found = list(found.items())
    found = list(found)
    if found and all(isinstance(f, tuple) and len(f) == 2 for f in found):
        return [(str(n), m) for n, m in found]
    names = {id(m): n for n, m in model.named_modules()}
    return [(names.get(id(m), f"layer{i}"), m) for i, m in enumerate(found)]


def latent_weight(module) -> torch.Tensor:
    """The real-valued weight that is binarised (reconstructed for SVD/Tucker, rotated for RBNN)."""
    from fpgabnn.train.parametrize import latent_weight as reconstruct

    with torch.no_grad():
        return reconstruct(module).detach().float().cpu()


def binarize(w: torch.Tensor) -> torch.Tensor:
    """+-1 as int8, with sign(0) = +1 (the convention of Brevitas, QONNX and the hardware)."""
    return torch.where(w >= 0, 1, -1).to(torch.int8)


def binary_snapshot(model) -> dict[str, torch.Tensor]:
    """{layer name: int8 +-1 tensor} of the current binary weights."""
    return {name: binarize(latent_weight(m)) for name, m in binary_layer_items(model)}


def _channel_view(w: torch.Tensor) -> torch.Tensor:
    return w.reshape(w.shape[0], -1) if w.dim() > 1 else w.reshape(1, -1)


def quantisation_error(w: torch.Tensor) -> float:
    """Mean over output channels of 1 - mean(|w|)^2 / mean(w^2)."""
    c = _channel_view(w.double())
    ms = (c * c).mean(1)
    err = 1.0 - c.abs().mean(1) ** 2 / ms.clamp_min(1e-300)
    return float(err[ms > 0].mean()) if bool((ms > 0).any()) else 0.0


def angle_degrees(w: torch.Tensor) -> float:
    """Angle between the latent weight and its sign, over the whole flattened layer."""
    w = w.double().reshape(-1)
    b = torch.where(w >= 0, 1.0, -1.0).double()
    norm = w.norm() * b.norm()
    if norm == 0:
        return 90.0
    return math.degrees(math.acos(max(-1.0, min(1.0, float(w @ b / norm)))))


def bimodality(x: torch.Tensor) -> float:
    """Sarle's bimodality coefficient (skew^2 + 1) / (excess kurtosis + 3), large-sample form."""
    x = x.double().reshape(-1)
    if x.numel() < 4:
        return math.nan
    d = x - x.mean()
    m2 = (d * d).mean()
    if m2 == 0:
        return math.nan
    skew = (d**3).mean() / m2**1.5
    kurt = (d**4).mean() / m2**2
    return float((skew**2 + 1) / kurt)


def normalised_latent(w: torch.Tensor) -> torch.Tensor:
    """w / mean|w| per output channel, so bimodal weights peak at +-1 whatever their scale."""
    c = _channel_view(w.double())
    return (c / c.abs().mean(1, keepdim=True).clamp_min(1e-30)).reshape(-1)


def histogram(x: torch.Tensor, bins: int = HIST_BINS, lo: float | None = None, hi: float | None = None) -> dict:
    x = x.double().reshape(-1)
    lo = float(x.min()) if lo is None else lo
    hi = float(x.max()) if hi is None else hi
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts = torch.histc(x.clamp(lo, hi), bins=bins, min=lo, max=hi)
    edges = torch.linspace(lo, hi, bins + 1)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _scales(module) -> list[dict]:
    """Statistics of the layer's per-channel scale-like tensors (learned alpha, RBNN s/theta)."""
    out = []
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        leaf = name.rsplit(".", 1)[-1].lower()
        if not any(h in leaf for h in SCALE_HINTS) or t.numel() < 1 or t.dim() > 2:
            continue
        v = t.detach().double().reshape(-1).cpu()
        out.append(
            {
                "name": name.rsplit(".", 1)[-1],
                "path": name,
                "trainable": isinstance(t, torch.nn.Parameter) and t.requires_grad,
                "numel": v.numel(),
                "mean": float(v.mean()),
                "std": float(v.std()) if v.numel() > 1 else 0.0,
                "min": float(v.min()),
                "max": float(v.max()),
                "negative_fraction": float((v < 0).double().mean()),
                "histogram": histogram(v, bins=30),
            }
        )
    return out


def layer_report(name: str, module, initial: torch.Tensor | None) -> dict:
    w = latent_weight(module)
    b = binarize(w)
    flip = None
    if initial is not None and initial.shape == b.shape:
        flip = float((initial.to(torch.int8) != b).double().mean())
    z = normalised_latent(w)
    return {
        "name": name,
        "type": type(module).__name__,
        "shape": list(w.shape),
        "numel": w.numel(),
        "flip_rate": flip,
        "angle_deg": angle_degrees(w),
        "quant_error": quantisation_error(w),
        "latent_mean": float(w.mean()),
        "latent_std": float(w.std()) if w.numel() > 1 else 0.0,
        "latent_abs_mean": float(w.abs().mean()),
        "bimodality": bimodality(z),
        "near_pm1_fraction": float(((z.abs() - 1).abs() < 0.25).double().mean()),
        "latent_histogram": histogram(z, lo=-HIST_RANGE, hi=HIST_RANGE),
        "scales": _scales(module),
    }


def weight_statistics(model, initial: dict[str, torch.Tensor]) -> dict:
    """Whole-model flip rate (weighted by weight count) and mean quantisation error, per epoch."""
    flips = total = 0
    errors = []
    for name, module in binary_layer_items(model):
        w = latent_weight(module)
        errors.append(quantisation_error(w))
        if name in initial and initial[name].shape == w.shape:
            flips += int((initial[name].to(torch.int8) != binarize(w)).sum())
            total += w.numel()
    return {
        "flip_rate": flips / total if total else math.nan,
        "quant_error": sum(errors) / len(errors) if errors else math.nan,
    }


def inspect_model(model, initial: dict[str, torch.Tensor] | None = None) -> dict:
    initial = initial or {}
    layers = [layer_report(n, m, initial.get(n)) for n, m in binary_layer_items(model)]
    counted = [(la["flip_rate"], la["numel"]) for la in layers if la["flip_rate"] is not None]
    total = sum(n for _, n in counted)
    return {
        "layers": layers,
        "flip_rate": sum(f * n for f, n in counted) / total if total else None,
        "quant_error": sum(la["quant_error"] for la in layers) / len(layers) if layers else None,
    }


def inspect_checkpoint(path: str | Path) -> dict:
    """Report for a checkpoint written by ``fpgabnn train`` (rebuilds the model from it)."""
    from fpgabnn.train.checkpoint import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt, path)
    report = inspect_model(model, ckpt.get("initial_binary_weights"))
    report.update(
        {
            "checkpoint": str(path),
            "model_config": ckpt["model_config"],
            "epoch": ckpt["epoch"],
            "global_step": ckpt["global_step"],
            "best_val_acc": ckpt.get("best_val_acc"),
        }
    )
    return report
