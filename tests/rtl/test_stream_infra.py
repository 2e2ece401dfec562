"""Stream infrastructure: skid register, FIFO (SRL, LUTRAM, BRAM) and width converter, with idle and
back-pressure generators; the FIFO holds exactly its depth (its occupancy gauge reaches it under back-pressure,
and a stopped consumer lets exactly that many words in) and its shift register maps to SRL cells in Yosys."""

import numpy as np
import pytest

from tests.rtl.conftest import RTLLIB, pack_words, unpack_words

RNG = np.random.default_rng(0)


def test_axis_register(rtl):
    dut = rtl.build("fpgabnn_axis_register", {"DATA_WIDTH": 13}, 13, 13)
    words = RNG.integers(0, 2**13, size=(500, 1))
    sts = dut.check(words, 13, words, 13, 500)
    assert sts[0]["cycles_per_frame"] == pytest.approx(1.0)  # one word per cycle at full rate


@pytest.mark.parametrize("impl", [0, 1, 2])
@pytest.mark.parametrize("depth", [1, 2, 3, 7, 33])
def test_fifo(rtl, impl, depth):
    dut = rtl.build("fpgabnn_fifo", {"DATA_WIDTH": 70, "DEPTH": depth, "IMPL": impl}, 70, 70,
                    gauges=[("fifo", "top->occupancy")])
    words = RNG.integers(0, 2, size=(400, 70))
    sts = dut.check(words, 1, words, 1, 400)
    full_rate = sts[0]
    # one word per cycle from depth 2 (a flowing stream holds one word); depth 1: every other cycle
    assert full_rate["cycles_per_frame"] == pytest.approx(1.0 if depth >= 2 else 2.0)
    # slow sink, fast source: the FIFO fills to exactly DEPTH words (as an hls::stream of that depth)
    slow_sink = sts[2]
    assert slow_sink["fifo_max_occupancy"]["fifo"] == depth


@pytest.mark.parametrize("impl", [0, 1, 2])
@pytest.mark.parametrize("depth", [1, 2, 5, 33])
def test_fifo_holds_exactly_depth_words(rtl, impl, depth):
    """Consumer stopped for 200 cycles, source always valid: exactly DEPTH words accepted; then the consumer
    runs and every word leaves in order, one per cycle from the first (depth >= 2)."""
    dut = rtl.build("fpgabnn_fifo", {"DATA_WIDTH": 9, "DEPTH": depth, "IMPL": impl}, 9, 9,
                    gauges=[("fifo", "top->occupancy")])
    words = RNG.integers(0, 2**9, size=(300, 1))
    out, st, _ = dut.run(pack_words(words, 9), 300, ready_after=200)
    assert st["beats_in_before_ready"] == depth
    assert st["fifo_max_occupancy"]["fifo"] == depth
    np.testing.assert_array_equal(unpack_words(out, 9, 1), words)
    gaps = np.diff(st["frame_end_cycles"])
    assert st["frame_end_cycles"][0] == 200
    assert set(gaps.tolist()) == ({1} if depth >= 2 else {2})


@pytest.mark.parametrize("impl,depth,cells", [
    (0, 17, {"SRL16E": 4}),  # 16 words in the shift register: one SRL16E per bit
    (0, 65, {"SRLC32E": 8, "MUXF7": 4}),  # 64 words: two SRLC32E per bit and a MUXF7 joining them
    (2, 600, {"RAMB18E1": 1}),
])
def test_fifo_memory_maps_to_xilinx_primitives(impl, depth, cells, tmp_path, monkeypatch):
    """Yosys synth_xilinx: the shift register becomes SRL cells (not DEPTH flip-flops per bit), the block RAM
    a RAMB18; the flip-flops are the output register and the counters only."""
    from fpgabnn.analysis import synth

    monkeypatch.setenv("FPGABNN_CACHE_DIR", str(tmp_path / "cache"))
    req = synth.SynthRequest("fpgabnn_fifo", (RTLLIB / "fpgabnn_fifo.sv",), "xc7",
                             (("DATA_WIDTH", 4), ("DEPTH", depth), ("IMPL", impl)))
    got = synth.synthesize(req)
    assert {c: got["cells"].get(c, 0) for c in cells} == cells
    # output/bypass registers, counters and pointers: nothing grows with DEPTH * DATA_WIDTH
    assert got["resources"]["FF"] <= 2 * 4 + 3 * depth.bit_length() + 4 < depth * 4
    assert got["resources"]["unmapped"] == {}


@pytest.mark.parametrize("win,wout", [(8, 8), (3, 12), (12, 3), (16, 64), (96, 32)])
def test_dwc(rtl, win, wout):
    # a "frame" is one block of lcm(win, wout) bits
    block = int(np.lcm(win, wout))
    dut = rtl.build("fpgabnn_dwc", {"IN_WIDTH": win, "OUT_WIDTH": wout}, win, wout, block // win, block // wout)
    n = 60
    bits = RNG.integers(0, 2, size=(n * block // win, win))
    expected = bits.reshape(-1, wout)
    sts = dut.check(bits, 1, expected, 1, n)
    # full rate: the narrow side moves one word per cycle
    assert sts[0]["cycles_per_frame"] == pytest.approx(block // min(win, wout))
