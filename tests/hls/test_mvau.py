"""The MVAU kernel against its numpy reference, in both modes, over folding grids and sampled shapes.

Every batch of configurations is compiled into one C++ program (hls_harness), so a test costs one
g++ run however many shapes it checks."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpgabnn.codegen.hls_contexts import pack_weight_words
from fpgabnn.errors import UserError
from qonnx.core.datatype import DataType
from hls_harness import bipolar, check_cases, ints, layer_case, single_model
from qonnx.custom_op.registry import getCustomOp


def mvau_model(mw, mh, pe, simd, vecs, in_dtype, acc_dtype, weights, thresholds=None):
    attrs = dict(mw=mw, mh=mh, pe=pe, simd=simd, vec_shape=[1, *vecs], in_dtype=in_dtype, acc_dtype=acc_dtype)
    params = {"w": weights} if thresholds is None else {"w": weights, "t": thresholds}
    return single_model("MVAU", attrs, params, [1, *vecs, mw], in_dtype)


def mvau_case(rng, mw, mh, pe, simd, vecs=(), in_dtype="BIPOLAR", thresholds="random", frames=3, x=None,
              label=""):
    """A case with random weights (and inputs, unless given); thresholds: None, 'random' (spanning
    beyond the reachable dot range on both sides, so always-on and never-on channels occur) or an array."""
    dt = DataType[in_dtype]
    m = 1 if in_dtype == "BIPOLAR" else max(abs(int(dt.min())), abs(int(dt.max())))
    dot_max = mw * m
    acc_dtype = f"INT{int(dot_max).bit_length() + 1}"
    w = bipolar(rng, (mw, mh))
    if isinstance(thresholds, str):
        thresholds = rng.integers(-dot_max - 3, dot_max + 4, size=(mh, 1))
    model = mvau_model(mw, mh, pe, simd, list(vecs), in_dtype, acc_dtype, w, thresholds)
    if x is None:
        x = ints(rng, in_dtype, (frames, *vecs, mw))
    mode = "t" if thresholds is not None else "acc"
    return layer_case(model, x, label or f"mw{mw}_mh{mh}_pe{pe}_simd{simd}_v{vecs}_{in_dtype}_{mode}")


def test_mvau_folding_grid(tmp_path, csim_cache):
    """Fixed grid: the fold extremes (PE=1/MH, SIMD=1/MW), several input vectors per frame, integer
    inputs of several widths, words wider than one 64-bit limb, and no-threshold outputs."""
    rng = np.random.default_rng(1)
    cases = [
        mvau_case(rng, 16, 8, 1, 1),
        mvau_case(rng, 16, 8, 8, 16),
        mvau_case(rng, 16, 8, 2, 4, vecs=(2, 3)),
        mvau_case(rng, 24, 6, 3, 8, thresholds=None),
        mvau_case(rng, 130, 4, 2, 130),  # 130-bit weight words: three 64-bit limbs
        mvau_case(rng, 72, 3, 1, 72, thresholds=None),
        mvau_case(rng, 12, 6, 2, 3, in_dtype="INT8"),
        mvau_case(rng, 12, 6, 3, 4, in_dtype="INT8", thresholds=None),
        mvau_case(rng, 10, 4, 4, 5, in_dtype="UINT8", vecs=(4,), thresholds=None),
        mvau_case(rng, 9, 5, 5, 9, in_dtype="INT2"),
        mvau_case(rng, 8, 4, 2, 2, in_dtype="UINT3", thresholds=None),
    ]
    check_cases(cases, tmp_path, csim_cache)


@pytest.mark.parametrize("defines", [(), ("FPGABNN_BITWISE_POPCOUNT",)], ids=["csim_popcount", "synthesis_popcount"])
def test_mvau_threshold_edges(tmp_path, csim_cache, defines):
    """Thresholds at and beyond the edges of the reachable dot range, and between popcount steps
    (odd T in XNOR mode: dot = 2P - MW only takes values of MW's parity). All-(+1) and all-(-1)
    inputs reach the ends of the range. Run with both forms of the popcount (common.hpp), on words of
    one and of three 64-bit limbs."""
    rng = np.random.default_rng(2)
    mw, mh = 8, 16
    t = np.array([-100, -9, -8, -7, -1, 0, 1, 2, 3, 7, 8, 9, 100, -3, 5, 6]).reshape(mh, 1)
    x = bipolar(rng, (20, mw))
    x[0], x[1] = 1, -1
    xi = ints(rng, "INT2", (20, mw))
    xi[0], xi[1] = 1, -2
    cases = [mvau_case(rng, mw, mh, 4, 2, thresholds=t, x=x, label="xnor_edges"),
             mvau_case(rng, mw, mh, 4, 4, in_dtype="INT2", thresholds=2 * t, x=xi, label="int_edges"),
             mvau_case(rng, 130, 4, 2, 130, frames=10, label="wide_words")]
    check_cases(cases, tmp_path, csim_cache, defines)


@st.composite
def mvau_shapes(draw):
    simd, sf = draw(st.integers(1, 9)), draw(st.integers(1, 6))
    pe, nf = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    vecs = draw(st.sampled_from([(), (2,), (1, 3)]))
    in_dtype = draw(st.sampled_from(["BIPOLAR", "BIPOLAR", "INT4", "UINT2", "INT8"]))
    thresholds = draw(st.sampled_from(["random", None]))
    return dict(mw=simd * sf, mh=pe * nf, pe=pe, simd=simd, vecs=vecs, in_dtype=in_dtype,
                thresholds=thresholds, seed=draw(st.integers(0, 2**31)))


@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(mvau_shapes(), min_size=6, max_size=6))
def test_mvau_sampled_shapes(tmp_path_factory, csim_cache, shapes):
    """Hypothesis draws batches of (MW, MH, PE, SIMD) with PE | MH and SIMD | MW, both modes, with and
    without thresholds; each batch is one compiled program."""
    cases = []
    for s in shapes:
        rng = np.random.default_rng(s.pop("seed"))
        cases.append(mvau_case(rng, frames=2, **s))
    check_cases(cases, tmp_path_factory.mktemp("mvau"), csim_cache)


def test_weight_layout_matches_finn_convention():
    """Bit s of word (p, nf*SF + sf) is W[sf*SIMD + s][nf*PE + p]."""
    rng = np.random.default_rng(3)
    mw, mh, pe, simd = 6, 4, 2, 3
    w = bipolar(rng, (mw, mh))
    bits = pack_weight_words(w, pe, simd)
    sf_ = mw // simd
    for p in range(pe):
        for nf in range(mh // pe):
            for sf in range(sf_):
                for s in range(simd):
                    assert bits[p, nf * sf_ + sf, s] == (w[sf * simd + s, nf * pe + p] > 0)


def test_mvau_refuses_nonbinary_weights_and_narrow_accumulators():
    w = np.full((4, 2), 1.0)
    w[0, 0] = 0.5
    model = mvau_model(4, 2, 1, 1, [], "BIPOLAR", "INT8", w)
    with pytest.raises(UserError, match="must be \\+-1"):
        getCustomOp(model.graph.node[0]).hw_params(model)
    model = mvau_model(64, 2, 1, 1, [], "INT8", "INT8", np.ones((64, 2)))
    with pytest.raises(UserError, match="widen acc_dtype"):
        getCustomOp(model.graph.node[0]).hw_params(model)
