"""fpgabnn's own exports down to the Verilog: a checkpoint of each re-parametrisation, with adversarial
BatchNorm and learned scales, goes through `fpgabnn export`, `build --backend rtl` and `verify --sim rtl`
(Verilator) bit-exactly, at the cycles per frame the build promised."""

from __future__ import annotations

import json

import pytest

from fpgabnn.cli import main
from test_cli_export import CONFIG, _checkpoint

CASES = [  # (model, method, scaling, width scale, target fps)
    ("tfc", "rotation", "learned", 1.0, "500000"),
    ("sfc", "holistic-tucker", "analytic", 0.25, "200000"),
    ("cnv28", "tucker", "learned", 0.125, "20000"),
]


@pytest.mark.parametrize("name,method,scaling,width,fps", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_own_export_is_bit_exact_in_rtl_simulation(tmp_path, capsys, randomize, name, method, scaling, width, fps):
    config = {**CONFIG, "name": name, "method": method, "scaling": scaling, "width_scale": width}
    ckpt = _checkpoint(tmp_path / "last.pt", randomize, config=config)
    onnx = tmp_path / f"{name}.onnx"
    assert main(["export", str(ckpt), "-o", str(onnx), "--samples", "4"]) == 0
    out = tmp_path / "build"
    assert main(["build", str(onnx), "--target-fps", fps, "--backend", "rtl", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--sim", "rtl", "--samples", "6", "--stall", "--json"]) == 0
    stalled = json.loads(capsys.readouterr().out)
    assert stalled["bit_exact"] and stalled["mismatch_count"] == 0 and stalled["samples"] == 6
    assert main(["verify", str(out), "--sim", "rtl", "--samples", "6", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["bit_exact"]
    assert res["cycles_per_frame"] == pytest.approx(res["estimated_cycles_per_frame"], rel=0.05), res
