"""The ``fpgabnn`` command: one sub-command per stage of the flow.

Each sub-command lives in ``fpgabnn/commands/<name>.py`` and provides ``HELP`` (one line),
``EPILOG`` (examples), ``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported
only when their command runs, so ``fpgabnn --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from fpgabnn.errors import UserError

#: one sub-command per module in fpgabnn/commands/ (a dash in the command is an underscore in the module name)
COMMANDS = (
    "train",
    "experiment",
    "export",
    "inspect",
    "build",
    "verify",
    "estimate",
    "boards",
    "package",
    "export-finn",
    "demo",
)

_EPILOG = """examples:
  fpgabnn train --model tfc --method rotation --dataset mnist --epochs 2 --out runs/tfc
  fpgabnn export runs/tfc/last.pt -o tfc.onnx
  fpgabnn build tfc.onnx --board pynq-z2 --target-fps 100000 --out build/tfc
  fpgabnn verify build/tfc --samples 100
"""


def _load(name: str):
    return importlib.import_module(f"fpgabnn.commands.{name.replace('-', '_')}")


def build_parser(load_commands=COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fpgabnn",
        description="Binary neural networks from training to FPGA: train, export to QONNX, "
        "compile to an XNOR-popcount dataflow accelerator, simulate bit-exactly.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from fpgabnn import __version__

    parser.add_argument("--version", action="version", version=f"fpgabnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in load_commands:
        module = _load(name)
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.HELP,
            epilog=getattr(module, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Only import the command that runs (and all of them for the top-level --help).
    wanted = [a for a in argv if a in COMMANDS][:1] or list(COMMANDS)
    try:
        parser = build_parser(wanted)
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        return int(args._run(args) or 0)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `fpgabnn build ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
