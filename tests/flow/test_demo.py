"""`fpgabnn demo`, the README's first command, end to end on a small budget: train, export, build, and verify in
C and RTL simulation, each stage through the command a user runs."""

from __future__ import annotations

import json

from fpgabnn.cli import main


def test_demo_runs_every_stage(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "1", "--max-train-samples", "600", "--samples", "10"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("== fpgabnn ") == 5 and "demo complete" in printed
    assert (out / "tfc.onnx").is_file() and (out / "build" / "rtl" / "manifest.json").is_file()
    meta = json.loads((out / "build" / "build.json").read_text())
    assert meta["backend"] == "both"
