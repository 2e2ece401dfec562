"""Stream infrastructure: skid register, FIFO (SRL, LUTRAM, BRAM) and width converter, with idle and
back-pressure generators; the FIFO's occupancy gauge must reach its capacity under back-pressure."""

import numpy as np
import pytest

RNG = np.random.default_rng(0)


def test_axis_register(rtl):
    dut = rtl.build("fpgabnn_axis_register", {"DATA_WIDTH": 13}, 13, 13)
    words = RNG.integers(0, 2**13, size=(500, 1))
    sts = dut.check(words, 13, words, 13, 500)
    assert sts[0]["cycles_per_frame"] == pytest.approx(1.0)  # one word per cycle at full rate


@pytest.mark.parametrize("impl", [0, 1, 2])
@pytest.mark.parametrize("depth", [1, 2, 7])
def test_fifo(rtl, impl, depth):
    dut = rtl.build("fpgabnn_fifo", {"DATA_WIDTH": 70, "DEPTH": depth, "IMPL": impl}, 70, 70,
                    gauges=[("fifo", "top->occupancy")])
    words = RNG.integers(0, 2, size=(400, 70))
    sts = dut.check(words, 1, words, 1, 400)
    full_rate = sts[0]
    if depth >= 2:
        assert full_rate["cycles_per_frame"] == pytest.approx(1.0)
    # slow sink, fast source: the FIFO fills to DEPTH words in memory plus its output register
    slow_sink = sts[2]
    assert slow_sink["fifo_max_occupancy"]["fifo"] == depth + 1


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
