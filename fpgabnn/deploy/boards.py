"""Target boards: part, default clock and PL resource budget, read from one TOML file per board in ``boards/``.

A user's own board passes as the path of a file in the same format (``--board my-board.toml``); every field
is checked and the first bad one named. The files live at the top of the repository (beside ``hls_templates/``); an installed wheel carries them as
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


#: processing systems: the Vivado IP of each and the widths its PL-to-DDR (HP) slave ports accept
PS_TYPES = {"ps7": ("processing_system7", (32, 64)), "ps8": ("zynq_ultra_ps_e", (32, 64, 128))}
FAMILY_PS = {"zynq-7000": "ps7", "zynq-ultrascale-plus": "ps8"}


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
    ps: str = "ps7"
    board_part: str = ""
    path: str = ""

    @property
    def bram36(self) -> int:
        """Block RAMs in 36 Kb units, as product tables count them."""
        return self.resources["BRAM18"] // 2

    @property
    def ps_ip(self) -> str:
        """The Vivado IP of the processing system (processing_system7 or zynq_ultra_ps_e)."""
        return PS_TYPES[self.ps][0]


def boards_dir() -> Path:
    for d in BOARD_DIRS:
        if d.is_dir() and any(d.glob("*.toml")):
            return d
    raise UserError(f"no board files found in {' or '.join(map(str, BOARD_DIRS))}; reinstall fpgabnn")


def _board_names() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.toml"))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse(path: Path, builtin: bool = True) -> Board:
    """Read and check a board file field by field; the first bad field is named in a UserError."""

    def bad(what: str) -> UserError:
        return UserError(f"board file {path}: {what}; fix the file (see boards/pynq-z2.toml for the format)")

    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise bad(f"invalid TOML ({err})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise bad(f"cannot be read ({type(err).__name__})") from None
    for key in ("name", "part", "family", "ps", "clock_mhz", "axi_port_width", "resources"):
        if key not in data:
            raise bad(f"field '{key}' is missing")
    for key in ("name", "part", "family", "ps"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise bad(f"field '{key}' must be a non-empty string")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", data["name"]):
        raise bad(f"field 'name' ('{data['name']}') must be lower-case letters, digits and '-'")
    if builtin and data["name"] != path.stem:
        raise bad(f"field 'name' ('{data['name']}') differs from the file name")
    if not re.fullmatch(r"x[a-z0-9]+-[a-z0-9-]+", data["part"], flags=re.IGNORECASE):
        raise bad(f"field 'part' ('{data['part']}') is not a Xilinx part string like xc7z020clg400-1")
    if data["family"] not in FAMILY_PS:
        raise bad(f"field 'family' ('{data['family']}') must be one of {', '.join(FAMILY_PS)}")
    if data["ps"] not in PS_TYPES:
        raise bad(f"field 'ps' ('{data['ps']}') must be one of {', '.join(PS_TYPES)}")
    if FAMILY_PS[data["family"]] != data["ps"]:
        raise bad(f"field 'ps' ('{data['ps']}') does not match family '{data['family']}' "
                  f"(needs {FAMILY_PS[data['family']]})")
    clock = data["clock_mhz"]
    if not isinstance(clock, (int, float)) or isinstance(clock, bool) or not 0 < clock <= 1000:
        raise bad("field 'clock_mhz' must be a number of MHz in (0, 1000]")
    width, widths = data["axi_port_width"], PS_TYPES[data["ps"]][1]
    if not _is_int(width) or width not in widths:
        raise bad(f"field 'axi_port_width' ({width!r}) must be one of {', '.join(map(str, widths))} "
                  f"bits for {data['ps']}")
    res = data["resources"]
    if not isinstance(res, dict):
        raise bad("field 'resources' must be a table [resources]")
    for r in RESOURCES:
        if r not in res:
            raise bad(f"field 'resources.{r}' is missing ([resources] lacks {r})")
        if not _is_int(res[r]) or res[r] < 0:
            raise bad(f"field 'resources.{r}' must be a non-negative integer")
    for key, kind in (("display_name", str), ("board_part", str), ("notes", list), ("sources", dict)):
        if key in data and not isinstance(data[key], kind):
            raise bad(f"field '{key}' must be a {'string' if kind is str else kind.__name__}")
    return Board(
        name=data["name"],
        display_name=data.get("display_name", data["name"]),
        part=data["part"],
        family=data["family"],
        clock_mhz=float(clock),
        axi_port_width=int(width),
        resources={r: int(res[r]) for r in RESOURCES},
        notes=tuple(map(str, data.get("notes", ()))),
        sources=dict(data.get("sources", {})),
        ps=data["ps"],
        board_part=data.get("board_part", ""),
        path=str(path),
    )


def load_board(name: str) -> Board:
    """The board called ``name`` (case-insensitive; ``PYNQ-Z2`` and ``pynq_z2`` also work), or a user's own
    board file when ``name`` is a path to a ``.toml`` file."""
    text = str(name).strip()
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text)
        if not path.is_file():
            raise UserError(f"board file {path} does not exist; pass a board name or the path of a board .toml file")
        return _parse(path, builtin=False)
    known = _board_names()
    key = re.sub(r"[_\s]+", "-", text.lower())
    if key not in known:
        raise UserError(f"unknown board '{name}'; choose one of {', '.join(known)} or pass a board .toml file")
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
