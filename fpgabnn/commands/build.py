"""fpgabnn build: QONNX -> folded XNOR-popcount dataflow accelerator (HLS C++, TCL, testbench) + report."""

from __future__ import annotations

import json
import time
from pathlib import Path

HELP = "compile a binary QONNX model into a streaming dataflow accelerator (HLS C++) with estimates"
EPILOG = """examples:
  fpgabnn build tfc.onnx --board pynq-z2 --target-fps 100000 --out build/tfc
  fpgabnn build cnv.onnx --board pynq-z2 --folding folding.json --out build/cnv
  fpgabnn build cnv_1w1a_brevitas.onnx --pixel-range unit --out build/cnv   # Brevitas BNN-PYNQ model ([0,1] input)

The output directory holds model_source.onnx (the tidied reference), model_hw.onnx (hardware layers; opens in
Netron; with the width converters, FIFOs and AXI-Stream ports as nodes), folding_config.json (FINN's format),
hls/ (sources, testbench, Vitis HLS TCL), report.json/report.txt and charts, and with --host-threshold the
host-side input table host_threshold.npz. It is written to a temporary directory and renamed only when everything succeeded.
"""

DEFAULT_TARGET_FPS = 10_000.0


def add_arguments(p):
    p.add_argument("model", help="QONNX model (.onnx) from `fpgabnn export` or Brevitas' export_qonnx")
    p.add_argument("--board", default="pynq-z2", help="target board (see boards/); default pynq-z2")
    p.add_argument("--out", required=True, help="build directory to create (replaced only if it is an earlier fpgabnn build)")
    fold = p.add_mutually_exclusive_group()
    fold.add_argument("--target-fps", type=float, help=f"frames per second to reach at the board clock (default {DEFAULT_TARGET_FPS:g})")
    fold.add_argument("--folding", help="folding config JSON (FINN format: {node: {PE, SIMD}})")
    p.add_argument("--clock-mhz", type=float, help="override the board's default clock")
    p.add_argument("--backend", choices=["hls", "rtl", "both"], default="both",
                   help="code generators: hls (HLS C++ for Vitis HLS), rtl (Verilog, simulated with Verilator), both (default)")
    p.add_argument("--pixel-range", choices=["raw", "unit"], default="raw",
                   help="raw: the model takes 0..255 pixels (fpgabnn export); unit: it takes [0,1] (Brevitas BNN-PYNQ)")
    p.add_argument("--topk", type=int, default=0,
                   help="append a top-k label select in hardware (needs a ranking-preserving output tail); 0 = integer outputs")
    p.add_argument("--host-threshold", action="store_true",
                   help="run the input quantiser (the first Thresholding) on the host: the stream carries its output "
                        "bits (TFC: 13 instead of 98 beats of 64 bits); the table is written to host_threshold.npz")
    p.add_argument("--top-name", default="bnn_top", help="name of the generated top-level function")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")


def run(args) -> int:
    from fpgabnn.builder import build

    report = build(
        model_path=Path(args.model),
        out_dir=Path(args.out),
        board_name=args.board,
        target_fps=args.target_fps,
        folding_file=Path(args.folding) if args.folding else None,
        clock_mhz=args.clock_mhz,
        pixel_range=args.pixel_range,
        top_name=args.top_name,
        topk=args.topk,
        quiet=args.json,
        backend=args.backend,
        host_threshold=args.host_threshold,
    )
    if args.json:
        print(json.dumps(report, indent=2))
    return 0
