"""Thresholding, sliding window, max-pool, label select and width converters against their numpy
references; one compiled program per kernel family (hls_harness)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.codegen.hls_contexts import (
    dwc_context_for,
)
from fpgabnn.errors import UserError
from fpgabnn.sim.packing import pack_words, unpack_words
from hls_harness import Case, check_cases, ints, layer_case, single_model

SETTINGS = dict(deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---- Thresholding -----------------------------------------------------------------------------------
def thr_case(rng, c, pe, vecs, in_dtype, out_dtype, thresholds, out_base=0, frames=4, x=None, label=""):
    attrs = dict(channels=c, pe=pe, vec_shape=[1, *vecs], in_dtype=in_dtype, out_dtype=out_dtype, out_base=out_base)
    model = single_model("Thresholding", attrs, {"t": thresholds}, [1, *vecs, c], in_dtype)
    if x is None:
        x = ints(rng, in_dtype, (frames, *vecs, c))
    return layer_case(model, x, label)


def ascending(rng, rows, nt, lo, hi):
    return np.sort(rng.integers(lo, hi, size=(rows, nt)), axis=1).astype(float)


def test_thresholding(tmp_path, csim_cache):
    """Table and comparator implementations; per-channel and shared rows; bipolar and integer
    outputs; thresholds outside the input range and fractional ones (x >= 2.5 <=> x >= 3)."""
    rng = np.random.default_rng(10)
    every_pixel = np.arange(256).reshape(1, 16, 16, 1)  # all UINT8 values through the table
    cases = [
        thr_case(rng, 1, 1, (16, 16), "UINT8", "BIPOLAR", np.array([[128.0]]), x=every_pixel, label="lut_bipolar"),
        thr_case(rng, 1, 1, (16, 16), "UINT8", "INT8", np.arange(-127.5, 127)[None] + 128, out_base=-128,
                 x=every_pixel, label="lut_uint8_to_int8"),
        thr_case(rng, 6, 3, (2, 2), "UINT8", "INT3", ascending(rng, 6, 7, -10, 270), out_base=-4, label="lut_per_channel"),
        thr_case(rng, 4, 2, (3,), "INT4", "BIPOLAR", np.array([[-8.0], [7.0], [8.0], [0.5]]), label="lut_int4_edges"),
        thr_case(rng, 3, 1, (5,), "INT12", "UINT3", ascending(rng, 3, 7, -2100, 2100), label="cmp_per_channel"),
        thr_case(rng, 4, 4, (), "INT10", "BIPOLAR", np.array([[-600.0], [-3.5], [511.0], [600.0]]), label="cmp_edges"),
        thr_case(rng, 8, 2, (2,), "UINT9", "INT2", ascending(rng, 1, 3, -5, 520), out_base=-2, label="cmp_shared"),
    ]
    assert [c.ctx["mode"] for c in cases] == ["lut"] * 4 + ["compare"] * 3
    check_cases(cases, tmp_path, csim_cache)


def test_thresholding_refuses_bad_thresholds():
    model = single_model("Thresholding", dict(channels=2, pe=1, vec_shape=[1], in_dtype="UINT8", out_dtype="UINT2"),
                         {"t": np.array([[3.0, 1.0], [1.0, 2.0]])}, [1, 2], "UINT8")
    with pytest.raises(UserError, match="ascending"):
        getCustomOp(model.graph.node[0]).hw_params(model)
    model = single_model("Thresholding", dict(channels=1, pe=1, vec_shape=[1], in_dtype="UINT8", out_dtype="UINT2"),
                         {"t": np.arange(5.0)[None]}, [1, 1], "UINT8")
    with pytest.raises(UserError, match="do not fit UINT2"):
        getCustomOp(model.graph.node[0]).hw_params(model)


# ---- SlidingWindow ----------------------------------------------------------------------------------
def swg_case(rng, h, w, c, simd, k, s, pads=(0, 0, 0, 0), dtype="INT4", pad_value=0, frames=2, label="",
             parallel=False):
    attrs = dict(ifm_dim=[h, w], channels=c, kernel=list(k), stride=list(s), pads=list(pads),
                 pad_value=pad_value, in_dtype=dtype, simd=simd, parallel_window=int(parallel))
    model = single_model("SlidingWindow", attrs, {}, [1, h, w, c], dtype)
    return layer_case(model, ints(rng, dtype, (frames, h, w, c)), label or f"swg_{h}x{w}x{c}_k{k}_s{s}_p{pads}")


def test_sliding_window(tmp_path, csim_cache):
    """3x3 convolutions with and without padding (a non-zero pad value), bipolar maps, strides larger
    than the kernel (rows that no window uses), asymmetric kernels/strides/pads, 1x1 kernels."""
    rng = np.random.default_rng(11)
    cases = [
        swg_case(rng, 6, 6, 4, 2, (3, 3), (1, 1), (1, 1, 1, 1), "INT8", pad_value=-3),
        swg_case(rng, 7, 7, 2, 1, (3, 3), (1, 1), dtype="BIPOLAR"),
        swg_case(rng, 8, 8, 6, 6, (3, 3), (1, 1), dtype="BIPOLAR"),
        swg_case(rng, 6, 5, 3, 1, (2, 2), (2, 2), dtype="UINT2"),
        swg_case(rng, 7, 9, 2, 2, (3, 2), (2, 1), (2, 0, 1, 3), "INT4", pad_value=5),
        swg_case(rng, 5, 5, 4, 2, (1, 1), (2, 2), dtype="BIPOLAR"),
        swg_case(rng, 4, 4, 1, 1, (4, 4), (1, 1), dtype="INT3"),
        swg_case(rng, 1, 8, 2, 1, (1, 3), (1, 2), (0, 1, 0, 1), "INT4", pad_value=-1),
    ]
    check_cases(cases, tmp_path, csim_cache)


@st.composite
def swg_shapes(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    pads = [draw(st.integers(0, 2)) for _ in range(4)]
    h = draw(st.integers(max(1, kh - pads[0] - pads[2]), 8))
    w = draw(st.integers(max(1, kw - pads[1] - pads[3]), 8))
    simd, cf = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return dict(h=h, w=w, c=simd * cf, simd=simd, k=(kh, kw), s=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                pads=tuple(pads), dtype="INT4", pad_value=draw(st.integers(-8, 7)), seed=draw(st.integers(0, 2**31)))


@settings(max_examples=2, **SETTINGS)
@given(st.lists(swg_shapes(), min_size=8, max_size=8))
def test_sliding_window_sampled(tmp_path_factory, csim_cache, shapes):
    """Hypothesis batches of window geometries (kernel, stride, padding on each side, folding)."""
    cases = [swg_case(np.random.default_rng(s.pop("seed")), **s) for s in shapes]
    check_cases(cases, tmp_path_factory.mktemp("swg"), csim_cache)


def test_sliding_window_parallel(tmp_path, csim_cache):
    """Parallel-window mode: one word per output pixel with its whole (kh, kw, c) window, the same elements
    as the reference; CNV's 3-channel 8-bit first layer, padding, strides, asymmetric kernels, bipolar maps."""
    rng = np.random.default_rng(31)
    cases = [
        swg_case(rng, 8, 8, 3, 3, (3, 3), (1, 1), dtype="INT8", parallel=True),
        swg_case(rng, 6, 6, 4, 4, (3, 3), (1, 1), (1, 1, 1, 1), "INT8", pad_value=-3, parallel=True),
        swg_case(rng, 7, 9, 2, 2, (3, 2), (2, 1), (2, 0, 1, 3), "INT4", pad_value=5, parallel=True),
        swg_case(rng, 7, 7, 5, 5, (2, 2), (3, 3), dtype="BIPOLAR", parallel=True),
        swg_case(rng, 4, 4, 1, 1, (4, 4), (1, 1), dtype="INT3", parallel=True),
    ]
    assert all(c.out_epw == c.ctx["kh"] * c.ctx["kw"] * c.ctx["c"] and c.ctx["parallel"] for c in cases)
    check_cases(cases, tmp_path, csim_cache)


