"""Board files: every board loads, its numbers are consistent with the cited product tables, and unknown
boards are refused with the list of known ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fpgabnn.deploy import boards
from fpgabnn.deploy.boards import BOARDS, RESOURCES, load_board
from fpgabnn.errors import UserError

REQUIRED = {"pynq-z2", "pynq-z1", "zcu104", "ultra96-v2", "kv260", "aup-zu3"}


def test_required_boards_present():
    assert REQUIRED <= set(BOARDS)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_board_loads_with_budget_and_sources(name):
    board = load_board(name)
    assert board.name == name
    assert board.part.startswith(("xc7z", "xczu", "xck26"))
    assert board.clock_mhz > 0
    assert set(board.resources) == set(RESOURCES)
    assert all(board.resources[r] > 0 for r in ("LUT", "FF", "BRAM18", "DSP"))
    # every 7-series / UltraScale+ CLB has two flip-flops per LUT
    assert board.resources["FF"] == 2 * board.resources["LUT"]
    assert board.resources["BRAM18"] % 2 == 0 and board.bram36 == board.resources["BRAM18"] // 2
    assert {"part", "resources"} <= set(board.sources)
    assert board.notes


def test_known_device_figures():
    """Spot checks against the product tables the files cite."""
    z2 = load_board("pynq-z2")
    assert (z2.resources["LUT"], z2.bram36, z2.resources["DSP"], z2.resources["URAM"]) == (53200, 140, 220, 0)
    assert load_board("pynq-z1").resources == z2.resources
    assert load_board("zcu104").resources["URAM"] == 96
    assert load_board("kv260").resources["LUT"] == 117120
    assert load_board("ultra96-v2").part == "xczu3eg-sbva484-1-i"
    aup = load_board("aup-zu3")  # FINN pynq_part_map['AUP-ZU3_8GB']; ZU3EG fabric as the Ultra96-V2
    assert aup.part == "xczu3eg-sfvc784-2-e" and aup.resources == load_board("ultra96-v2").resources


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_processing_system_and_dma_width_follow_the_family(name):
    """Zynq-7000: processing_system7, 64-bit HP port; UltraScale+: zynq_ultra_ps_e, 128-bit HP port
    (FINN's pynq_native_port_width)."""
    board = load_board(name)
    if board.part.startswith("xc7z"):
        assert (board.family, board.ps, board.ps_ip, board.axi_port_width) == (
            "zynq-7000", "ps7", "processing_system7", 64)
    else:
        assert (board.family, board.ps, board.ps_ip, board.axi_port_width) == (
            "zynq-ultrascale-plus", "ps8", "zynq_ultra_ps_e", 128)
    assert board.board_part.count(":") == 3 and {"ps", "axi_port_width", "board_part"} <= set(board.sources)


@pytest.mark.parametrize("spelling", ["PYNQ-Z2", "pynq_z2", " pynq-z2 "])
def test_board_name_spellings(spelling):
    assert load_board(spelling).name == "pynq-z2"


def test_unknown_board_lists_known_ones():
    with pytest.raises(UserError) as err:
        load_board("pynq-z3")
    message = str(err.value)
    assert "pynq-z3" in message
    assert all(name in message for name in REQUIRED)


def test_bad_board_file_is_a_user_error(tmp_path, monkeypatch):
    (tmp_path / "tiny.toml").write_text('name = "tiny"\npart = "xc7z010clg400-1"\nclock_mhz = 100\n'
                                        '[resources]\nLUT = 17600\nFF = 35200\n')
    monkeypatch.setattr(boards, "BOARD_DIRS", (tmp_path,))
    with pytest.raises(UserError, match="field 'family' is missing"):
        load_board("tiny")
    (tmp_path / "tiny.toml").write_text("name = [\n")
    with pytest.raises(UserError, match="invalid TOML"):
        load_board("tiny")


GOOD = (Path(boards.boards_dir()) / "pynq-z2.toml").read_text()


def _mutate(text: str, key: str, value: str | None) -> str:
    """The pynq-z2 file with top-level or [resources] ``key`` set to ``value`` (None deletes the line)."""
    lines = []
    for line in text.splitlines():
        if line.split("=")[0].strip() == key:
            if value is None:
                continue
            line = f"{key} = {value}"
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("key, value, field", [
    ("part", None, "part"), ("ps", None, "ps"), ("clock_mhz", None, "clock_mhz"),
    ("axi_port_width", None, "axi_port_width"), ("family", None, "family"), ("LUT", None, "resources.LUT"),
    ("ps", '"ps9"', "ps"), ("ps", '"ps8"', "ps"), ("family", '"virtex"', "family"),
    ("part", '"not a part"', "part"), ("clock_mhz", '"fast"', "clock_mhz"), ("clock_mhz", "-5", "clock_mhz"),
    ("axi_port_width", "128", "axi_port_width"), ("axi_port_width", "true", "axi_port_width"),
    ("DSP", "-1", "resources.DSP"), ("BRAM18", "2.5", "resources.BRAM18"), ("name", '"My Board"', "name"),
    ("board_part", "3", "board_part"),
])
def test_user_board_file_is_checked_field_by_field(tmp_path, key, value, field):
    path = tmp_path / "mine.toml"
    path.write_text(_mutate(GOOD, key, value))
    with pytest.raises(UserError) as err:
        load_board(str(path))
    message = str(err.value)
    assert f"'{field}'" in message and str(path) in message and "\n" not in message


def test_user_board_file_loads_by_path(tmp_path):
    path = tmp_path / "my-z2.toml"
    path.write_text(_mutate(_mutate(GOOD, "name", '"my-z2"'), "clock_mhz", "125.0"))
    board = load_board(str(path))
    assert (board.name, board.clock_mhz, board.part, board.path) == ("my-z2", 125.0, "xc7z020clg400-1", str(path))


def test_boards_command_table_json_and_bad_board(tmp_path, capsys):
    from fpgabnn.cli import main

    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in REQUIRED) and "xczu3eg-sfvc784-2-e" in out
    assert main(["boards", "--json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(records) == set(BOARDS) and records["aup-zu3"]["ps_ip"] == "zynq_ultra_ps_e"
    assert records["pynq-z2"]["axi_port_width"] == 64
    bad = tmp_path / "bad.toml"
    bad.write_text(_mutate(GOOD, "ps", None))
    for argv in (["boards", "--board", "pynq-z9"], ["boards", "--board", str(bad)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ")
