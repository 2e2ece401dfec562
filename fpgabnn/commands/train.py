"""fpgabnn train: train a binary network with a weight re-parametrisation; checkpoints, metrics, curves."""

from __future__ import annotations

import argparse

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

# Names listed in help text without importing torch (tests check they match the code).
MODEL_NAMES = ("tfc", "sfc", "lfc", "cnv", "cnv28", "resnet20", "resnet20-bireal")
METHOD_NAMES = ("baseline", "svd", "tucker", "holistic-tucker", "rotation", "tucker-rotation")
DATASET_NAMES = ("mnist", "fashion-mnist", "digits", "cifar10", "svhn", "imagefolder", "npz")
GRAD_NAMES = ("ste", "poly", "ede", "rbnn")

# (flag, dest, help). Values are parsed by TrainConfig, so bad values give one-line errors.
OPTIONS = (
    ("--model", "model", f"network: {', '.join(MODEL_NAMES)}"),
    ("--method", "method", f"weight parametrisation (default baseline): {', '.join(METHOD_NAMES)}"),
    ("--dataset", "dataset", f"data set: {', '.join(DATASET_NAMES)}"),
    ("--epochs", "epochs", "number of epochs"),
    ("--out", "out", "run directory (checkpoints, metrics, plots)"),
    ("--seed", "seed", "random seed (default 0); runs with one seed are identical on CPU"),
    ("--max-train-samples", "max_train_samples", "use only the first N training samples (quick runs)"),
    ("--max-val-samples", "max_val_samples", "cap validation/test samples (default: --max-train-samples)"),
    ("--val-fraction", "val_fraction", "fraction of the training data held out for validation (default 0.1)"),
    ("--batch-size", "batch_size", "mini-batch size (default 256 with SGD, 100 with Adam)"),
    ("--optimizer", "optimizer", "sgd or adam (default: adam for tfc/sfc/lfc/cnv/cnv28, sgd for the ResNets)"),
    ("--lr", "lr", "peak learning rate (default 0.1 SGD, 0.02 Adam)"),
    ("--momentum", "momentum", "SGD momentum (default 0.9)"),
    ("--weight-decay", "weight_decay", "weight decay (default 1e-4 SGD, 0 Adam)"),
    ("--schedule", "schedule", "cosine (default), step (x0.1 at 50%% and 75%%) or none"),
    ("--warmup-epochs", "warmup_epochs", "linear warm-up length in epochs, may be fractional (SGD default: min(5, 5%% of epochs))"),
    ("--scaling", "scaling", "weight scale: none (default), analytic (XNOR-Net) or learned"),
    ("--weight-grad", "weight_grad", f"sign gradient for weights: {', '.join(GRAD_NAMES)} (default ste)"),
    ("--act-grad", "act_grad", f"sign gradient for activations: {', '.join(GRAD_NAMES)} (default ste)"),
    ("--input-bits", "input_bits", "bits of the input pixels seen by the first layer (default 8)"),
    ("--data-dir", "data_dir", "where the data set files are (cifar10, svhn, imagefolder, npz; optional for mnist, fashion-mnist)"),
    ("--device", "device", "cpu (default) or cuda[:N]"),
    ("--workers", "workers", "background processes preparing batches (default 0; results do not depend on it)"),
)


def add_arguments(p):
    for flag, dest, text in OPTIONS:
        p.add_argument(flag, dest=dest, default=None, metavar=dest.split("_")[-1].upper(), help=text)
    p.add_argument("--aux", action=argparse.BooleanOptionalAction, default=None,
                   help="add the latent-weight auxiliary branch during training (our reading of Xu et al. 2021)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random crop + horizontal flip for 32x32 RGB data (default: on for cifar10)")
    p.add_argument("--method-option", dest="method_options", action="append", default=None, metavar="KEY=VALUE",
                   help="option of the parametrisation, repeatable (e.g. rank_ratio=0.5)")
    p.add_argument("--config", help="YAML or TOML file with the same option names; the command line overrides it")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from fpgabnn.train.config import TrainConfig, load_config_file, normalise_keys
    from fpgabnn.train.trainer import Trainer

    values = load_config_file(args.config) if args.config else {}
    given = {dest: getattr(args, dest) for _, dest, _ in OPTIONS if getattr(args, dest) is not None}
    for dest in ("aux", "augment"):
        if getattr(args, dest) is not None:
            given[dest] = getattr(args, dest)
    if args.method_options is not None:
        given["method_options"] = args.method_options
    given = normalise_keys(given, "the command line")
    if "method_options" in given and "method_options" in values:
        given["method_options"] = {**values["method_options"], **given["method_options"]}
    values.update(given)
    config = TrainConfig.from_dict(values)
    trainer = Trainer(config, resume=args.resume, explicit=set(values), progress=False if args.no_progress else None)
    result = trainer.fit()
    c = trainer.config
    best = f"{result.best_val_acc:.4f}" if result.history else "n/a"
    test = f", test acc {result.test['test_acc']:.4f}" if result.test else ""
    print(f"{c.model}/{c.method} on {c.dataset}: best val acc {best}{test}; outputs in {result.out}")
    return 0
