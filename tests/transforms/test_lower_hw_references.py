"""The hardware layers' numpy references (execute_node) against independent implementations: qonnx's Im2Col
and XnorPopcountMatMul, onnxruntime's Conv and MaxPool, OR of bits, and a plain sort for top-k ties."""

from __future__ import annotations

import numpy as np
import onnxruntime as rt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.general.xnorpopcount import xnorpopcountmatmul
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.hw.base import DOMAIN
from fpgabnn.hw.mvau import popcount_thresholds

FAST = settings(max_examples=40, deadline=None)


def run_hw(op_type, x, *consts, **attrs):
    """Execute one fpgabnn.hw node through qonnx's custom-op registry; returns (output, the CustomOp)."""
    names = ["x"] + [f"c{i}" for i in range(len(consts))]
    node = helper.make_node(op_type, names, ["y"], domain=DOMAIN, name=f"{op_type}_0", **attrs)
    ctx = {"x": x.astype(np.float32), **{f"c{i}": np.asarray(c, np.float32) for i, c in enumerate(consts)}}
    op = getCustomOp(node)
    op.execute_node(ctx, None)
    return ctx["y"], op


def ort_single(node, x, inits=()):
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], list(inits))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    proto.ir_version = 8
    return rt.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@st.composite
def window_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(max(kh, 2), 7)), draw(st.integers(max(kw, 2), 7))
    pads = draw(st.lists(st.integers(0, 1), min_size=4, max_size=4))
    stride = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    c = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31))
    return kh, kw, h, w, c, pads, stride, seed


@FAST
@given(window_cases())
def test_sliding_window_equals_qonnx_im2col(case):
    kh, kw, h, w, c, pads, stride, seed = case
    # batch 1: qonnx's Im2Col mixes up the samples of a larger batch
    x = np.random.default_rng(seed).integers(-128, 128, size=(1, h, w, c)).astype(np.float32)
    got, op = run_hw("SlidingWindow", x, ifm_dim=[h, w], channels=c, kernel=[kh, kw], stride=stride, pads=pads,
                     pad_value=0, in_dtype="INT8")
    node = helper.make_node("Im2Col", ["x"], ["y"], domain="qonnx.custom_op.general", stride=stride,
                            kernel_size=[kh, kw], input_shape=f"(1, {h}, {w}, {c})", pad_amount=pads, pad_value=0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, h, w, c])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = ModelWrapper(helper.make_model(graph))
    model.set_tensor_datatype("x", DataType["INT8"])
    want = execute_onnx(model, {"x": x})["y"]
    assert np.array_equal(got, want)
    assert tuple(got.shape[1:]) == tuple(op.out_shape()[1:])


@FAST
@given(window_cases(), st.integers(1, 4))
def test_sliding_window_then_mvau_equals_onnx_conv(case, co):
    """SlidingWindow + MVAU with weight rows in (kh, kw, ci) order is the ONNX convolution (NCHW, OIHW)."""
    kh, kw, h, w, c, pads, stride, seed = case
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(1, c, h, w)).astype(np.float32)
    weight = rng.choice([-1.0, 1.0], size=(co, c, kh, kw)).astype(np.float32)
    win, swg = run_hw("SlidingWindow", x.transpose(0, 2, 3, 1), ifm_dim=[h, w], channels=c, kernel=[kh, kw],
                      stride=stride, pads=pads, in_dtype="INT8")
    oh, ow = swg.ofm_dim()
    rows = weight.transpose(2, 3, 1, 0).reshape(kh * kw * c, co)
    got, _ = run_hw("MVAU", win, rows, mw=kh * kw * c, mh=co, vec_shape=[1, oh, ow], in_dtype="INT8",
                    acc_dtype="INT16")
    from onnx import numpy_helper

    conv = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[kh, kw], strides=stride, pads=pads)
    want = ort_single(conv, x, [numpy_helper.from_array(weight, "w")])
    assert np.array_equal(got, want.transpose(0, 2, 3, 1))


