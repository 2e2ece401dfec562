"""estimate_dataflow: totals are the sums of their parts, the performance figures follow from the cycles,
and check_fits refuses a design that overflows the board in one line naming the resource."""

from __future__ import annotations

import dataclasses
import math

import pytest
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.analysis.estimates import RESOURCES, check_fits, estimate_dataflow
from fpgabnn.deploy.boards import load_board
from fpgabnn.errors import UserError
from fpgabnn.transforms.folding import SetFolding
from fpgabnn.transforms.pipeline import split_dataflow

CLOCK = 100.0


@pytest.fixture(scope="module")
def cnv_report(bnn_pynq_hw):
    _, cnv = bnn_pynq_hw("cnv_1w1a")
    folded = cnv.transform(SetFolding(3000, CLOCK))
    return folded, estimate_dataflow(folded, "pynq-z2", CLOCK)


def test_one_entry_per_layer_with_its_estimates(cnv_report):
    model, report = cnv_report
    nodes = split_dataflow(model).hw
    assert [r["name"] for r in report["layers"]] == [n.name for n in nodes]
    for row, node in zip(report["layers"], nodes):
        inst = getCustomOp(node)
        est = inst.estimates(model)  # with the model: e.g. a Thresholding's shared table is one row
        assert row["op"] == node.op_type
        assert (row["cycles"], row["LUT"], row["FF"], row["BRAM18"], row["DSP"]) == (
            est["cycles"], est["LUT"], est["FF"], est["BRAM18"], est["DSP"])
        assert row["folding"] == {a: inst.get_nodeattr(a) for a in ("pe", "simd", "parallel_window")
                                  if a in inst.get_nodeattr_types()}


def test_totals_are_sums_and_performance_follows_from_cycles(cnv_report):
    _, report = cnv_report
    parts = report["layers"] + report["glue"]
    for r in RESOURCES:
        assert report["totals"][r] == sum(p[r] for p in parts)
        assert report["layer_totals"][r] == sum(p[r] for p in report["layers"])
    assert report["totals"]["BRAM36"] == report["totals"]["BRAM18"] / 2
    timed = [p for p in parts if p["cycles"]]
    assert report["ii_cycles"] == max(p["cycles"] for p in timed)
    assert report["bottleneck"] in {p["name"] for p in timed if p["cycles"] == report["ii_cycles"]}
    assert report["fps"] == pytest.approx(CLOCK * 1e6 / report["ii_cycles"])
    assert report["latency_cycles"] == sum(p["cycles"] for p in timed if p["op"] != "StreamFIFO")
    assert report["latency_us"] == pytest.approx(report["latency_cycles"] / CLOCK)
    board = load_board("pynq-z2")
    for r in RESOURCES:
        assert report["budget"][r] == board.resources[r]
    assert report["utilisation_pct"]["LUT"] == pytest.approx(100 * report["totals"]["LUT"] / board.resources["LUT"])
    assert report["fits"] and report["overflows"] == []
    assert report["folding"]["source"] == "target" and report["folding"]["met"]
    check_fits(report)  # no error


def test_glue_matches_the_generated_converters(cnv_report):
    """Converters, FIFOs and ports are the infrastructure nodes InsertDWC/InsertFIFO/InsertIOPorts place: one
    FIFO per internal stream, a converter wherever consecutive layers disagree on elements per word, a port at
    each end at the board's 64-bit DMA width."""
    model, report = cnv_report
    insts = [getCustomOp(n) for n in split_dataflow(model).hw]
    mismatches = sum(a.out_elems_per_word() != b.in_elems_per_word() for a, b in zip(insts, insts[1:]))
    dwcs = [g for g in report["glue"] if g["op"] == "DataWidthConverter"]
    assert mismatches <= len(dwcs) <= 2 * mismatches
    fifos = [g for g in report["glue"] if g["op"] == "StreamFIFO"]
    converters = [g for g in report["glue"] if g["op"] in ("DataWidthConverter", "AxisInput", "AxisOutput")]
    assert len(fifos) == len(insts) + len(converters) - 1
    ports = [g for g in report["glue"] if g["op"] in ("AxisInput", "AxisOutput")]
    assert [g["op"] for g in ports] == ["AxisInput", "AxisOutput"] and report["port_width"] == 64
    assert ports[0]["in_width"] == 64 and ports[1]["out_width"] == 64
    assert ports[0]["cycles"] >= 32 * 32 * 3 * 8 // 64  # CNV's 3072 input bytes are 384 beats
    # a converter never limits the rate: its words are those of a neighbouring layer
    assert all(g["cycles"] <= report["ii_cycles"] for g in converters)


def test_clock_scales_fps_not_cycles(bnn_pynq_hw):
    _, tfc = bnn_pynq_hw("tfc_1w1a")
    folded = tfc.transform(SetFolding(50_000, CLOCK))
    slow = estimate_dataflow(folded, "pynq-z2", CLOCK)
    fast = estimate_dataflow(folded, load_board("pynq-z2"), 2 * CLOCK)
    assert slow["ii_cycles"] == fast["ii_cycles"]
    assert fast["fps"] == pytest.approx(2 * slow["fps"])
    assert estimate_dataflow(folded, "zcu104")["clock_mhz"] == load_board("zcu104").clock_mhz


def test_design_that_does_not_fit(bnn_pynq_hw):
    _, tfc = bnn_pynq_hw("tfc_1w1a")
    folded = tfc.transform(SetFolding(100_000, CLOCK))
    big = estimate_dataflow(folded, "pynq-z2", CLOCK)
    lut = big["totals"]["LUT"]
    tiny = dataclasses.replace(load_board("pynq-z2"), name="tiny", resources={
        "LUT": lut - 100, "FF": 10**6, "BRAM18": 0 if big["totals"]["BRAM18"] else 10, "DSP": 10, "URAM": 0})
    report = estimate_dataflow(folded, tiny, CLOCK)
    assert not report["fits"]
    over = {o["resource"]: o for o in report["overflows"]}
    assert over["LUT"]["excess"] == 100
    with pytest.raises(UserError) as err:
        check_fits(report)
    message = str(err.value)
    assert "\n" not in message
    assert "tiny" in message and f"LUT {lut:,} of {lut - 100:,} (+100" in message
    assert "lower --target-fps" in message and "bigger board" in message
    if big["totals"]["BRAM18"]:
        assert "BRAM18" in message and "has none" in message
        assert report["utilisation_pct"]["BRAM18"] is None


def test_board_name_or_object(bnn_pynq_hw):
    _, tfc = bnn_pynq_hw("tfc_1w1a")
    folded = tfc.transform(SetFolding(10_000, CLOCK))
    by_name = estimate_dataflow(folded, "ultra96-v2", CLOCK)
    assert by_name == estimate_dataflow(folded, load_board("ultra96-v2"), CLOCK)
    assert by_name["part"] == "xczu3eg-sbva484-1-i"
    with pytest.raises(UserError, match="unknown board"):
        estimate_dataflow(folded, "nexys", CLOCK)
    with pytest.raises(UserError, match="not positive"):
        estimate_dataflow(folded, "pynq-z2", -1)
    assert math.isfinite(by_name["fps"])
