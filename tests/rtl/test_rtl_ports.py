"""AXI-Stream port adapters (Contract B): DMA beats -> layer words -> DMA beats through the input port, a FIFO
and the output port. Frames are packed by fpgabnn/deploy/driver/frames.py; TLAST rises on a frame's last output
beat when its input frame ended a batch; an early input TLAST ends the frame (zeros after it) and sets the sticky
tlast_error without desynchronising the frames after it."""

from pathlib import Path

import numpy as np
import pytest

from fpgabnn.deploy.driver import frames
from tests.rtl.conftest import RTLLIB

HERE = Path(__file__).parent
# (input port, output port, layer word bits, words per frame)
CASES = [(64, 64, 8, 784), (64, 64, 8, 98), (64, 64, 24, 10), (64, 128, 784, 1), (32, 64, 10, 3), (128, 64, 16, 49)]


def _dut(rtl, p_in, p_out, w, words):
    beats_in = frames.beats_per_frame(words, w, p_in)
    beats_out = frames.beats_per_frame(words, w, p_out)
    dut = rtl.build(
        "ports_loopback", {"IN_PORT": p_in, "OUT_PORT": p_out, "DATA_WIDTH": w, "FRAME_WORDS": words},
        p_in, p_out, beats_in, beats_out, in_tlast=True, out_tlast=True, tlast_error="top->tlast_error",
        sources=[*sorted(RTLLIB.glob("*.sv")), HERE / "ports_loopback.sv"],
    )
    return dut, beats_in, beats_out


@pytest.mark.parametrize("p_in,p_out,w,words", CASES)
def test_ports_frames_and_batches(rtl, p_in, p_out, w, words):
    dut, _, beats_out = _dut(rtl, p_in, p_out, w, words)
    n, batch = 23, 5
    raw = np.random.default_rng(words).integers(0, 2**w if w < 63 else 2, size=(n, words), dtype=np.uint64)
    if w >= 63:  # one element per bit
        raw = np.random.default_rng(1).integers(0, 2, size=(n, words * w), dtype=np.uint64)
        ebits, elems = 1, words * w
    else:
        ebits, elems = w, words
    buf = frames.pack_frames(raw, ebits, p_in).reshape(-1)
    want_tlast = np.zeros(n * beats_out, dtype=np.uint8)
    for f in range(n):
        if (f + 1) % batch == 0 or f == n - 1:
            want_tlast[(f + 1) * beats_out - 1] = 1
    for i, (pv, pr) in enumerate([(1.0, 1.0), (0.5, 0.5), (0.1, 1.0), (1.0, 0.1)]):
        out, st, tl = dut.run(buf, n, pv, pr, seed=3 + i, batch=batch)
        got = frames.unpack_frames(out, ebits, p_out, elems)
        assert np.array_equal(got, raw), f"valid={pv} ready={pr}: frames differ"
        # the pad bits of every output frame are zero
        assert np.array_equal(out.reshape(n, -1), frames.pack_frames(raw, ebits, p_out))
        assert np.array_equal(tl, want_tlast), f"valid={pv} ready={pr}: TLAST on beats {np.nonzero(tl)[0]}"
        assert st["tlast_error"] == 0
    # full rate: the wider of the two frame lengths in beats bounds the rate
    bound = max(frames.beats_per_frame(elems, ebits, p_in), beats_out, words)
    assert st is not None
    full = dut.run(buf, n, 1.0, 1.0, seed=1, batch=batch)[1]
    assert full["cycles_per_frame"] <= bound + 2


@pytest.mark.parametrize("p_in,p_out,w,words", [CASES[0], CASES[1]])
def test_ports_early_tlast_resyncs(rtl, p_in, p_out, w, words):
    dut, beats_in, beats_out = _dut(rtl, p_in, p_out, w, words)
    n, short, cut = 6, 2, 3  # frame 2 stops after 3 beats with TLAST
    raw = np.random.default_rng(5).integers(0, 2**w, size=(n, words), dtype=np.uint64)
    beats = frames.pack_frames(raw, w, p_in).reshape(n, beats_in, p_in // 8)
    sent = [beats[f] if f != short else beats[f][:cut] for f in range(n)]
    tlast = [np.eye(1, len(b), len(b) - 1, dtype=np.uint8)[0] if f in (short, n - 1) else np.zeros(len(b), np.uint8)
             for f, b in enumerate(sent)]
    buf = np.concatenate([b.reshape(-1) for b in sent])
    expected = raw.copy()
    kept_bits = cut * p_in
    bits = np.unpackbits(beats[short].reshape(-1), bitorder="little")
    bits[kept_bits:] = 0
    expected[short] = frames.unpack_frames(np.packbits(bits, bitorder="little"), w, p_in, words)[0]
    for i, (pv, pr) in enumerate([(1.0, 1.0), (0.5, 0.1)]):
        out, st, tl = dut.run(buf, n, pv, pr, seed=9 + i, tlast_in=np.concatenate(tlast))
        got = frames.unpack_frames(out, w, p_out, words)
        assert np.array_equal(got, expected)
        assert st["tlast_error"] == 1
        ends = np.nonzero(tl)[0]
        assert ends.tolist() == [(short + 1) * beats_out - 1, n * beats_out - 1]
