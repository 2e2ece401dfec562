"""PNG charts of an estimate report (matplotlib's Agg canvas, no pyplot state), returned as bytes so the
caller writes them atomically beside report.json."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BOTTLENECK, LAYER, TARGET, LIMIT = "#d62728", "#1f77b4", "#2ca02c", "#7f7f7f"


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def cycles_chart(report: dict) -> bytes:
    """Cycles per frame of every layer (log scale), the bottleneck in red, the II and the target budget."""
    layers = report["layers"]
    names = [r["name"] for r in layers]
    cycles = [r["cycles"] for r in layers]
    fig = Figure(figsize=(max(6.0, 0.45 * len(layers) + 2), 4.2))
    ax = fig.add_subplot()
    colors = [BOTTLENECK if n == report["bottleneck"] else LAYER for n in names]
    ax.bar(range(len(layers)), cycles, color=colors)
    ax.axhline(report["ii_cycles"], color=BOTTLENECK, ls="--", lw=1,
               label=f"II = {report['ii_cycles']:,} cycles ({report['fps']:,.0f} fps)")
    target = report["folding"]
    if target["source"] == "target":
        ax.axhline(target["budget_cycles"], color=TARGET, ls=":", lw=1.2,
                   label=f"target {target['fps']:,.0f} fps = {target['budget_cycles']:,} cycles")
    ax.set_yscale("log")
    ax.set_xticks(range(len(layers)), names, rotation=60, ha="right", fontsize=8)
    ax.set(ylabel="cycles per frame", title=f"cycles per layer at {report['clock_mhz']:g} MHz ({report['board']})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def resources_chart(report: dict) -> bytes:
    """Utilisation of each resource as % of the board, split into layers and glue (converters, FIFOs)."""
    resources = [r for r in ("LUT", "FF", "BRAM18", "DSP", "URAM") if report["budget"][r] > 0]
    layer_pct = [100.0 * report["layer_totals"][r] / report["budget"][r] for r in resources]
    total_pct = [report["utilisation_pct"][r] for r in resources]
    glue_pct = [t - lp for t, lp in zip(total_pct, layer_pct)]
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.add_subplot()
    x = range(len(resources))
    ax.bar(x, layer_pct, color=LAYER, label="layers")
    ax.bar(x, glue_pct, bottom=layer_pct, color=LIMIT, label="converters and FIFOs")
    ax.axhline(100, color=BOTTLENECK, ls="--", lw=1, label="board budget")
    for i, (pct, r) in enumerate(zip(total_pct, resources)):
        ax.text(i, pct, f"{report['totals'][r]:,.0f} / {report['budget'][r]:,}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(x), resources)
    ax.set(ylabel="% of board", ylim=(0, max(110.0, max(total_pct) * 1.15)),
           title=f"resources on {report['board']} ({report['part']})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)