@FAST
@given(st.integers(1, 70), st.integers(1, 9), st.integers(1, 5), st.integers(0, 2**31))
def test_mvau_xnor_equals_qonnx_xnorpopcount(mw, mh, rows, seed):
    """dot = 2 * popcount(XNOR) - MW, and the dot-domain threshold T is popcount >= popcount_thresholds(T)."""
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(rows, mw)).astype(np.float32)
    w = rng.choice([-1.0, 1.0], size=(mw, mh)).astype(np.float32)
    dot, op = run_hw("MVAU", x, w, mw=mw, mh=mh, vec_shape=[rows], in_dtype="BIPOLAR", acc_dtype="INT16")
    assert op.is_xnor()
    popcount = xnorpopcountmatmul((x + 1) / 2, (w + 1) / 2)
    assert np.array_equal(dot, 2 * popcount - mw)
    # thresholds anywhere, including outside the reachable range: the popcount form agrees with the dot form
    t = rng.integers(-mw - 3, mw + 4, size=mh)
    out, _ = run_hw("MVAU", x, w, t.reshape(mh, 1), mw=mw, mh=mh, vec_shape=[rows], in_dtype="BIPOLAR",
                    acc_dtype="INT16")
    assert np.array_equal(out, np.where(dot >= t, 1.0, -1.0))
    pt = popcount_thresholds(t, mw)
    assert np.all((pt >= 0) & (pt <= mw + 1))
    assert np.array_equal(out, np.where(popcount >= pt, 1.0, -1.0))


def test_popcount_thresholds_exhaustive():
    for mw in range(1, 12):
        p = np.arange(mw + 1)
        dot = 2 * p - mw
        for t in range(-mw - 4, mw + 5):
            pt = popcount_thresholds(np.array([t]), mw)[0]
            assert np.array_equal(p >= pt, dot >= t), (mw, t)


@st.composite
def pool_cases(draw):
    k = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    s = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    h, w = draw(st.integers(k[0], 8)), draw(st.integers(k[1], 8))
    return k, s, h, w, draw(st.integers(1, 5)), draw(st.integers(0, 2**31))


@FAST
@given(pool_cases())
def test_maxpool_bipolar_is_or_of_bits(case):
    k, s, h, w, c, seed = case
    x = np.random.default_rng(seed).choice([-1.0, 1.0], size=(2, h, w, c)).astype(np.float32)
    got, op = run_hw("MaxPool", x, ifm_dim=[h, w], channels=c, kernel=k, stride=s, dtype="BIPOLAR")
    oh, ow = op.ofm_dim()
    bits = x > 0
    want = np.zeros((2, oh, ow, c), bool)
    for i in range(oh):
        for j in range(ow):
            window = bits[:, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1], :]
            want[:, i, j, :] = np.logical_or.reduce(window.reshape(2, -1, c), axis=1)
    assert np.array_equal(got, np.where(want, 1.0, -1.0))
    assert got.shape[1:] == op.out_shape()[1:]


@FAST
@given(pool_cases())
def test_maxpool_integer_equals_onnx(case):
    k, s, h, w, c, seed = case
    x = np.random.default_rng(seed).integers(-128, 128, size=(1, c, h, w)).astype(np.float32)
    got, _ = run_hw("MaxPool", x.transpose(0, 2, 3, 1), ifm_dim=[h, w], channels=c, kernel=k, stride=s, dtype="INT8")
    want = ort_single(helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=k, strides=s), x)
    assert np.array_equal(got, want.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_labelselect_ties_go_to_lower_index(k):
    rng = np.random.default_rng(k)
    x = rng.integers(-3, 4, size=(200, 5)).astype(np.float32)  # many ties
    x[0] = 1.0  # all equal
    got, op = run_hw("LabelSelect", x, channels=5, k=k, in_dtype="INT8")
    for row, idx in zip(x, got.astype(int)):
        ranked = sorted(range(5), key=lambda i: (-row[i], i))
        assert list(idx) == ranked[:k]
    assert np.array_equal(got[0], np.arange(k))
    if k == 1:
        assert np.array_equal(got[:, 0], np.argmax(x, axis=1))
    assert op.out_dtype().allowed(4)


@FAST
@given(st.integers(1, 4), st.integers(1, 6), st.integers(0, 2**31))
def test_thresholding_counts_thresholds(channels, levels, seed):
    """out = base + #(x >= T[c, i]) per channel (bipolar: 2 * count - 1) for every UINT8 input value."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 257, size=(channels, levels)), axis=1)
    x = np.tile(np.arange(256, dtype=np.float32)[:, None], (1, channels))
    got, _ = run_hw("Thresholding", x, t, channels=channels, vec_shape=[256], in_dtype="UINT8", out_dtype="INT8",
                    out_base=-3)
    want = -3 + (x[:, :, None] >= t[None, :, :]).sum(axis=2)
    assert np.array_equal(got, want)
    got, _ = run_hw("Thresholding", x, t[:, :1], channels=channels, vec_shape=[256], in_dtype="UINT8",
                    out_dtype="BIPOLAR")
    assert np.array_equal(got, np.where(x >= t[:, 0][None, :], 1.0, -1.0))
