"""The accelerator's AXI-Stream ports in C simulation: frames as the DMA carries them (frames.py bytes at the
port width), TLAST once per batch taken from the input TLAST, an early TLAST that ends a frame short and
resynchronises, a 128-bit port, and weight ROMs of exactly SIMD bits."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fpgabnn.codegen.hls import generate_hls
from fpgabnn.deploy.driver import frames
from fpgabnn.errors import SimulationError
from fpgabnn.sim.csim import run_csim
from hls_harness import bipolar, chain_model, ints
from test_chain import conv_chain, reference, tfc_chain


def rom_chain(rng):
    """A 72-wide XNOR layer (SIMD 72 > 64, BRAM forced) and a SIMD-9 layer: words of 72 and 9 bits."""
    return chain_model([
        ("Thresholding", dict(channels=72, pe=8, vec_shape=[1], in_dtype="UINT8", out_dtype="BIPOLAR"),
         {"t": rng.integers(0, 256, size=(72, 1)).astype(float)}),
        ("MVAU", dict(mw=72, mh=18, pe=3, simd=72, vec_shape=[1], in_dtype="BIPOLAR", acc_dtype="INT8",
                      ram_style="block"),
         {"w": bipolar(rng, (72, 18)), "t": rng.integers(-10, 11, size=(18, 1))}),
        ("MVAU", dict(mw=18, mh=4, pe=2, simd=9, vec_shape=[1], in_dtype="BIPOLAR", acc_dtype="INT6"),
         {"w": bipolar(rng, (18, 4))}),
    ], [1, 72], "UINT8")


@pytest.fixture(scope="module")
def int_build(tmp_path_factory):
    """72 raw pixels (9 beats of 64 bits) -> ... -> 4 integer dot products that depend on every pixel."""
    model = rom_chain(np.random.default_rng(40))
    out = tmp_path_factory.mktemp("ports") / "hls"
    return model, out, generate_hls(model, out, top_name="ports_top", clock_ns=10.0)


def test_tlast_only_at_batch_ends(int_build):
    model, out, info = int_build
    x = ints(np.random.default_rng(1), "UINT8", (7, 72))
    y, stats = run_csim(out, x, batch=3, return_stats=True)
    np.testing.assert_array_equal(y, reference(model, x).reshape(y.shape))
    assert stats["tlast_frames"] == [2, 5, 6] and stats["tlast_misplaced"] == 0 and stats["tlast_errors"] == 0
    _, whole = run_csim(out, x, return_stats=True)  # default: one batch of all frames
    assert whole["tlast_frames"] == [6]


def test_early_tlast_ends_the_frame_and_resynchronises(int_build):
    """Frame 2 is cut after 5 of its 9 beats (TLAST on the 5th): its missing elements are zero, the frames
    after it are exact, the output raises TLAST at the end of frame 2 and the port counts one error."""
    model, out, info = int_build
    assert info["in_beats"] == 9  # 72 bytes on 64 bits
    x = ints(np.random.default_rng(2), "UINT8", (6, 72))
    y, stats = run_csim(out, x, batch=6, cut=(2, 5), return_stats=True)
    received = 5 * 64 // 8  # elements in the 5 beats
    cut = x.copy().reshape(6, -1)
    cut[2, received:] = 0
    expected = reference(model, cut.reshape(x.shape)).reshape(y.shape)
    assert not np.array_equal(expected[2], reference(model, x[2:3]).reshape(expected[2].shape))  # the cut matters
    np.testing.assert_array_equal(y, expected)
    assert stats["tlast_errors"] == 1 and stats["tlast_frames"] == [2, 5] and stats["tlast_misplaced"] == 0


@pytest.mark.parametrize("make, in_beats", [(conv_chain, 1), (tfc_chain, 49)])
def test_128_bit_port(tmp_path, make, in_beats):
    """Zynq UltraScale+ boards: 128-bit DMA; the testbench streams frames.py bytes of 16-byte beats."""
    model = make(np.random.default_rng(41))
    info = generate_hls(model, tmp_path / "hls", top_name="wide_port", clock_ns=5.0, port_width=128)
    assert info["port_width"] == 128 and info["in_beats"] == in_beats
    assert "AxisWord<128>" in (tmp_path / "hls" / "top.cpp").read_text()
    x = ints(np.random.default_rng(3), info["in_dtype"], (5, *info["in_shape"][1:]))
    y = run_csim(tmp_path / "hls", x)
    np.testing.assert_array_equal(y, reference(model, x).reshape(y.shape))


def test_testbench_stream_is_frames_py_bytes(int_build, tmp_path):
    """The simulator command line of CONTRACTS.md B, driven by hand: IN.bin = frames.pack_values bytes."""
    import json
    import subprocess

    from fpgabnn.sim.csim import compile_csim

    model, out, info = int_build
    x = ints(np.random.default_rng(4), "UINT8", (3, 72))
    data = frames.pack_values(x.reshape(3, -1), 8, "unsigned", 64)
    assert data.shape == (3, 9 * 8)
    (tmp_path / "in.bin").write_bytes(data.tobytes())
    res = subprocess.run([str(compile_csim(out)), str(tmp_path / "in.bin"), str(tmp_path / "out.bin"), "3",
                          "--stats", str(tmp_path / "s.json"), "--stall", "7", "--batch", "3"], capture_output=True)
    assert res.returncode == 0, res.stderr
    raw = np.fromfile(tmp_path / "out.bin", dtype=np.uint8)
    assert raw.size == 3 * info["out_beats"] * 8
    y = frames.unpack_values(raw, info["out_bits"], info["out_kind"], 64, info["out_elems"])
    np.testing.assert_array_equal(y, reference(model, x).reshape(y.shape))
    assert json.loads((tmp_path / "s.json").read_text())["tlast_frames"] == [2]
    short = subprocess.run([str(compile_csim(out)), str(tmp_path / "in.bin"), str(tmp_path / "o2.bin"), "4"],
                           capture_output=True, text=True)
    assert short.returncode != 0 and "cannot read" in short.stderr  # a simulator failure, not a mismatch


def test_weight_rom_words_of_exactly_simd_bits(tmp_path):
    model = rom_chain(np.random.default_rng(42))
    hls = tmp_path / "hls"
    generate_hls(model, hls, top_name="rom_top", clock_ns=10.0)
    params, top = (hls / "params.h").read_text(), (hls / "top.cpp").read_text()
    # SIMD 9: 2 PEs x (2 NF * 2 SF) words stored as ap_uint<9> in synthesis (uint16_t literals in C sim)
    assert "RomWeights<9, 2, 4, FPGABNN_ROM_WORD(9, uint16_t)> MVAU_2_weights" in params
    # SIMD 72: ap_uint<72> words in synthesis, 64-bit limbs only in plain C simulation
    assert re.search(r"#ifdef FPGABNN_EXACT_ROM\nstatic const fpgabnn::RomWeights<72, 3, 6, ap_uint<72> > MVAU_1_weights", params)
    assert "LimbWeights<72, 3, 6, 2> MVAU_1_weights" in params
    assert "variable=MVAU_1_weights.words type=rom_1p impl=bram" in top
    assert "variable=MVAU_2_weights.words type=rom_1p impl=lutram" in top  # auto: 4 words -> distributed
    x = ints(np.random.default_rng(5), "UINT8", (8, 72))
    expected = reference(model, x)
    assert len(np.unique(expected)) > 3
    for defines in ((), ("FPGABNN_EXACT_ROM",)):  # C-sim storage and the exact ap_uint<SIMD> storage agree
        y = run_csim(hls, x, defines=defines)
        np.testing.assert_array_equal(y, expected.reshape(y.shape))


def test_compile_error_is_a_simulation_error(tmp_path):
    model = rom_chain(np.random.default_rng(43))
    hls = tmp_path / "hls"
    generate_hls(model, hls, top_name="broken", clock_ns=10.0)
    (hls / "top.cpp").write_text((hls / "top.cpp").read_text().replace("#pragma HLS DATAFLOW", "syntax error here;"))
    with pytest.raises(SimulationError, match="compile failed"):
        run_csim(hls, np.zeros((1, 72)))
