"""Target boards: part, default clock and PL resource budget, read from one TOML file per board in ``boards/``.

The files live at the top of the repository (beside ``hls_templates/``); an installed wheel carries them as
``fpgabnn/boards/*.toml`` package data, which is looked at first. Each file cites the Xilinx product table
its numbers come from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from fpgabnn.errors import UserError

#: resources every board file declares, in report order (BRAM counted in 18 Kb halves, the unit estimates use)
RESOURCES = ("LUT", "FF", "BRAM18", "DSP", "URAM")

_PACKAGE = Path(__file__).resolve().parents[1]
#: wheel install (package data) first, then a source checkout; the checkout is recognised by its pyproject
BOARD_DIRS = (_PACKAGE / "boards",) + (
    (_PACKAGE.parent / "boards",) if (_PACKAGE.parent / "pyproject.toml").is_file() else ())


@dataclass(frozen=True)
class Board:
    name: str
    display_name: str
    part: str
    family: str
    clock_mhz: float
    axi_port_width: int
    resources: dict = field(hash=False)
    notes: tuple = ()
    sources: dict = field(default_factory=dict, hash=False)

    @property
    def bram36(self) -> int:
        """Block RAMs in 36 Kb units, as product tables count them."""
        return self.resources["BRAM18"] // 2


def boards_dir() -> Path:
    for d in BOARD_DIRS:
        if d.is_dir() and any(d.glob("*.toml")):
            return d
    raise UserError(f"no board files found in {' or '.join(map(str, BOARD_DIRS))}; reinstall fpgabnn")


def _board_names() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.toml"))


def _parse(path: Path) -> Board:
    def bad(what: str) -> UserError:
        return UserError(f"board file {path}: {what}; fix the file (see boards/pynq-z2.toml for the format)")

    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise bad(f"invalid TOML ({err})") from None
    missing = [k for k in ("name", "part", "clock_mhz", "resources") if k not in data]
    if missing:
        raise bad(f"missing {', '.join(missing)}")
    if data["name"] != path.stem:
        raise bad(f"name '{data['name']}' differs from the file name")
    res = data["resources"]
    absent = [r for r in RESOURCES if r not in res]
    if absent:
        raise bad(f"[resources] lacks {', '.join(absent)}")
    if any(not isinstance(res[r], int) or isinstance(res[r], bool) or res[r] < 0 for r in RESOURCES):
        raise bad("resource counts must be non-negative integers")
    clock = data["clock_mhz"]
    if not isinstance(clock, (int, float)) or clock <= 0:
        raise bad("clock_mhz must be a positive number")
    return Board(
        name=data["name"],
        display_name=data.get("display_name", data["name"]),
        part=data["part"],
        family=data.get("family", ""),
        clock_mhz=float(clock),
        axi_port_width=int(data.get("axi_port_width", 64)),
        resources={r: int(res[r]) for r in RESOURCES},
        notes=tuple(data.get("notes", ())),
        sources=dict(data.get("sources", {})),
    )


def load_board(name: str) -> Board:
    """The board called ``name`` (case-insensitive; ``PYNQ-Z2`` and ``pynq_z2`` also work)."""
    known = _board_names()
    key = re.sub(r"[_\s]+", "-", str(name).strip().lower())
    if key not in known:
        raise UserError(f"unknown board '{name}'; choose one of {', '.join(known)}")
    return _parse(boards_dir() / f"{key}.toml")


def list_boards() -> list[Board]:
    return [load_board(n) for n in _board_names()]


def _known() -> list[str]:
    try:
        return _board_names()
    except UserError:  # reported when a board is asked for, not at import
        return []


#: names of the known boards (the files in boards/), for CLI choices and help texts
BOARDS = _known()
