"""PNG figures for training curves and checkpoint inspection (matplotlib, Agg, returned as bytes).

Figures are returned as bytes so the caller writes them atomically beside the other outputs.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _column(history: list, key: str) -> list:
    return [r.get(key) if r.get(key) is not None else math.nan for r in history]


def plot_curves(history: list, title: str = "") -> bytes:
    """Loss, accuracy, learning rate / sign schedule, and the weight effects of docs/methods.md section 3."""
    epochs = _column(history, "epoch")
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    ax = axes[0, 0]
    ax.plot(epochs, _column(history, "train_loss"), "o-", label="train")
    ax.plot(epochs, _column(history, "val_loss"), "s-", label="val")
    ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax.legend()
    ax = axes[0, 1]
    ax.plot(epochs, _column(history, "train_acc"), "o-", label="train")
    ax.plot(epochs, _column(history, "val_acc"), "s-", label="val")
    ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax.legend()
    ax = axes[1, 0]
    ax.plot(epochs, _column(history, "lr"), "o-", color="C2", label="lr (end of epoch)")
    ax.set(xlabel="epoch", ylabel="learning rate", title="schedules")
    twin = ax.twinx()
    twin.semilogy(epochs, _column(history, "sign_t"), "^--", color="C3", label="sign t")
    twin.semilogy(epochs, _column(history, "sign_k"), "v--", color="C4", label="sign k")
    twin.set_ylabel("t, k (log)")
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], fontsize="small")
    ax = axes[1, 1]
    ax.plot(epochs, _column(history, "flip_rate"), "o-", color="C5", label="sign flips vs init")
    ax.plot(epochs, _column(history, "quant_error"), "s-", color="C6", label="quantisation error")
    ax.set(xlabel="epoch", ylabel="fraction", title="binary weights", ylim=(0, None))
    ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _png(fig)


def plot_layer_summary(layers: list) -> bytes:
    """Per-layer flip rate, latent/binary angle and quantisation error as bars."""
    names = [layer["name"] for layer in layers]
    x = range(len(names))
    fig, axes = plt.subplots(1, 3, figsize=(max(9, 1.2 * len(names) * 1.5), 3.6))
    for ax, key, label in zip(
        axes,
        ("flip_rate", "angle_deg", "quant_error"),
        ("sign flips vs initial weights", "angle latent/binary (deg)", "quantisation error"),
    ):
        ax.bar(list(x), [layer[key] if layer[key] is not None else math.nan for layer in layers], color="C0")
        ax.set_xticks(list(x), names, rotation=60, ha="right", fontsize="small")
        ax.set_title(label)
        if key == "flip_rate":
            ax.axhline(0.5, color="grey", ls="--", lw=0.8)
    fig.tight_layout()
    return _png(fig)


def plot_latent_histograms(layers: list) -> bytes:
    """Latent weights divided by their per-channel mean |w|: bimodal means peaks near +-1."""
    n = len(layers)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, layer in zip(axes.flat, layers):
        h = layer["latent_histogram"]
        edges = h["edges"]
        ax.stairs(h["counts"], edges, fill=True, alpha=0.7)
        ax.set_title(f"{layer['name']}\nBC={layer['bimodality']:.2f}", fontsize="small")
        ax.axvline(-1, color="grey", ls=":", lw=0.8)
        ax.axvline(1, color="grey", ls=":", lw=0.8)
        ax.set_xlabel("w / mean|w| per channel (tails clipped to ±3)", fontsize="x-small")
    fig.tight_layout()
    return _png(fig)


def plot_scale_histograms(layers: list) -> bytes:
    """Histograms of each layer's weight scales (learned alpha, RBNN s), one panel per tensor."""
    panels = [(layer["name"], s) for layer in layers for s in layer["scales"]]
    n = len(panels)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (name, s) in zip(axes.flat, panels):
        ax.stairs(s["histogram"]["counts"], s["histogram"]["edges"], fill=True, alpha=0.7, color="C1")
        ax.set_title(f"{name}.{s['name']}\nmean {s['mean']:.3g} neg {s['negative_fraction']:.2f}", fontsize="small")
    fig.tight_layout()
    return _png(fig)
