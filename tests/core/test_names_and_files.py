"""Safe identifiers for generated code, and outputs that are never half-written."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgabnn.core.fileio import atomic_output_dir, atomic_write_bytes
from fpgabnn.core.names import safe_identifier
from fpgabnn.errors import UserError

IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@given(st.text(min_size=0, max_size=80))
def test_any_name_becomes_a_c_verilog_tcl_identifier(name):
    ident = safe_identifier(name)
    assert IDENT.match(ident), ident
    assert ident.lower() not in {"module", "int", "void", "wire", "reg", "for"}


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_distinct_names_stay_distinct(a, b):
    if a != b:
        assert safe_identifier(a) != safe_identifier(b)


def test_clean_names_are_kept_and_hostile_ones_neutralised():
    assert safe_identifier("MVAU_3") == "MVAU_3"
    hostile = safe_identifier('x"; system("rm -rf /"); //')
    assert IDENT.match(hostile) and '"' not in hostile and ";" not in hostile
    assert safe_identifier("module").startswith("n_module")
    assert safe_identifier("3x").startswith("n_3x")


def test_atomic_output_dir_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_output_dir(final) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_dir_replaces_only_on_success(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output_dir(final, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
            raise RuntimeError("boom")
    assert (final / "old.txt").read_text() == "old"
    with atomic_output_dir(final, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_write_refuses_a_file_as_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="is a file"):
        atomic_write_bytes(blocker / "model.onnx", b"data")
    atomic_write_bytes(tmp_path / "model.onnx", b"data")
    assert (tmp_path / "model.onnx").read_bytes() == b"data"


def test_cli_help_lists_every_command(capsys):
    from fpgabnn.cli import COMMANDS, main

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert command in text
    assert "examples:" in text
