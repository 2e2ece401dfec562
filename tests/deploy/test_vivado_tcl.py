"""The generated Vivado flow, run in plain tclsh against stand-ins that record every Vivado command
(tests/deploy/vivado_stub.tcl): for every board the recorded block design has the right part, processing
system, HP port width, clock, DMA configuration, connections and address map, and the flow ends with a
bitstream and .hwh. Vivado itself is not here: what Vivado would do with these commands is checked only so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from fpgabnn.deploy import vivado
from fpgabnn.deploy.boards import BOARDS, load_board
from fpgabnn.errors import UserError

STUB = Path(__file__).with_name("vivado_stub.tcl")
TCLSH = shutil.which("tclsh")


def fake_build(tmp_path: Path, port_width: int) -> Path:
    """The parts of a build directory the Vivado flow reads: hls/interface.json and rtl/manifest.json."""
    build = tmp_path / "build"
    (build / "hls").mkdir(parents=True)
    (build / "rtl").mkdir()
    (build / "hls" / "interface.json").write_text(json.dumps({"in_port": "s_axis", "out_port": "m_axis"}))
    (build / "hls" / "hls.tcl").write_text("# Vitis HLS script\n")
    (build / "rtl" / "manifest.json").write_text(json.dumps({
        "top": "bnn_top", "port_width": port_width, "files": ["bnn_top.v", "mvau.sv"],
        "memory_files": ["mvau_0_weights.memh"], "layers": []}))
    return build


def run_flow(build: Path, board, ip_source: str, board_files: bool, version: str = "2020.2", clock=125.0):
    assert TCLSH, "tclsh is missing: .ci/install installs it (Debian package tcl)"
    ctx = vivado.write_vivado(build, board, clock, "bnn_top", ip_source)
    log = build / "tcl.log"
    env = {**os.environ, "FPGABNN_TCL_LOG": str(log), "FPGABNN_STUB_VERSION": version,
           "FPGABNN_STUB_BOARD_FILES": "1" if board_files else "0"}
    script = f"source {{{STUB}}}\ncd {{{build / 'vivado'}}}\nsource build.tcl\n"
    res = subprocess.run([TCLSH], input=script, text=True, capture_output=True, env=env, cwd=build)
    assert res.returncode == 0, res.stderr + res.stdout
    calls = [line.split("\x1f") for line in log.read_text().splitlines()]
    return ctx, calls, res.stdout


class Design:
    """The block design the recorded calls describe."""

    def __init__(self, calls):
        self.calls = calls
        self.cells = {}
        self.props = defaultdict(dict)
        self.intf_nets, self.nets, self.addresses = [], [], []
        for c in calls:
            name, args = c[0], c[1:]
            if name == "create_bd_cell":
                self.cells[args[-1]] = args[args.index("-vlnv") + 1]
            elif name == "set_property" and args[0] == "-dict":
                kv = _tcl_list(args[1])
                self.props[args[2]].update(dict(zip(kv[::2], kv[1::2])))
            elif name == "set_property":
                self.props[args[-1]][args[0]] = args[1]
            elif name == "connect_bd_intf_net":
                pins = [a.split(":", 1)[1] for a in args if a.startswith("intf_pin:")]
                self.intf_nets.append(tuple(pins))
            elif name == "connect_bd_net":
                self.nets.append([a.split(":", 1)[1] for a in args if a.startswith("pin:")])
            elif name == "assign_bd_address":
                self.addresses.append(args)

    def net_of(self, pin):
        found = [n for n in self.nets if pin in n]
        assert len(found) == 1, f"{pin} is on {len(found)} nets"
        return set(found[0])

    def index(self, name, *must):
        for i, c in enumerate(self.calls):
            if c[0] == name and all(m in c for m in must):
                return i
        raise AssertionError(f"no call {name} {must}")


def _tcl_list(text: str) -> list[str]:
    """The words of a Tcl list as the stub recorded it (simple words, or braced values)."""
    out, word, depth = [], "", 0
    for ch in text:
        if ch == "{" and depth == 0:
            depth = 1
        elif ch == "{":
            depth += 1
            word += ch
        elif ch == "}" and depth == 1:
            depth = 0
            out.append(word)
            word = ""
        elif ch == "}":
            depth -= 1
            word += ch
        elif ch == " " and depth == 0:
            if word:
                out.append(word)
            word = ""
        else:
            word += ch
    if word:
        out.append(word)
    return out


@pytest.mark.parametrize("name", sorted(BOARDS))
@pytest.mark.parametrize("ip_source", ["rtl", "hls"])
def test_recorded_block_design_for_every_board(tmp_path, name, ip_source):
    board = load_board(name)
    p = board.axi_port_width
    build = fake_build(tmp_path, p)
    ctx, calls, stdout = run_flow(build, board, ip_source, board_files=(name != "kv260"))
    d = Design(calls)
    design = ctx["design"]

    # the project: the board's part, its board files (with the PS preset) only when installed
    projects = [c for c in calls if c[0] == "create_project"]
    assert all(c[c.index("-part") + 1] == board.part for c in projects)
    assert projects[-1][2] == design
    has_board_part = any(c[:2] == ["set_property", "board_part"] for c in calls)
    assert has_board_part == (name != "kv260")

    # (a) the accelerator IP
    if ip_source == "rtl":
        i = d.index("ipx::package_project")
        added = " ".join(" ".join(c) for c in calls[:i] if c[0] == "add_files")
        assert "../rtl/bnn_top.v" in added and "../rtl/mvau.sv" in added and "mvau_0_weights.memh" in added
        assert d.index("ipx::save_core") > i
        assert ["ipx::associate_bus_interfaces", "-busif", "s_axis", "-clock", "ap_clk", "core:current"] in calls
        assert d.cells["accel"] == "fpgabnn:user:bnn_top:1.0"
        assert not any(c[0] == "exec" for c in calls)
    else:
        assert [c[1:4] for c in calls if c[0] == "exec"] == [["vitis_hls", "-f", "hls.tcl"]]
        assert d.cells["accel"] == "xilinx.com:hls:bnn_top:1.0"
        assert not any(c[0].startswith("ipx::") for c in calls)

    # (b) the cells, with the newest IP version installed
    ps_ip = {"ps7": "processing_system7", "ps8": "zynq_ultra_ps_e"}[board.ps]
    assert d.cells["ps"] == f"xilinx.com:ip:{ps_ip}:9.9"
    assert d.cells["dma"] == "xilinx.com:ip:axi_dma:9.9"
    assert {d.cells[c] for c in ("ctrl_ic", "mem_sc", "rst")} == {
        "xilinx.com:ip:axi_interconnect:9.9", "xilinx.com:ip:smartconnect:9.9", "xilinx.com:ip:proc_sys_reset:9.9"}
    ps = d.props["cell:ps"]
    if board.ps == "ps7":
        assert (ps["CONFIG.PCW_USE_S_AXI_HP0"], ps["CONFIG.PCW_S_AXI_HP0_DATA_WIDTH"]) == ("1", "64")
        assert float(ps["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"]) == 125.0
        clk, master, slave = "ps/FCLK_CLK0", "ps/M_AXI_GP0", "ps/S_AXI_HP0"
    else:
        assert (ps["CONFIG.PSU__USE__S_AXI_GP2"], ps["CONFIG.PSU__SAXIGP2__DATA_WIDTH"]) == ("1", "128")
        assert float(ps["CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"]) == 125.0
        clk, master, slave = "ps/pl_clk0", "ps/M_AXI_HPM0_FPD", "ps/S_AXI_HP0_FPD"
    dma = d.props["cell:dma"]
    for key in ("c_m_axi_mm2s_data_width", "c_m_axis_mm2s_tdata_width", "c_m_axi_s2mm_data_width",
                "c_s_axis_s2mm_tdata_width"):
        assert dma[f"CONFIG.{key}"] == str(p), key
    assert (dma["CONFIG.c_sg_length_width"], dma["CONFIG.c_include_sg"]) == ("26", "0")
    assert (dma["CONFIG.c_include_mm2s"], dma["CONFIG.c_include_s2mm"]) == ("1", "1")

    # connections: control, memory and stream paths
    assert set(d.intf_nets) == {
        (master, "ctrl_ic/S00_AXI"), ("ctrl_ic/M00_AXI", "dma/S_AXI_LITE"),
        ("dma/M_AXI_MM2S", "mem_sc/S00_AXI"), ("dma/M_AXI_S2MM", "mem_sc/S01_AXI"), ("mem_sc/M00_AXI", slave),
        ("dma/M_AXIS_MM2S", "accel/s_axis"), ("accel/m_axis", "dma/S_AXIS_S2MM")}
    clock_net = d.net_of("accel/ap_clk")
    assert {clk, "rst/slowest_sync_clk", "dma/m_axi_mm2s_aclk", "dma/m_axi_s2mm_aclk", "dma/s_axi_lite_aclk",
            "mem_sc/aclk", "ctrl_ic/ACLK"} <= clock_net
    assert len([n for n in d.nets if clk in n]) == 1  # one clock domain
    assert "rst/peripheral_aresetn" in d.net_of("accel/ap_rst_n") and "dma/axi_resetn" in d.net_of("accel/ap_rst_n")
    assert "rst/ext_reset_in" in d.net_of("ps/" + ("FCLK_RESET0_N" if board.ps == "ps7" else "pl_resetn0"))

    # address map: DMA registers at the PYNQ shell's address, both DMA masters see DDR
    reg = [a for a in d.addresses if "seg:dma/S_AXI_LITE/Reg" in a]
    assert len(reg) == 1
    assert int(reg[0][reg[0].index("-offset") + 1], 16) == vivado.DMA_BASE[board.ps]
    assert int(reg[0][reg[0].index("-range") + 1], 16) == 0x10000
    for space in ("space:dma/Data_MM2S", "space:dma/Data_S2MM"):
        segs = [a[-1] for a in d.addresses if space in a]
        assert segs and all("DDR" in s for s in segs)

    # (c) synthesis, then implementation to write_bitstream, then reports and the output pair
    synth = d.index("launch_runs", "synth_1")
    impl = d.index("launch_runs", "impl_1", "write_bitstream")
    assert d.index("validate_bd_design") < d.index("make_wrapper") < synth < impl < d.index("report_utilization")
    assert ["set_property", "top", f"{design}_wrapper", "fileset:sources_1"] in calls
    out = build / "vivado" / "output"
    assert (out / f"{design}.bit").read_text().startswith("bitstream")
    assert (out / f"{design}.hwh").is_file()
    results = vivado.collect_results(build)
    assert results["wns_ns"] == pytest.approx(0.412) and results["timing_met"]
    assert results["utilization"]["LUT"] == 4321 and results["bitfile"] == f"vivado/output/{design}.bit"


def test_hostile_names_never_reach_the_tcl(tmp_path):
    board = load_board("pynq-z2")
    build = fake_build(tmp_path, 64)
    ctx = vivado.write_vivado(build, board, 100.0, "x]; exec rm -rf /; [", "hls")
    text = (build / "vivado" / "build.tcl").read_text()
    assert "rm -rf" not in text and ctx["top"].isidentifier()
    (build / "rtl" / "manifest.json").write_text(json.dumps({"files": ["../../etc/passwd"]}))
    with pytest.raises(UserError, match="plain relative path"):
        vivado.write_vivado(build, board, 100.0, "bnn_top", "rtl")


def test_rtl_ip_needs_the_rtl_backend(tmp_path):
    build = tmp_path / "b"
    (build / "hls").mkdir(parents=True)
    with pytest.raises(UserError, match="manifest.json"):
        vivado.write_vivado(build, load_board("pynq-z2"), 100.0, "bnn_top", "rtl")


def test_parse_utilization_reads_vivado_tables():
    text = ("| Site Type | Used | Fixed | Available | Util% |\n| Slice LUTs* | 1234 | 0 | 53200 | 2.3 |\n"
            "| Slice Registers | 2222 | 0 | 106400 | 2.1 |\n| Block RAM Tile | 4.5 | 0 | 140 | 3.2 |\n"
            "| DSPs | 3 | 0 | 220 | 1.4 |\n")
    assert vivado.parse_utilization(text) == {"LUT": 1234, "FF": 2222, "BRAM36": 4.5, "DSP": 3}
