"""Tabulate the LFC recipe pilots (benchmarks/lfc_recipe.yaml) by their final VALIDATION accuracy.

The choice of the LFC cells' recipe in accuracy_study.yaml is made from this table (never from test accuracy).
Writes benchmarks/results/lfc_recipe.{md,json}.

    python benchmarks/lfc_recipe.py [--study benchmarks/lfc_recipe.yaml] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", default=str(ROOT / "benchmarks" / "lfc_recipe.yaml"))
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args(argv)

    from fpgabnn.core.fileio import atomic_write_bytes
    from fpgabnn.train.study import load_study, main_runs

    study = load_study(args.study)
    rows = []
    for cell in study.cells:
        for method in cell.methods:
            for run in main_runs(study, cell, method, None):
                metrics = run.out / "metrics.json"
                if not metrics.is_file():
                    continue
                m = json.loads(metrics.read_text())
                epochs = m["epochs"]
                times = [e["epoch_time"] for e in epochs]
                rows.append({"pilot": method, "seed": run.seed, "epochs_done": len(epochs), "epochs": cell.epochs,
                             "batch_size": m["config"]["batch_size"], "clip_weights": m["config"].get("clip_weights", False),
                             "val_acc": [e["val_acc"] for e in epochs], "final_val_acc": epochs[-1]["val_acc"],
                             "train_acc": epochs[-1]["train_acc"], "epoch_seconds": times,
                             "train_minutes": sum(times) / 60, "finished": bool(m.get("test"))})
    lines = ["# LFC-W1A1 on MNIST: recipe pilots (validation split)", "",
             f"Written by `benchmarks/lfc_recipe.py` from the runs of `{Path(args.study).name}`; seed 0, 54,000 training",
             "images, 6,000 validation images, Adam lr 0.02 with cosine to 0 over each pilot's own epochs. Choices are",
             "made on the final validation accuracy. Epoch times are as measured on the shared 2-core machine "
             f"(load average at writing: {os.getloadavg()[0]:.1f}; 2 pilots ran at once, 1 thread each).", "",
             "| pilot | batch | clip | epochs | val acc by epoch | final val acc | minutes (summed epochs) |",
             "|---|---:|:---:|---:|---|---:|---:|"]
    for r in rows:
        accs = ", ".join(f"{100 * a:.2f}" for a in r["val_acc"])
        done = "" if r["finished"] else f" (of {r['epochs']}, unfinished)"
        lines.append(f"| {r['pilot']} | {r['batch_size']} | {'yes' if r['clip_weights'] else 'no'} | "
                     f"{r['epochs_done']}{done} | {accs} | {100 * r['final_val_acc']:.2f} | {r['train_minutes']:.1f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "lfc_recipe.json", (json.dumps({"pilots": rows}, indent=1) + "\n").encode())
    atomic_write_bytes(args.out / "lfc_recipe.md", ("\n".join(lines) + "\n").encode())
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
