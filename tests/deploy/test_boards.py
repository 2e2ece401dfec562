"""Board files: every board loads, its numbers are consistent with the cited product tables, and unknown
boards are refused with the list of known ones."""

from __future__ import annotations

import pytest

from fpgabnn.deploy import boards
from fpgabnn.deploy.boards import BOARDS, RESOURCES, load_board
from fpgabnn.errors import UserError

REQUIRED = {"pynq-z2", "pynq-z1", "zcu104", "ultra96-v2", "kv260"}


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
    with pytest.raises(UserError, match="lacks BRAM18"):
        load_board("tiny")
    (tmp_path / "tiny.toml").write_text("name = [\n")
    with pytest.raises(UserError, match="invalid TOML"):
        load_board("tiny")