@settings(max_examples=2, **SETTINGS)
@given(st.lists(swg_shapes(), min_size=6, max_size=6))
def test_sliding_window_parallel_sampled(tmp_path_factory, csim_cache, shapes):
    cases = []
    for s in shapes:
        s["simd"] = s["c"]
        cases.append(swg_case(np.random.default_rng(s.pop("seed")), parallel=True, **s))
    check_cases(cases, tmp_path_factory.mktemp("swgp"), csim_cache)


def test_parallel_window_needs_simd_equal_to_channels():
    model = single_model("SlidingWindow", dict(ifm_dim=[4, 4], channels=4, kernel=[3, 3], in_dtype="INT4", simd=2,
                                               parallel_window=1), {}, [1, 4, 4, 4], "INT4")
    with pytest.raises(UserError, match="parallel_window=1 needs SIMD = channels = 4"):
        getCustomOp(model.graph.node[0]).hw_params(model)


def test_sliding_window_refuses_bipolar_padding():
    model = single_model("SlidingWindow", dict(ifm_dim=[4, 4], channels=1, kernel=[3, 3], pads=[1, 1, 1, 1],
                                               in_dtype="BIPOLAR"), {}, [1, 4, 4, 1], "BIPOLAR")
    with pytest.raises(UserError, match="bipolar"):
        getCustomOp(model.graph.node[0]).hw_params(model)


