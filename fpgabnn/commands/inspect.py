"""fpgabnn inspect: what training did to a checkpoint's binary weights (table, plots, inspect.json)."""

from __future__ import annotations

import json
from pathlib import Path

HELP = "analyse a training checkpoint: weight flips, latent/binary angle, scales, latent-weight bimodality"
EPILOG = """examples:
  fpgabnn inspect runs/tfc/last.pt                 # table + runs/tfc/inspect/
  fpgabnn inspect runs/cnv-rbnn/best.pt --out report/cnv-rbnn

Writes inspect.json, layers.png (flip rate vs the step-0 binary weights, angle, quantisation error per
layer), latent_hist.png (latent weights / per-channel mean|w|: bimodal = peaks at +-1) and, when the
layers have scales (learned alpha, RBNN s and theta), scales.png.
"""


def add_arguments(p):
    p.add_argument("checkpoint", help="last.pt or best.pt written by fpgabnn train")
    p.add_argument("--out", help="directory for inspect.json and plots (default: <checkpoint dir>/inspect)")
    p.add_argument("--json", action="store_true", help="print inspect.json instead of the table")


def run(args) -> int:
    from fpgabnn.core.fileio import atomic_output_dir, jsonable
    from fpgabnn.errors import UserError
    from fpgabnn.train import plots
    from fpgabnn.train.inspect import inspect_checkpoint

    ckpt = Path(args.checkpoint)
    out = Path(args.out) if args.out else ckpt.parent / "inspect"
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "inspect.json").is_file())):
        raise UserError(f"{out} exists and is not an earlier inspect output; choose another --out")
    report = inspect_checkpoint(ckpt)
    with atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "inspect.json").write_text(json.dumps(jsonable(report), indent=1) + "\n")
        if report["layers"]:
            (tmp / "layers.png").write_bytes(plots.plot_layer_summary(report["layers"]))
            (tmp / "latent_hist.png").write_bytes(plots.plot_latent_histograms(report["layers"]))
            if any(layer["scales"] for layer in report["layers"]):
                (tmp / "scales.png").write_bytes(plots.plot_scale_histograms(report["layers"]))
    if args.json:
        print(json.dumps(jsonable(report), indent=1))
    else:
        _print_table(report, out)
    return 0


def _fmt(value, spec=".3f") -> str:
    return "-" if value is None else format(value, spec)


def _print_table(report: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    cfg = report["model_config"]
    table = Table(title=f"{cfg.get('name')} / {cfg.get('method')} - epoch {report['epoch']}, step {report['global_step']}")
    with_scales = any(layer["scales"] for layer in report["layers"])
    columns = ["layer", "shape", "flips", "angle", "q-err", "BC", "near ±1"] + (["scales: mean/neg"] if with_scales else [])
    for col in columns:
        table.add_column(col, justify="left" if col in ("layer", "shape") or col.startswith("scales") else "right",
                         no_wrap=col in ("layer", "shape"), overflow="fold")
    for layer in report["layers"]:
        row = [
            layer["name"], "x".join(map(str, layer["shape"])), _fmt(layer["flip_rate"]), _fmt(layer["angle_deg"], ".1f"),
            _fmt(layer["quant_error"]), _fmt(layer["bimodality"], ".2f"), _fmt(layer["near_pm1_fraction"], ".2f"),
        ]
        if with_scales:
            row.append(" ".join(f"{s['name']} {s['mean']:.3g}/{s['negative_fraction']:.0%}" for s in layer["scales"]) or "-")
        table.add_row(*row)
    import sys

    console = Console(width=None if sys.stdout.isatty() else 120)  # piped/logged: no 80-column wrapping
    console.print(table)
    console.print(f"overall flip rate {_fmt(report['flip_rate'])}, mean quantisation error {_fmt(report['quant_error'])} "
                  "(angle in degrees; BC: bimodality coefficient, > 0.56 suggests two modes; near ±1: fraction of "
                  f"|w|/mean|w| within 0.25 of 1); plots and inspect.json in {out}")
