"""fpgabnn verify: simulate a build on many inputs and compare every output with qonnx execution of the source."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HELP = "check a build bit-exactly: C or RTL simulation vs qonnx execution of the source model"
EPILOG = """examples:
  fpgabnn verify build/tfc --samples 100
  fpgabnn verify build/cnv --samples 200 --json
  fpgabnn verify build/tfc --model tfc.onnx      # compare against another reference model
  fpgabnn verify build/tfc --sim rtl --samples 200 --stall --json   # Verilator, with random stalls
  fpgabnn verify build/tfc --junit verify.xml     # JUnit XML for CI test reports

exit codes: 0 all outputs identical, 1 any mismatch (listed) or a deadlock of the RTL simulation, 2 bad input,
3 internal failure (a compile error or a simulator crash; one line says which).
"""

#: exit codes, one meaning each
EXIT_EXACT, EXIT_MISMATCH, EXIT_INTERNAL = 0, 1, 3


def add_arguments(p):
    from fpgabnn.verify import SIMULATORS

    p.add_argument("build_dir", help="directory written by `fpgabnn build`")
    p.add_argument("--samples", type=int, default=100, help="number of random inputs over the model's input range (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--model", help="reference QONNX model (default: the model the build came from)")
    p.add_argument("--sim", choices=sorted(SIMULATORS), default="csim",
                   help="csim: C simulation of hls/ with g++ (default); rtl: cycle-accurate Verilator simulation of rtl/")
    p.add_argument("--batch", type=int, help="frames per DMA transfer: TLAST after every BATCH frames (default all)")
    p.add_argument("--json", action="store_true", help="print {bit_exact, samples, mismatches, ...} as JSON")
    p.add_argument("--stall", action="store_true", help="rtl: random idle input cycles and output back-pressure")
    p.add_argument("--trace", action="store_true", help="rtl: write an FST waveform to rtl/sim/trace.fst")
    p.add_argument("--jobs", type=int, help="rtl: simulator processes, each streaming a consecutive share of the "
                   "frames (default: one per CPU core; at least 32 frames each)")
    p.add_argument("--junit", metavar="FILE", help="also write the result as JUnit XML (one test case per comparison)")


def run(args) -> int:
    from fpgabnn.errors import SimulationError, UserError
    from fpgabnn.sim.rtlsim import Deadlock
    from fpgabnn.verify import verify_build

    if args.junit:  # refuse an unwritable report path before the (long) simulation
        from fpgabnn.core.fileio import check_writable_target

        check_writable_target(Path(args.junit))
    reference = Path(args.model) if args.model else None
    try:
        result = verify_build(Path(args.build_dir), samples=args.samples, seed=args.seed,
                              reference=reference, quiet=args.json, sim=args.sim,
                              batch=args.batch, stall=args.stall, trace=args.trace,
                              jobs=args.jobs)
    except Deadlock as err:
        print(f"error: RTL simulation {err}", file=sys.stderr)
        return EXIT_MISMATCH
    except SimulationError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"internal failure (not a mismatch): {first}", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as err:  # a bug, not a verdict: one line, never read as a mismatch
        from fpgabnn.errors import UserError

        if isinstance(err, UserError) or os.environ.get("FPGABNN_DEBUG"):
            raise
        print(f"internal failure (not a mismatch): {type(err).__name__}: {err}; "
              "set FPGABNN_DEBUG=1 for the traceback", file=sys.stderr)
        return EXIT_INTERNAL
    if args.junit:
        from fpgabnn.core.junit import write_verify_junit

        write_verify_junit(result, Path(args.junit))
    if args.json:
        print(json.dumps(result, indent=2))
    return EXIT_EXACT if result["bit_exact"] else EXIT_MISMATCH
