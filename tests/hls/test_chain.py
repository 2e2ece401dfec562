"""Whole generated accelerators: generate_hls -> g++ C simulation -> compared with qonnx execute_onnx of the
hardware-layer graph (whose nodes' execute_node are the numpy references)."""

import json
import os

import numpy as np
import pytest
from onnx import helper
from qonnx.core.onnx_exec import execute_onnx

from fpgabnn.codegen.hls import generate_hls, render_sources
from fpgabnn.core.graph import evaluate_chain
from fpgabnn.errors import UserError
from fpgabnn.sim.csim import compile_csim, run_csim
from hls_harness import bipolar, chain_model, ints


def reference(model, x: np.ndarray) -> np.ndarray:
    """execute_onnx frame by frame (the model has batch size 1)."""
    iname, oname = model.graph.input[0].name, model.graph.node[-1].output[0]
    return np.stack([execute_onnx(model, {iname: f[None].astype(np.float32)})[oname][0] for f in x]).astype(np.int64)


def conv_chain(rng):
    """SlidingWindow -> MVAU(thresholds) -> MaxPool -> MVAU(no thresholds) -> LabelSelect on a bipolar
    8x8x2 map; the foldings force converters, one of them through an LCM width (PE 8 -> SIMD 12)."""
    return chain_model([
        ("SlidingWindow", dict(ifm_dim=[8, 8], channels=2, kernel=[3, 3], stride=[1, 1], in_dtype="BIPOLAR", simd=2), {}),
        ("MVAU", dict(mw=18, mh=8, pe=4, simd=6, vec_shape=[1, 6, 6], in_dtype="BIPOLAR", acc_dtype="INT6",
                      out_fifo_depth=7),
         {"w": bipolar(rng, (18, 8)), "t": rng.integers(-8, 9, size=(8, 1))}),
        ("MaxPool", dict(ifm_dim=[6, 6], channels=8, kernel=[2, 2], stride=[2, 2], dtype="BIPOLAR", pe=8), {}),
        ("MVAU", dict(mw=72, mh=10, pe=5, simd=12, vec_shape=[1], in_dtype="BIPOLAR", acc_dtype="INT8"),
         {"w": bipolar(rng, (72, 10))}),
        ("LabelSelect", dict(channels=10, k=3, in_dtype="INT8", pe=2), {}),
    ], [1, 8, 8, 2], "BIPOLAR")


def integer_chain(rng):
    """Raw UINT8 pixels -> per-channel INT8 quantiser -> zero-padded 3x3 conv in integer mode -> overlapping
    max-pool -> dense layer with signed accumulator outputs (no top-k)."""
    thr = np.sort(rng.integers(0, 256, size=(3, 255)), axis=1) - 0.5
    return chain_model([
        ("Thresholding", dict(channels=3, pe=3, vec_shape=[1, 6, 6], in_dtype="UINT8", out_dtype="INT8", out_base=-128),
         {"t": thr}),
        ("SlidingWindow", dict(ifm_dim=[6, 6], channels=3, kernel=[3, 3], stride=[1, 1], pads=[1, 1, 1, 1],
                               pad_value=0, in_dtype="INT8", simd=3), {}),
        ("MVAU", dict(mw=27, mh=4, pe=2, simd=9, vec_shape=[1, 6, 6], in_dtype="INT8", acc_dtype="INT14"),
         {"w": bipolar(rng, (27, 4)), "t": rng.integers(-400, 400, size=(4, 1))}),
        ("MaxPool", dict(ifm_dim=[6, 6], channels=4, kernel=[3, 3], stride=[2, 2], dtype="BIPOLAR", pe=1), {}),
        ("MVAU", dict(mw=16, mh=6, pe=3, simd=4, vec_shape=[1], in_dtype="BIPOLAR", acc_dtype="INT8"),
         {"w": bipolar(rng, (16, 6))}),
    ], [1, 6, 6, 3], "UINT8")


