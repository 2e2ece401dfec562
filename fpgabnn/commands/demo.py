"""fpgabnn demo: the whole flow on an embedded default, through the same commands a user runs."""

from __future__ import annotations

from pathlib import Path

HELP = "run the whole flow on a small default: train (MNIST, TFC, rotation), export, build, verify in C and RTL simulation"
EPILOG = """examples:
  fpgabnn demo --out runs/demo
  fpgabnn demo --out runs/demo --epochs 3 --max-train-samples 20000

Runs, in order:
  fpgabnn train --model tfc --method rotation --dataset mnist --epochs E --max-train-samples N --out OUT/train
  fpgabnn export OUT/train/last.pt -o OUT/tfc.onnx
  fpgabnn build OUT/tfc.onnx --board pynq-z2 --target-fps 100000 --out OUT/build
  fpgabnn verify OUT/build --samples 100
  fpgabnn verify OUT/build --sim rtl --samples 100
"""


def add_arguments(p):
    p.add_argument("--out", required=True, help="directory for every artefact of the run")
    p.add_argument("--epochs", type=int, default=3, help="training epochs (default 3)")
    p.add_argument("--max-train-samples", type=int, default=20000, help="training subset size (default 20000)")
    p.add_argument("--board", default="pynq-z2", help="target board (default pynq-z2)")
    p.add_argument("--samples", type=int, default=100, help="verification inputs (default 100)")


def run(args) -> int:
    from fpgabnn.cli import main

    out = Path(args.out)
    stages = [
        ("train", ["train", "--model", "tfc", "--method", "rotation", "--dataset", "mnist",
                   "--epochs", str(args.epochs), "--max-train-samples", str(args.max_train_samples),
                   "--out", str(out / "train")]),
        ("export", ["export", str(out / "train" / "last.pt"), "-o", str(out / "tfc.onnx")]),
        ("build", ["build", str(out / "tfc.onnx"), "--board", args.board, "--target-fps", "100000",
                   "--out", str(out / "build")]),
        ("verify", ["verify", str(out / "build"), "--samples", str(args.samples)]),
        ("verify", ["verify", str(out / "build"), "--sim", "rtl", "--samples", str(args.samples)]),
    ]
    for name, argv in stages:
        print(f"== fpgabnn {' '.join(argv)}", flush=True)
        code = main(argv)
        if code != 0:
            print(f"demo stopped: `fpgabnn {name}` exited with {code}")
            return code
    print(f"demo complete: artefacts in {out}")
    return 0
