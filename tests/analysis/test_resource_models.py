"""The re-fitted analytic resource models against Yosys synth_xilinx on points the fit did not see (small
modules, so Yosys is quick): each within the error benchmarks/results/yosys_calibration.md states."""

from __future__ import annotations

import pytest

from fpgabnn.analysis import synth
from fpgabnn.hw.fifo import FIFOParams, fifo_resources
from fpgabnn.hw.sliding_window import SlidingWindowParams
from tests.rtl.conftest import RTLLIB


def _base(op, in_width, out_width, bits=1):
    return dict(name="held_out", op=op, in_width=in_width, out_width=out_width, in_words=1, out_words=1, cycles=1,
                in_bits=bits, out_bits=bits, in_kind="unsigned", out_kind="unsigned")


def _swg(h, c, bits):
    oh = h - 2
    return SlidingWindowParams(**_base("SlidingWindow", c * bits, 9 * c * bits, bits), h=h, w=h, c=c, simd=c,
                               kh=3, kw=3, oh=oh, ow=oh, parallel=True)


CASES = [  # (module, HDL parameters, analytic estimate, allowed relative LUT/FF error)
    ("fpgabnn_fifo", {"DATA_WIDTH": 24, "DEPTH": 20, "IMPL": 0}, fifo_resources(24, 20, "srl"), 0.25),
    ("fpgabnn_fifo", {"DATA_WIDTH": 16, "DEPTH": 700, "IMPL": 2}, fifo_resources(16, 700, "bram"), 0.25),
    ("fpgabnn_swg", {"H": 10, "W": 10, "C": 4, "SIMD": 4, "KH": 3, "KW": 3, "ELEM_BITS": 2, "PARALLEL": 1,
                     "RAM_STYLE": 0}, _swg(10, 4, 2).resources(), 0.35),
]


@pytest.mark.parametrize("module,params,estimate,tol", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_refitted_model_on_a_held_out_point(module, params, estimate, tol, tmp_path, monkeypatch):
    monkeypatch.setenv("FPGABNN_CACHE_DIR", str(tmp_path / "cache"))
    sources = synth.sources_for(module, sorted(RTLLIB.glob("*.sv")))
    got = synth.synthesize(synth.SynthRequest(module, sources, "xc7", tuple(params.items())))["resources"]
    for k in ("LUT", "FF"):
        assert abs(estimate[k] - got[k]) <= tol * got[k], (k, estimate[k], got[k])
    assert estimate["BRAM18"] / 2 == got["BRAM36_tiles"]


def test_fifo_model_tracks_the_memory_kind():
    """Exactly DEPTH words: a 2-word FIFO keeps one word in the memory register (flip-flops), a deeper one
    SRLs; LUTRAM and BRAM from the memory rule; the BRAM count follows UG473 for DEPTH - 1 words."""
    assert fifo_resources(64, 2, "srl")["FF"] > fifo_resources(64, 16, "srl")["FF"]
    assert fifo_resources(64, 33, "srl")["LUT"] < fifo_resources(64, 34, "srl")["LUT"]  # 32 vs 33 memory words
    assert fifo_resources(36, 513, "bram")["BRAM18"] == 1 and fifo_resources(36, 514, "bram")["BRAM18"] == 2
    assert FIFOParams(**_base("StreamFIFO", 8, 8), width=8, depth=4, impl="srl").resources() == fifo_resources(8, 4, "srl")