def tfc_chain(rng):
    """TFC-size (784-64-64-64-10) with the raw-pixel quantiser and top-1, FINN-like folding."""
    layers = [("Thresholding", dict(channels=784, pe=49, vec_shape=[1], in_dtype="UINT8", out_dtype="BIPOLAR"),
               {"t": np.array([[128.0]])})]
    for mw, (pe, simd) in zip((784, 64, 64), ((16, 49), (16, 16), (16, 16))):
        layers.append(("MVAU", dict(mw=mw, mh=64, pe=pe, simd=simd, vec_shape=[1], in_dtype="BIPOLAR", acc_dtype="INT11"),
                       {"w": bipolar(rng, (mw, 64)), "t": rng.integers(-20, 21, size=(64, 1))}))
    layers.append(("MVAU", dict(mw=64, mh=10, pe=10, simd=16, vec_shape=[1], in_dtype="BIPOLAR", acc_dtype="INT8"),
                   {"w": bipolar(rng, (64, 10))}))
    layers.append(("LabelSelect", dict(channels=10, k=1, in_dtype="INT8", pe=10), {}))
    return chain_model(layers, [1, 784], "UINT8")


@pytest.fixture(scope="module")
def conv_build(tmp_path_factory):
    rng = np.random.default_rng(20)
    model = conv_chain(rng)
    out = tmp_path_factory.mktemp("conv") / "hls"
    return model, out, generate_hls(model, out, top_name="bnn-top", clock_ns=5.0)


def check_against_qonnx(model, hls_dir, info, frames, seed):
    x = ints(np.random.default_rng(seed), info["in_dtype"], (frames, *info["in_shape"][1:]))
    y = run_csim(hls_dir, x)
    expected = reference(model, x)
    assert y.shape == expected.shape
    assert len(np.unique(expected)) > 2  # a reference that varies, so that agreement means something
    np.testing.assert_array_equal(y, expected)


def test_conv_chain_matches_qonnx(conv_build):
    model, out, info = conv_build
    check_against_qonnx(model, out, info, 12, seed=1)


def test_integer_chain_matches_qonnx(tmp_path):
    model = integer_chain(np.random.default_rng(24))
    info = generate_hls(model, tmp_path / "hls", top_name="int_top", clock_ns=5.0)
    assert info["out_dtype"] == "INT8" and info["out_kind"] == "signed"
    check_against_qonnx(model, tmp_path / "hls", info, 12, seed=2)


def test_tfc_size_chain_matches_reference(tmp_path):
    """200 frames against the batched qonnx-equivalent evaluator (execute_onnx semantics node by node),
    the first 3 also against execute_onnx itself."""
    model = tfc_chain(np.random.default_rng(25))
    info = generate_hls(model, tmp_path / "hls", top_name="tfc", clock_ns=10.0)
    x = np.random.default_rng(3).integers(0, 256, size=(200, 784))
    y = run_csim(tmp_path / "hls", x)
    expected = evaluate_chain(model, list(model.graph.node), "x", x.astype(np.float32)).astype(np.int64)
    np.testing.assert_array_equal(y, expected.reshape(y.shape))
    np.testing.assert_array_equal(y[:3], reference(model, x[:3]))
    assert len(np.unique(y)) > 3


def test_words_wider_than_1024_bits(tmp_path):
    """A fully parallel input quantiser: its 1280-bit words (behind the 64-bit port) need AP_INT_MAX_W, set in
    top.h; the 160-bit weight words are stored as limbs in C simulation."""
    rng = np.random.default_rng(26)
    model = chain_model([
        ("Thresholding", dict(channels=160, pe=160, vec_shape=[1], in_dtype="UINT8", out_dtype="BIPOLAR"),
         {"t": rng.integers(0, 256, size=(160, 1)).astype(float)}),
        ("MVAU", dict(mw=160, mh=8, pe=8, simd=160, vec_shape=[1], in_dtype="BIPOLAR", acc_dtype="INT9"),
         {"w": bipolar(rng, (160, 8))}),
    ], [1, 160], "UINT8")
    info = generate_hls(model, tmp_path / "hls", top_name="wide", clock_ns=5.0)
    assert info["in_port_width"] == 64 and info["in_beats"] == 20
    assert "#define AP_INT_MAX_W 2048" in (tmp_path / "hls" / "top.h").read_text()
    check_against_qonnx(model, tmp_path / "hls", info, 6, seed=4)


