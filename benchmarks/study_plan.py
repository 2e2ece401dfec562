"""How long a study takes on a 2-core CPU: every planned run's training time, measured or estimated.

For a finished run (or the finished epochs of one) the run's own epoch times are used. For the rest, one training
step of that exact configuration (model, method, options, batch, image size; Adam or SGD as configured) is timed
on 1 thread and multiplied by the steps still to run. Estimates are normalised to an idle core: the same script
times SFC's baseline step, whose idle-core time is known from the study's own run (REFERENCE_MS: SFC baseline,
batch 100, 7.3 s per 540-step epoch with both cores busy with the study only) right before and after each
configuration's steps, and divides that configuration's time by the ratio measured/reference, the slow-down
other processes cause at that moment. Validation and
test evaluation (about 5% on top) are not counted. The study's runs use 1 thread each, 2 at a time: the wall
time is about half the core-minutes.

    python benchmarks/study_plan.py benchmarks/accuracy_study.yaml [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REFERENCE_MS = 7.3 / 540 * 1e3  # SFC baseline on an otherwise idle core (runs/study/sfc/mnist/baseline/seed0)
EPOCH_IMAGES = {"mnist": 54_000, "fashion-mnist": 54_000, "cifar10": 45_000}


_BUILT: dict = {}


def step_ms(options: dict, warmup: int = 2, steps: int = 5) -> float:
    """Median time of a training step of this configuration (random data of the right shape)."""
    from fpgabnn.train.config import TrainConfig
    from fpgabnn.train.data import dataset_info
    from fpgabnn.train.parametrize import rotation_update
    from fpgabnn.train.trainer import Trainer

    cfg = TrainConfig.from_dict({**options, "out": "unused", "epochs": 1}).resolve()
    info = dataset_info(cfg.dataset, cfg.data_dir)
    size = cfg.pad_to or info.size
    trainer = Trainer.__new__(Trainer)  # only its model/optimiser builders; nothing is written
    trainer.config = cfg
    torch.manual_seed(0)
    model = trainer._build_model(trainer.model_config(type(info)(info.channels, size, info.classes))).train()
    optimizer = trainer._optimizer(model)
    x = torch.randint(0, 256, (cfg.batch_size, info.channels, size, size)).float()
    y = torch.randint(0, info.classes, (cfg.batch_size,))
    rotation_update(model)
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        if cfg.aux:
            loss = loss + cfg.aux_weight * model.aux_loss(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study")
    p.add_argument("--out", type=Path, default=None, help="write study_plan.{md,json} here")
    args = p.parse_args(argv)

    from fpgabnn.core.fileio import atomic_write_bytes
    from fpgabnn.train.study import _choice_from_disk, _read_json, load_study, main_runs, summary_of, tuning_runs

    torch.set_num_threads(1)
    study = load_study(args.study)
    load_before = os.getloadavg()[0]
    reference = {"model": "sfc", "dataset": "mnist"}
    slowdowns = []

    def idle_step_ms(options: dict) -> float:
        before = step_ms(reference, steps=7)
        t = step_ms(options)
        after = step_ms(reference, steps=7)
        slowdowns.append(max(1.0, min(before, after) / REFERENCE_MS))
        return t / slowdowns[-1]

    cache: dict = {}
    cells = []
    for cell in study.cells:
        rows = []
        for method in cell.methods:
            own = cell.tuned_by(method) == method  # with tune_with, the tuning runs belong to that one method
            runs = (tuning_runs(study, cell, method) if own else []) + (main_runs(study, cell, method, None) if not cell.tune else [])
            if cell.tune:  # main runs after tuning: as many as seeds, at the cell's epochs (unknown choice: 1st values)
                choice = _choice_from_disk(study, cell, method) or {k: v[0] for k, v in cell.tune.items()}
                runs += main_runs(study, cell, method, choice)
            measured = estimated = 0.0
            done_epochs = 0
            for run in runs:
                # a finished run (here or in the archive), else the finished epochs of an interrupted one
                history = (summary_of(run) or _read_json(run.out / "metrics.json")).get("epochs", [])
                measured += sum(e["epoch_time"] for e in history) / 60
                done_epochs += len(history)
                left = run.epochs - len(history)
                if left > 0:
                    key = json.dumps({k: v for k, v in run.options.items() if k not in ("seed", "epochs")}, sort_keys=True)
                    if key not in cache:
                        cache[key] = idle_step_ms(run.options)
                    n = min(EPOCH_IMAGES.get(cell.dataset, 54_000), run.options.get("max_train_samples") or 10**9)
                    batch = run.options.get("batch_size") or cache_batch(run.options)
                    estimated += left * (n // batch) * cache[key] / 1e3 / 60
            rows.append({"method": method, "runs": len(runs), "epochs_done": done_epochs,
                         "epochs_total": sum(r.epochs for r in runs), "measured_core_min": round(measured, 1),
                         "remaining_core_min_idle": round(estimated, 1)})
        cells.append({"model": cell.model, "dataset": cell.dataset, "epochs": cell.epochs, "methods": rows,
                      "measured_core_min": round(sum(r["measured_core_min"] for r in rows), 1),
                      "remaining_core_min_idle": round(sum(r["remaining_core_min_idle"] for r in rows), 1)})
    slowdown = statistics.median(slowdowns) if slowdowns else 1.0
    sfc = slowdown * REFERENCE_MS
    total_measured = sum(c["measured_core_min"] for c in cells)
    total_left = sum(c["remaining_core_min_idle"] for c in cells)
    doc = {"study": str(args.study), "sfc_step_ms_now": round(sfc, 2), "reference_ms": round(REFERENCE_MS, 2),
           "slowdown": round(slowdown, 2), "loadavg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
           "cells": cells, "measured_core_min": round(total_measured, 1), "remaining_core_min_idle": round(total_left, 1)}
    lines = [f"# Study plan: {Path(args.study).name}", "",
             f"Written by `benchmarks/study_plan.py`. Core-minutes of training (1 thread per run; `--jobs 2` takes about "
             f"half as long in wall time). Measured: the finished epochs' own times, from the run directories or the "
             f"study's archive (as measured on the machines that ran them, so inflated by their load: accuracy.md gives "
             f"each row's load average). Remaining: estimated from one timed step per configuration, normalised to an idle core by "
             f"SFC's baseline step timed around each configuration (median slow-down {slowdown:.2f}, from "
             f"{min(slowdowns or [1]):.2f} to {max(slowdowns or [1]):.2f}, against {REFERENCE_MS:.1f} ms idle; load "
             f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after).", "",
             "| cell | epochs | method | runs | epochs done | measured core-min | remaining core-min (idle) |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for c in cells:
        for r in c["methods"]:
            lines.append(f"| {c['model']}/{c['dataset']} | {c['epochs']} | {r['method']} | {r['runs']} | "
                         f"{r['epochs_done']}/{r['epochs_total']} | {r['measured_core_min']:.1f} | {r['remaining_core_min_idle']:.1f} |")
        lines.append(f"| **{c['model']}/{c['dataset']}** | | | | | **{c['measured_core_min']:.1f}** | **{c['remaining_core_min_idle']:.1f}** |")
    lines += ["", f"Total: {total_measured:.0f} core-minutes measured so far ({total_measured / 2 / 60:.1f} hours of wall "
              f"time with 2 jobs), {total_left:.0f} core-minutes (idle core) to go: about {total_left / 2 / 60:.1f} hours "
              "with 2 jobs on an otherwise idle 2-core CPU.", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(args.out / "study_plan.json", (json.dumps(doc, indent=1) + "\n").encode())
        atomic_write_bytes(args.out / "study_plan.md", (text + "\n").encode())
    return 0


def cache_batch(options: dict) -> int:
    from fpgabnn.train.config import TrainConfig

    return TrainConfig.from_dict({**options, "out": "unused", "epochs": 1}).resolve().batch_size


if __name__ == "__main__":
    sys.exit(main())