# ---- MaxPool ----------------------------------------------------------------------------------------
def pool_case(rng, h, w, c, pe, k, s, dtype="BIPOLAR", frames=3):
    attrs = dict(ifm_dim=[h, w], channels=c, kernel=list(k), stride=list(s), dtype=dtype, pe=pe)
    model = single_model("MaxPool", attrs, {}, [1, h, w, c], dtype)
    return layer_case(model, ints(rng, dtype, (frames, h, w, c)), f"pool_{h}x{w}x{c}_pe{pe}_k{k}_s{s}_{dtype}")


def test_maxpool(tmp_path, csim_cache):
    """2x2/2 on bipolar maps (OR of bits), odd sizes (floor mode drops the last row/column), windows
    with gaps, and overlapping windows (sliding_window + window_max) on signed integers."""
    rng = np.random.default_rng(12)
    cases = [
        pool_case(rng, 4, 4, 4, 2, (2, 2), (2, 2)),
        pool_case(rng, 5, 7, 3, 3, (2, 2), (2, 2)),
        pool_case(rng, 6, 6, 2, 1, (2, 2), (3, 3), "INT4"),
        pool_case(rng, 6, 4, 4, 4, (3, 1), (3, 2), "INT8"),
        pool_case(rng, 7, 7, 2, 2, (3, 3), (2, 2), "INT4"),
        pool_case(rng, 5, 6, 3, 1, (3, 2), (1, 1), "BIPOLAR"),
        pool_case(rng, 4, 4, 2, 2, (4, 4), (4, 4), "UINT3"),
    ]
    assert [c.ctx["overlap"] for c in cases] == [False] * 4 + [True] * 2 + [False]
    check_cases(cases, tmp_path, csim_cache)


# ---- LabelSelect ------------------------------------------------------------------------------------
def label_case(rng, c, pe, k, dtype, lo, hi, frames=30):
    attrs = dict(channels=c, k=k, in_dtype=dtype, pe=pe)
    model = single_model("LabelSelect", attrs, {}, [1, c], dtype)
    return layer_case(model, rng.integers(lo, hi + 1, size=(frames, c)), f"topk_c{c}_pe{pe}_k{k}")


def test_label_select(tmp_path, csim_cache):
    """Top-1, top-k and full sort, several PE; scores from narrow ranges so that ties are common
    (ties go to the lower index), and extreme values of the score type."""
    rng = np.random.default_rng(13)
    cases = [
        label_case(rng, 10, 1, 1, "INT8", -3, 3),
        label_case(rng, 10, 2, 3, "INT8", -2, 2),
        label_case(rng, 10, 5, 10, "INT8", -128, 127),
        label_case(rng, 12, 4, 5, "INT16", -1, 1),
        label_case(rng, 7, 7, 2, "UINT4", 0, 15),
        label_case(rng, 1, 1, 1, "INT4", -8, 7),
    ]
    check_cases(cases, tmp_path, csim_cache)
    with pytest.raises(UserError, match="1 <= k"):
        model = single_model("LabelSelect", dict(channels=4, k=5, in_dtype="INT8"), {}, [1, 4], "INT8")
        getCustomOp(model.graph.node[0]).hw_params(model)


# ---- data-width converters --------------------------------------------------------------------------
def dwc_case(rng, dtype, in_epw, out_epw, elems, frames=3):
    """Elements must come out in the same order, only regrouped into words of another size."""
    ew = DataType[dtype].bitwidth()
    x = ints(rng, dtype, (frames, elems))
    ctx = dwc_context_for(f"dwc_{in_epw}_{out_epw}", in_epw * ew, out_epw * ew, elems // in_epw)
    return Case(ctx, x, x.copy(), dtype, in_epw, dtype, out_epw, f"dwc_{dtype}_{in_epw}to{out_epw}")


def test_dwc(tmp_path, csim_cache):
    rng = np.random.default_rng(14)
    cases = [dwc_case(rng, "BIPOLAR", 4, 16, 64), dwc_case(rng, "BIPOLAR", 16, 4, 64),
             dwc_case(rng, "INT8", 5, 10, 30), dwc_case(rng, "INT8", 10, 1, 30),
             dwc_case(rng, "BIPOLAR", 3, 3, 9), dwc_case(rng, "UINT3", 1, 7, 21),
             dwc_case(rng, "BIPOLAR", 100, 2, 200)]
    check_cases(cases, tmp_path, csim_cache)


def test_harness_packing_is_little_endian():
    """The harness and testbenches rely on element 0 in the lowest bits."""
    assert pack_words(np.array([1, -1, -1, 1]), "BIPOLAR", 4) == [0b1001]
    assert pack_words(np.array([-1, 2]), "INT4", 2) == [0x2F]
    assert unpack_words([0x2F], "INT4", 2).tolist() == [-1, 2]
