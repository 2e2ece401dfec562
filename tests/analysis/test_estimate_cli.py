"""`fpgabnn estimate`: Yosys per layer and for the top of a build's rtl/ (Contract C), and its bad-input cases.

The build here is a minimal hand-made one (two counter layers and a top), so these tests depend only on the
manifest contract, not on the RTL generator; tests/rtl covers generated builds."""

from __future__ import annotations

import dataclasses
import json

import pytest

from fpgabnn.cli import main

COUNTER = """`default_nettype none
module counter #(parameter W = 4, parameter INIT_FILE = "c.memh") (
    input wire clk, input wire rst, output reg [W-1:0] q, output reg [W-1:0] r);
  reg [W-1:0] rom [0:3];
  initial $readmemh(INIT_FILE, rom);
  always @(posedge clk) r <= rom[q[1:0]];
  always @(posedge clk) if (rst) q <= 0; else q <= q + 1'b1;
endmodule
"""

TOP = """`default_nettype none
module bnn_top (input wire ap_clk, input wire ap_rst_n, output wire [11:0] y);
  reg rst_reg;  // the top's own logic: one flip-flop
  always @(posedge ap_clk) rst_reg <= !ap_rst_n;
  wire [5:0] q0, r0, q1, r1;
  counter #(.W(6), .INIT_FILE("l0.memh")) layer0 (.clk(ap_clk), .rst(rst_reg), .q(q0), .r(r0));
  counter #(.W(6), .INIT_FILE("l1.memh")) layer1 (.clk(ap_clk), .rst(rst_reg), .q(q1), .r(r1));
  assign y = {r0 ^ q1, r1 ^ q0};
endmodule
"""


def _words(width: int, shift: int) -> str:
    # bit j over the 4 addresses is pattern j + shift: every ROM output bit varies, no two are equal
    return "".join(f"{sum((((j + shift) >> a) & 1) << j for j in range(width)):x}\n" for a in range(4))


@pytest.fixture(scope="module")
def synth_cache(tmp_path_factory):
    """One Yosys cache for this module: the same layers are synthesised once, not per test."""
    return tmp_path_factory.mktemp("yosys_cache")


@pytest.fixture
def build(tmp_path, monkeypatch, synth_cache):
    monkeypatch.setenv("FPGABNN_CACHE_DIR", str(synth_cache))
    d = tmp_path / "build"
    rtl = d / "rtl"
    rtl.mkdir(parents=True)
    (d / "build.json").write_text(json.dumps({"fpgabnn_build": 1, "board": "pynq-z2", "top_name": "bnn_top"}))
    (d / "report.json").write_text(json.dumps({
        "layers": [{"name": "layer0", "op": "MVAU", "LUT": 20, "FF": 10, "BRAM18": 0, "DSP": 0}],
        "glue": [{"name": "layer1", "op": "StreamFIFO", "LUT": 3, "FF": 24, "BRAM18": 2, "DSP": 0}],
        "totals": {"LUT": 23, "FF": 34, "BRAM18": 2, "DSP": 0, "URAM": 0}}))
    (rtl / "counter.v").write_text(COUNTER)
    (rtl / "bnn_top.v").write_text(TOP)
    (rtl / "l0.memh").write_text(_words(6, 1))
    (rtl / "l1.memh").write_text(_words(6, 1))
    manifest = {
        "top": "bnn_top", "port_width": 64, "clock_mhz": 100.0, "files": ["counter.v", "bnn_top.v"],
        "memory_files": ["l0.memh", "l1.memh"],
        "layers": [{"name": f"layer{i}", "op": op, "module": "counter", "params": {"W": w, "INIT_FILE": f"l{i}.memh"},
                    "memory_files": [f"l{i}.memh"]} for i, (op, w) in enumerate((("MVAU", 6), ("StreamFIFO", 6)))],
    }
    (rtl / "manifest.json").write_text(json.dumps(manifest))
    return d


def _manifest(build):
    return json.loads((build / "rtl" / "manifest.json").read_text())


