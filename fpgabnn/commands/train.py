"""fpgabnn train: train a binary network with a weight re-parametrisation; checkpoints, metrics, curves."""

from __future__ import annotations

import argparse

# Re-exported for the help-text test; config.py imports no torch, so `fpgabnn train --help` stays fast.
from fpgabnn.train.config import DATASET_NAMES, GRAD_NAMES, METHOD_NAMES, MODEL_NAMES  # noqa: F401

HELP = "train a binary neural network (baseline, SVD, Tucker, holistic Tucker, RBNN rotation)"
EPILOG = """examples:
  fpgabnn train --model tfc --method baseline --dataset mnist --epochs 2 --out runs/tfc
  fpgabnn train --model lfc --method svd --method-option rank_ratio=0.5 --dataset mnist --epochs 10 --out runs/lfc-svd
  fpgabnn train --model cnv --method rotation --act-grad rbnn --weight-grad rbnn --dataset cifar10 \\
      --data-dir ~/data --epochs 200 --out runs/cnv-rbnn
  fpgabnn train --config run.yaml --epochs 50        # file options, the command line wins
  fpgabnn train --out runs/cnv-rbnn --resume          # continue where last.pt stopped

Writes DIR/last.pt and DIR/best.pt (atomic, every epoch), DIR/metrics.csv, DIR/metrics.json and
DIR/curves.png. Defaults: Adam (lr 0.02, no weight decay, batch 100, cosine) for BNN-PYNQ's tfc, sfc, lfc,
cnv, cnv28 (uniform(-1,1) initial weights, which SGD at lr 0.1 barely moves); SGD (momentum 0.9, lr 0.1,
weight decay 1e-4, batch 256, cosine with warm-up) for the ResNets, as in RBNN.
--resume continues exactly (bit for bit) from an epoch boundary; Ctrl-C saves the state after the
current step, and resuming from that restarts the interrupted epoch. Data is never downloaded: see
--data-dir. --workers N prepares batches in N background processes (same batches as with 0).
"""

SPECIAL = ("method_options",)  # repeatable KEY=VALUE


def options():
    """(flag, field) for every TrainConfig field: the command line is derived from the dataclass."""
    import dataclasses

    from fpgabnn.train.config import TrainConfig

    return [(f"--{f.name.replace('_', '-')}", f) for f in dataclasses.fields(TrainConfig)]


def add_arguments(p):
    from fpgabnn.train.config import _kind

    for flag, f in options():
        text = f.metadata.get("help", "")
        if f.name == "method_options":
            p.add_argument("--method-option", dest=f.name, action="append", default=None, metavar="KEY=VALUE",
                           help=text)
        elif _kind(f.name) is bool:
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            # Values stay strings here and are typed by TrainConfig, so bad values give one-line errors.
            p.add_argument(flag, dest=f.name, default=None, metavar=f.name.split("_")[-1].upper(), help=text)
    p.add_argument("--config", help="YAML or TOML file with the same option names; the command line overrides it")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args) -> dict:
    """Options from --config, overridden by those given on the command line (normalised, typed)."""
    from fpgabnn.train.config import load_config_file, normalise_keys

    values = load_config_file(args.config) if args.config else {}
    given = {f.name: getattr(args, f.name) for _, f in options() if getattr(args, f.name, None) is not None}
    given = normalise_keys(given, "the command line")
    if "method_options" in given and "method_options" in values:
        given["method_options"] = {**values["method_options"], **given["method_options"]}
    values.update(given)
    return values


def run(args) -> int:
    from fpgabnn.train.config import TrainConfig
    from fpgabnn.train.trainer import Trainer

    values = config_from_args(args)
    config = TrainConfig.from_dict(values)
    trainer = Trainer(config, resume=args.resume, explicit=set(values), progress=False if args.no_progress else None)
    result = trainer.fit()
    c = trainer.config
    best = f"{result.best_val_acc:.4f}" if result.history else "n/a"
    test = f", test acc {result.test['test_acc']:.4f}" if result.test else ""
    print(f"{c.model}/{c.method} on {c.dataset}: best val acc {best}{test}; outputs in {result.out}")
    return 0
