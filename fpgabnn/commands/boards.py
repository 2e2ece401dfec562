"""fpgabnn boards: the target boards fpgabnn knows (part, processing system, clock, DMA width, PL resources)."""

from __future__ import annotations

import json

HELP = "list the target boards: part, processing system, clock, DMA width and PL resources"
EPILOG = """examples:
  fpgabnn boards
  fpgabnn boards --json
  fpgabnn boards --board my-board.toml      # check a board file of your own, field by field

A board file of your own (same format as boards/pynq-z2.toml) works everywhere a board name does:
  fpgabnn build tfc.onnx --board my-board.toml --out build/tfc
"""


def add_arguments(p):
    p.add_argument("--board", help="show only this board (a name or the path of a board .toml file)")
    p.add_argument("--json", action="store_true", help="print the boards as a JSON list")


def board_record(board) -> dict:
    return {"name": board.name, "display_name": board.display_name, "part": board.part, "family": board.family,
            "ps": board.ps, "ps_ip": board.ps_ip, "board_part": board.board_part, "clock_mhz": board.clock_mhz,
            "axi_port_width": board.axi_port_width, "resources": dict(board.resources),
            "sources": dict(board.sources), "path": board.path}


def run(args) -> int:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from fpgabnn.deploy.boards import RESOURCES, list_boards, load_board

    boards = [load_board(args.board)] if args.board else list_boards()
    if args.json:
        print(json.dumps([board_record(b) for b in boards], indent=2))
        return 0
    table = Table(box=box.SIMPLE_HEAD)
    for col in ("board", "name", "part", "PS", "clock MHz", "DMA bits", *RESOURCES):
        table.add_column(col, justify="right" if col not in ("board", "name", "part", "PS") else "left")
    for b in boards:
        table.add_row(b.name, b.display_name, b.part, b.ps, f"{b.clock_mhz:g}", str(b.axi_port_width),
                      *(f"{b.resources[r]:,}" for r in RESOURCES))
    Console(width=160).print(table)
    return 0
