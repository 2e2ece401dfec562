"""RTL simulation of whole builds (Verilator): Brevitas' BNN-PYNQ TFC/SFC/LFC/CNV with adversarial BatchNorm are
bit-exact against qonnx execution of the source, with and without random stalls, and the measured cycles per
frame are within 5% (both ways) of the cycles per frame the report promises (the modelled pipeline with its sized
FIFOs, fifo_sizing.py), and no FIFO holds more than its depth."""

from __future__ import annotations

import json

import pytest

from fpgabnn.cli import main

CASES = [  # (model, target fps, samples): CNV's simulator build is the expensive part, so few samples
    ("tfc_1w1a", "1000000", 40),
    ("sfc_1w1a", "200000", 20),
    ("lfc_1w1a", "50000", 12),
    ("cnv_1w1a", "10000", 4),
]


@pytest.mark.parametrize("name,fps,samples", CASES, ids=[c[0] for c in CASES])
def test_rtl_simulation_bit_exact_and_at_the_estimated_rate(brevitas_qonnx, tmp_path, capsys, name, fps, samples):
    path, _ = brevitas_qonnx(name)
    out = tmp_path / "build"
    assert main(["build", str(path), "--pixel-range", "unit", "--target-fps", fps, "--backend", "rtl",
                 "--out", str(out), "--json"]) == 0
    assert not (out / "hls").exists() and (out / "rtl" / "manifest.json").is_file()
    capsys.readouterr()
    assert main(["verify", str(out), "--sim", "rtl", "--samples", str(samples), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["bit_exact"] and res["mismatch_count"] == 0 and res["samples"] == samples
    assert res["in_port_width"] == res["out_port_width"] == 64
    assert res["cycles_per_frame"] == pytest.approx(res["estimated_cycles_per_frame"], rel=0.05), res
    assert res["fps"] == pytest.approx(1e8 / res["cycles_per_frame"])
    for fifo, peak in res["fifo_max_occupancy"].items():  # a FIFO holds at most its depth
        assert peak <= res["fifo_depths"][fifo]
    if name in ("tfc_1w1a", "cnv_1w1a"):  # random idle input cycles and output back-pressure: still exact
        capsys.readouterr()
        assert main(["verify", str(out), "--sim", "rtl", "--samples", str(samples), "--stall", "--json"]) == 0
        stalled = json.loads(capsys.readouterr().out)
        assert stalled["bit_exact"] and stalled["stall"]