def test_generated_files_and_interface(conv_build):
    model, out, info = conv_build
    names = {os.path.relpath(f, out) for f in info["files"]}
    assert {"top.cpp", "top.h", "params.h", "tb.cpp", "hls.tcl", "interface.json", "hlslib/mvau.hpp"} <= names
    iface = json.loads((out / "interface.json").read_text())
    assert iface["top_name"].startswith("bnn_top") and iface["in_shape"] == [1, 8, 8, 2]
    assert iface["in_port_width"] == iface["out_port_width"] == iface["port_width"] == 64
    # 128 bipolar inputs = 2 beats; 3 labels of 4 bits = 12 bits = 1 beat
    assert iface["out_dtype"] == "UINT4" and (iface["in_beats"], iface["out_beats"]) == (2, 1)
    ops = [layer["op"] for layer in iface["layers"]]
    assert ops.count("dwc") >= 3 and ops[0] == "axis_in" and ops[-1] == "axis_out"
    top = (out / "top.cpp").read_text()
    assert "#pragma HLS DATAFLOW" in top and "depth=7" in top  # the MVAU's out_fifo_depth attribute
    # one stream per StreamFIFO node, each with its depth
    assert top.count("#pragma HLS STREAM variable=StreamFIFO_") == len(iface["streams"])
    assert "hls::stream<fpgabnn::AxisWord<64> >& s_axis" in top
    tcl = (out / "hls.tcl").read_text()
    assert "create_clock -period 5.0" in tcl and f"set_top {iface['top_name']}" in tcl
    files, _ = render_sources(model, "t", 4.0, part="xczu3eg-sbva484-1-e")
    assert "set_part {xczu3eg-sbva484-1-e}" in files["hls.tcl"]
    # unchanged sources reuse the compiled testbench
    first = compile_csim(out)
    mtime = first.stat().st_mtime_ns
    assert compile_csim(out) == first and first.stat().st_mtime_ns == mtime


def test_broken_chains_are_refused(tmp_path):
    rng = np.random.default_rng(22)
    model = conv_chain(rng)
    # a datatype mismatch between connected layers
    bad = chain_model([
        ("MVAU", dict(mw=4, mh=2, vec_shape=[1], in_dtype="BIPOLAR", acc_dtype="INT8"), {"w": bipolar(rng, (4, 2))}),
        ("LabelSelect", dict(channels=2, k=1, in_dtype="INT4"), {}),
    ], [1, 4], "BIPOLAR")
    with pytest.raises(UserError, match="datatypes of connected layers"):
        generate_hls(bad, tmp_path / "a", top_name="t", clock_ns=10.0)
    # a non-hardware node between two hardware layers
    node = model.graph.node[2]
    model.graph.node.insert(2, helper.make_node("Identity", [node.input[0]], ["detour"]))
    node.input[0] = "detour"
    with pytest.raises(UserError, match="one linear chain"):
        generate_hls(model, tmp_path / "b", top_name="t", clock_ns=10.0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_run_csim_refuses_out_of_range_inputs(conv_build):
    _, out, _ = conv_build
    with pytest.raises(UserError, match="do not fit BIPOLAR"):
        run_csim(out, np.zeros((1, 8, 8, 2)))
    with pytest.raises(UserError, match="not N frames"):
        run_csim(out, np.ones((1, 8, 8, 3)))
