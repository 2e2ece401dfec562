"""fpgabnn package: a zip with the bitstream, driver, validate.py, notebook and README for a PYNQ board."""

from __future__ import annotations

import json
from pathlib import Path

HELP = "zip a build for a PYNQ board: bitstream and .hwh (when built), driver, validate.py, notebook, README"
EPILOG = """examples:
  fpgabnn package build/tfc -o tfc-pynq-z2.zip
  fpgabnn package build/tfc -o tfc-pynq-z2.zip --test-set mnist --samples 10000
  scp tfc-pynq-z2.zip xilinx@pynq:  &&  ssh xilinx@pynq 'unzip tfc-pynq-z2.zip -d tfc && cd tfc && sudo python3 validate.py --dataset mnist_test.npz'

Refuses to overwrite an existing zip and to package a build of another fpgabnn version.
"""


def add_arguments(p):
    p.add_argument("build_dir", help="directory written by `fpgabnn build`")
    p.add_argument("-o", "--output", required=True, help="zip file to create (must not exist)")
    p.add_argument("--test-set", help="include a labelled test set as test_set.npz: a data set name (mnist, "
                   "fashion-mnist, ...; its test split) or an .npz with x and y")
    p.add_argument("--samples", type=int, default=10000, help="images of the test set to include (default 10000)")
    p.add_argument("--json", action="store_true", help="print {path, files, bitstream} as JSON")


def run(args) -> int:
    from fpgabnn.deploy.package import package_build

    from fpgabnn.errors import UserError

    if args.samples < 1:
        raise UserError(f"--samples {args.samples} is not positive; pass at least 1")
    result = package_build(Path(args.build_dir), Path(args.output), test_set=args.test_set, samples=args.samples)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        note = "" if result["bitstream"] else " (no bitstream yet: run vivado/build.tcl with Vivado, then package again)"
        print(f"wrote {result['path']}: {len(result['files'])} files{note}")
    return 0