def test_estimate_per_layer_top_and_totals(build, capsys):
    assert main(["estimate", str(build), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads((build / "estimate.json").read_text())
    text = (build / "estimate.txt").read_text()
    assert "layer0" in text and "fits pynq-z2" in text and "10-30% above Vivado" in text
    l0, l1 = out["layers"]
    assert l0["yosys"]["FF"] == 12  # counter and ROM register, W = 6 from the manifest's params
    assert l0["analytic"]["LUT"] == 20 and l1["analytic"]["BRAM36"] == 1.0  # matched by name (layers and glue)
    assert l0["diff_pct"]["FF"] == pytest.approx(100.0 * (10 - 12) / 12, abs=0.1)
    assert out["top_logic"]["yosys"]["FF"] == 1  # the layers are black boxes there
    assert out["totals"]["FF"] == l0["yosys"]["FF"] + l1["yosys"]["FF"] + 1
    assert out["fits"] and out["overflows"] == []
    assert out["budget"]["BRAM36"] == 140 and out["family"] == "xc7"


def test_parameters_reach_the_layer(build, capsys):
    man = _manifest(build)
    man["layers"][1]["params"]["W"] = 3  # chparam overrides the instance's parameter for the layer run
    (build / "rtl" / "manifest.json").write_text(json.dumps(man))
    assert main(["estimate", str(build), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["layers"][1]["yosys"]["FF"] == 6 and out["layers"][0]["yosys"]["FF"] == 12


def test_over_budget_is_reported(build, capsys, monkeypatch):
    from fpgabnn.deploy import boards

    real = boards.load_board("pynq-z2")
    tiny = dataclasses.replace(real, resources={**real.resources, "FF": 5})
    monkeypatch.setattr(boards, "load_board", lambda name: tiny)
    assert main(["estimate", str(build)]) == 0
    out = capsys.readouterr().out
    assert "OVER BUDGET" in out and "FF" in out
    result = json.loads((build / "estimate.json").read_text())
    assert not result["fits"] and result["overflows"][0]["resource"] == "FF"


def _expect_bad(build, capsys, match: str):
    assert main(["estimate", str(build)]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (build / "estimate.json").exists()


def test_not_a_build(tmp_path, capsys):
    _expect_bad(tmp_path, capsys, "not an fpgabnn build directory")


def test_build_without_rtl(build, capsys):
    import shutil

    shutil.rmtree(build / "rtl")
    _expect_bad(build, capsys, "no rtl/ directory")


@pytest.mark.parametrize("damage, match", [
    (lambda m: "{not json", "not valid JSON"),
    (lambda m: {**m, "layers": "x"}, "'layers'"),
    (lambda m: {**m, "files": ["missing.v"]}, "does not exist"),
    (lambda m: {**m, "files": ["../../etc/passwd"]}, "not a file name inside rtl/"),
    (lambda m: {**m, "top": "nosuch"}, "no file defines the top module"),
    (lambda m: {**m, "layers": [{**m["layers"][0], "params": {"W": 'x"; shell'}}]}, "parameters"),
    (lambda m: {**m, "layers": [{**m["layers"][0], "module": "a b"}]}, "'module'"),
    (lambda m: {**m, "layers": [{**m["layers"][0], "memory_files": ["gone.memh"]}]}, "does not exist"),
])
def test_damaged_manifest(build, capsys, damage, match):
    m = damage(_manifest(build))
    (build / "rtl" / "manifest.json").write_text(m if isinstance(m, str) else json.dumps(m))
    _expect_bad(build, capsys, match)


def test_yosys_failure_is_exit_3_not_a_traceback(build, capsys):
    (build / "rtl" / "counter.v").write_text(COUNTER.replace("endmodule", "oops endmodule"))
    assert main(["estimate", str(build)]) == 3
    err = capsys.readouterr().err
    assert "Yosys failed" in err and "Traceback" not in err
    assert not (build / "estimate.json").exists()
