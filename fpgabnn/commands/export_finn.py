"""fpgabnn export-finn: a build's hardware graph as finn-plus's dataflow graph, for FINN's backend flow."""

from __future__ import annotations

import json
from pathlib import Path

HELP = "write a build's hardware graph with finn-plus's own ops, so FINN's builder continues from step_hw_codegen"
EPILOG = """examples:
  fpgabnn export-finn build/tfc -o tfc_finn.onnx
  fpgabnn export-finn build/cnv -o cnv_finn.onnx --check 2
  fpgabnn export-finn build/tfc -o tfc_finn.onnx --check 0     # without finn-plus installed

Writes MODEL.onnx (the accelerator as finn-plus's dataflow partition: MVAU_hls, Thresholding_hls,
ConvolutionInputGenerator_rtl, Pool_hls, LabelSelect_hls, StreamingDataWidthConverter_rtl, StreamingFIFO_rtl
with this build's PE/SIMD and FIFO depths) and MODEL_folding.json (the same folding in FINN's config format).
With --check N (default 3) finn-plus (benchmarks/setup_finn_plus.sh) first loads every node, runs its own
step_hw_codegen on the graph and executes it in Python on N random inputs; nothing is written unless its
integers equal qonnx execution of the build's source model.
exit codes: 0 written, 1 finn-plus's execution differs (nothing written), 2 bad input.
"""


def add_arguments(p):
    p.add_argument("build_dir", help="directory written by `fpgabnn build`")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.onnx", help="finn-plus ONNX file to write")
    p.add_argument("--check", type=int, default=3, metavar="N",
                   help="inputs finn-plus executes before writing (default 3; 0 = no check, no finn-plus needed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random check inputs")
    p.add_argument("--skip-codegen", action="store_true",
                   help="check without finn-plus's step_hw_codegen (faster; loading and execution are still checked)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args) -> int:
    from fpgabnn.errors import UserError
    from fpgabnn.finn.handoff import export_build

    if args.check < 0:
        raise UserError(f"--check {args.check} is negative; pass 0 (no check) or a number of inputs")
    output = Path(args.output)
    if output.suffix != ".onnx":
        raise UserError(f"{output} does not end in .onnx; name the output MODEL.onnx")
    result = export_build(Path(args.build_dir), output, check=args.check, seed=args.seed,
                          codegen=not args.skip_codegen)
    if args.json:
        print(json.dumps(result, indent=2))
    elif result["written"]:
        checked = (f"; finn-plus executes it bit-exactly on {result['check']['samples']} inputs"
                   if result["check"] else "")
        print(f"wrote {output} ({result['layers']} finn-plus layers) and {result['folding']}{checked}")
    else:
        print(f"MISMATCH: finn-plus's execution differs from the source on {result['check']['mismatches']} of "
              f"{result['check']['samples']} inputs; nothing written")
    return 0 if result["written"] else 1
