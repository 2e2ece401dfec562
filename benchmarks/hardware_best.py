"""Issue 8, item 5: the best model of each study cell through the simulated accelerator (hardware_accuracy.py).

"Best" is decided on VALIDATION: the method with the highest mean final validation accuracy over its finished
seeds; its first finished seed is exported, built for pynq-z2 and simulated (RTL, Verilator) on the test set:
all 10,000 images for the MLPs, the first 1,000 for the CNNs. The ResNets are skipped (binary convolutions
with zero padding and real-valued ends: the compiler does not take them). A cell whose hardware row already
holds that run is not redone.

    python benchmarks/hardware_best.py STUDY.yaml [--only sfc/mnist] [--build-root DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

IMAGES = {"tfc": 10000, "sfc": 10000, "lfc": 10000, "cnv": 1000, "cnv28": 1000}


def best_run(study, cell):
    """(method, run) with the best mean final validation accuracy, or None when nothing has finished."""
    from fpgabnn.train.study import _choice_from_disk, main_runs, summary_of

    best = None
    for method in cell.methods:
        choice = _choice_from_disk(study, cell, method) if cell.tune else None
        if cell.tune and choice is None:
            continue
        done = []
        for run in main_runs(study, cell, method, choice):
            m = summary_of(run)
            if m is not None:
                done.append((run, m["epochs"][-1]["val_acc"]))
        if done:
            mean = sum(v for _, v in done) / len(done)
            if best is None or mean > best[0]:
                best = (mean, method, done[0][0])
    return None if best is None else (best[1], best[2])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study")
    p.add_argument("--only", action="append", help="model/dataset, e.g. sfc/mnist (repeatable)")
    p.add_argument("--build-root", type=Path, default=None, help="default: <study out>/hw")
    args = p.parse_args(argv)

    import hardware_accuracy

    from fpgabnn.train.study import load_study

    study = load_study(args.study)
    results = study.results.with_suffix(".json")
    status = 0
    for cell in study.cells:
        pair = f"{cell.model}/{cell.dataset}"
        if args.only and pair not in args.only:
            continue
        if cell.model not in IMAGES:
            print(f"{pair}: skipped ({cell.model} does not compile: zero-padded binary convolutions)")
            continue
        found = best_run(study, cell)
        if found is None:
            print(f"{pair}: no finished run yet")
            continue
        method, run = found
        hardware = json.loads(results.read_text()).get("hardware", []) if results.is_file() else []
        if any((h["model"], h["dataset"], h["method"], h.get("seed"), h.get("sim")) ==
               (cell.model, cell.dataset, method, run.seed, "rtl") and h["images"] >= IMAGES[cell.model] for h in hardware):
            print(f"{pair}: {method} seed {run.seed} already on simulated hardware")
            continue
        if not (run.out / "last.pt").is_file():
            print(f"{pair}: {method} seed {run.seed} finished on another machine (archived, no checkpoint here); "
                  "retrain it here to simulate it")
            continue
        build = (args.build_root or study.out / "hw") / f"{cell.model}_{cell.dataset}_{method}_seed{run.seed}"
        print(f"{pair}: best on validation is {method}; simulating seed {run.seed} ({IMAGES[cell.model]} test images)",
              flush=True)
        rc = hardware_accuracy.main([str(run.out), "--study", str(args.study), "--method", method,
                                     "--results", str(results), "--images", str(IMAGES[cell.model]),
                                     "--build-dir", str(build), "--sim", "rtl"])
        status = max(status, rc)
    return status


if __name__ == "__main__":
    sys.exit(main())
