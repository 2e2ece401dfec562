"""Threshold exactness, exhaustively: single layers whose inputs realise EVERY accumulator value the lowering
considers reachable, with adversarial float chains (ties exactly on reachable values, half-way values, float32
rounding at the decision, zero/huge/negative variances, eps effects, negative and zero gamma and scales).
The reference is qonnx's execute_onnx of the source graph in its own shapes; the lowered graph must agree on
every value of every channel."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.errors import UserError
from lowering_builders import GraphBuilder, adversarial_bn, hw_nodes, run_batched, run_qonnx


def lower(model):
    from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source

    source = prepare_source(model, pixel_range="raw")
    return source, lower_to_hw(source)


def float_ties(rng, channels, values, step, offset=None):
    """BN parameters that make the float32 BatchNorm output land within an ulp or two of 0 at a reachable
    value (plus a conv bias ``offset``): beta = -gamma * (t - mean) / sqrt(var + eps) computed in float64, so
    float32 rounding decides."""
    eps = np.float32(1e-5)
    t = rng.choice(values, size=channels).astype(np.float64) * step
    if offset is not None:
        t = t + offset.astype(np.float64)
    mean = (t + rng.uniform(-3, 3, size=channels) * step).astype(np.float32)
    var = np.exp(rng.uniform(-10, 6, size=channels)).astype(np.float32)
    gamma = (rng.choice([-1, 1], size=channels) * np.exp(rng.normal(0, 2, size=channels))).astype(np.float32)
    beta = (-gamma.astype(np.float64) * (t - mean) / np.sqrt(var.astype(np.float64) + eps)).astype(np.float32)
    return {"gamma": gamma, "beta": beta, "mean": mean, "var": var, "eps": float(eps)}


def chain_params(kind, rng, channels, reach, step, values, offset=None):
    """(BN parameters, [(op, per-channel constant)] before BN, [(op, constant)] after BN) for chain ``kind``;
    ``offset``: a per-channel conv bias added before the chain."""
    bn = adversarial_bn(rng, channels, reach=reach, step=step)
    if offset is not None:
        bn["mean"] = bn["mean"] + offset.astype(np.float32)
    bn["eps"] = 1e-4
    before, after = [], []
    if kind == "ties":
        bn = float_ties(rng, channels, values, step, offset)
    elif kind == "scale_before":  # learned per-channel scale before BN: negative, zero, fractional
        s = rng.choice([-2.0, -0.75, 0.0, 0.3, 1.0, 5.0], size=channels).astype(np.float32)
        before = [("Mul", s)]
        bn["mean"], bn["var"] = bn["mean"] * s, bn["var"] * s**2
    elif kind == "affine_after":  # BN -> per-channel Mul (may flip) -> Add
        after = [("Mul", rng.choice([-1.5, -1.0, 0.0, 0.5, 3.0], size=channels).astype(np.float32)),
                 ("Add", rng.normal(0, 0.5, size=channels).astype(np.float32))]
    elif kind == "div_sub":  # Div by a signed per-channel constant and Sub before BN
        d = rng.choice([-3.0, -0.5, 0.25, 7.0], size=channels).astype(np.float32)
        before = [("Div", d), ("Sub", rng.normal(0, step, size=channels).astype(np.float32))]
        bn["mean"], bn["var"] = bn["mean"] / d, bn["var"] / d**2
    elif kind == "variances":  # extreme variances and eps effects
        bn["var"] = rng.choice([0.0, -1e-4, -1.0, 1e-30, 1e-12, 1e12, 1e30], size=channels).astype(np.float32)
        bn["eps"] = float(rng.choice([1e-4, 0.5]))
    return bn, before, after


def add_chain(b, bn, before, after, shape):
    for op, const in before:
        b.binary(op, const.reshape(shape))
    b.batchnorm(bn["gamma"], bn["beta"], bn["mean"], bn["var"], eps=bn["eps"])
    for op, const in after:
        b.binary(op, const.reshape(shape))


CHAINS = ["adversarial", "ties", "scale_before", "affine_after", "div_sub", "variances"]


def bipolar_images(w0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images (pixel 255 = +1, 0 = -1 after the input sign) x_t with x_t . w0 = t for every t in -N..N step 2."""
    n = len(w0)
    targets = np.arange(-n, n + 1, 2)
    xs = np.tile(w0, (len(targets), 1))
    for i, t in enumerate(targets):
        xs[i, : (n - t) // 2] *= -1  # each flip lowers the dot product by 2
    assert np.array_equal(xs @ w0, targets)
    return np.where(xs > 0, 255.0, 0.0).astype(np.float32), targets


@pytest.mark.parametrize("kind", CHAINS)
@pytest.mark.parametrize("n", [1, 24])
def test_bipolar_dense_layer_every_accumulator(kind, n):
    """[1, N] pixels -> sign -> MatMul (columns +-w0) -> chain -> sign: every t in -N..N in every channel."""
    rng = np.random.default_rng(len(kind) * 100 + n)
    channels = 44
    w0 = rng.choice([-1.0, 1.0], size=n)
    col_sign = rng.choice([-1.0, 1.0], size=channels)
    b = GraphBuilder([1, n])
    b.sub(np.float32(127.5))
    b.bipolar()
    b.matmul((w0[:, None] * col_sign[None, :]).astype(np.float32))
    add_chain(b, *chain_params(kind, rng, channels, float(n), 2.0, np.arange(-n, n + 1, 2)), [channels])
    b.bipolar()
    source, lowered = lower(b.model())
    images, targets = bipolar_images(w0)
    ctx = run_batched(source, images, keep=True)
    acc = ctx[[nd.output[0] for nd in source.graph.node if nd.op_type == "MatMul"][0]]
    assert np.array_equal(acc, targets[:, None] * col_sign[None, :])  # every value realised in every channel
    want = run_qonnx(source, images)
    assert np.array_equal(run_qonnx(lowered, images), want)
    if kind in ("adversarial", "ties") and n > 1:
        bn_vals = ctx[[nd.output[0] for nd in source.graph.node if nd.op_type == "BatchNormalization"][0]]
        assert np.any(bn_vals == 0) and np.any(want == 1) and np.any(want == -1)


@pytest.mark.parametrize("kind", CHAINS)
@pytest.mark.parametrize("bias", [False, True])
def test_bipolar_conv_every_accumulator(kind, bias):
    """1x1 conv on N bipolar channels: each spatial position holds one accumulator value, so a single image in
    the source's own NCHW shapes covers -N..N in every output channel (with and without a conv bias)."""
    rng = np.random.default_rng(len(kind) + 50 * bias)
    n, channels = 12, 22
    w0 = rng.choice([-1.0, 1.0], size=n)
    col_sign = rng.choice([-1.0, 1.0], size=channels)
    pixels, targets = bipolar_images(w0)  # [N+1, N]
    h, w = 1, len(targets)
    b = GraphBuilder([1, n, h, w])
    b.sub(np.float32(127.5))
    b.bipolar()
    offset = rng.normal(0, 1.5, size=channels).astype(np.float32) if bias else None
    b.conv((col_sign[:, None] * w0[None, :]).reshape(channels, n, 1, 1).astype(np.float32), bias=offset)
    add_chain(b, *chain_params(kind, rng, channels, float(n), 2.0, targets, offset), [1, channels, 1, 1])
    b.bipolar()
    source, lowered = lower(b.model())
    image = pixels.T.reshape(1, n, h, w)
    ctx = run_batched(source, image, keep=True)
    acc = ctx[[nd.output[0] for nd in source.graph.node if nd.op_type == "Conv"][0]]
    want_acc = (col_sign[:, None] * targets[None, :]).astype(np.float32)
    assert np.array_equal(acc[0, :, 0, :], want_acc + offset[:, None] if bias else want_acc)
    assert np.array_equal(run_qonnx(lowered, image), run_qonnx(source, image))


@pytest.mark.parametrize("kind", CHAINS)
@pytest.mark.parametrize("pad,bias", [(0, False), (1, False), (0, True)])
def test_int8_conv_every_accumulator(kind, pad, bias):
    """The integer first layer: pixels / 128 - 1 quantised to INT8 (scale 2^-7), 1x1 conv with weights
    +-(1, 1) (and a float bias): the spatial positions realise every accumulator value -256..254 the lowering
    considers."""
    rng = np.random.default_rng(7 + len(kind) + pad + 10 * bias)
    channels = 22
    col_sign = rng.choice([-1.0, 1.0], size=channels)
    targets = np.arange(-256, 255)
    q0 = np.clip(targets - 127, -128, 127)
    q1 = targets - q0
    assert np.all((q1 >= -128) & (q1 <= 127))
    h, w = 16, 32
    q = np.zeros((2, h * w), np.float32)
    q[0, : len(targets)], q[1, : len(targets)] = q0, q1
    image = (q + 128).reshape(1, 2, h, w)
    b = GraphBuilder([1, 2, h, w])
    b.div(np.float32(128.0))
    b.sub(np.float32(1.0))
    b.quant(2.0**-7, bits=8, signed=1)
    offset = rng.normal(0, 0.3, size=channels).astype(np.float32) if bias else None
    b.conv(np.repeat(col_sign[:, None], 2, axis=1).reshape(channels, 2, 1, 1).astype(np.float32),
           pads=[pad] * 4, bias=offset)
    step = 2.0**-7
    add_chain(b, *chain_params(kind, rng, channels, 2.0, step, targets, offset), [1, channels, 1, 1])
    b.bipolar()
    source, lowered = lower(b.model())
    ctx = run_batched(source, image, keep=True)
    acc = ctx[[nd.output[0] for nd in source.graph.node if nd.op_type == "Conv"][0]]
    inner = acc[0, :, pad : pad + h, pad : pad + w].reshape(channels, -1)[:, : len(targets)]
    want_acc = col_sign[:, None] * targets[None, :] * np.float32(step)
    if bias:
        want_acc = want_acc.astype(np.float32) + offset[:, None]
    assert np.array_equal(inner, want_acc)
    mvau = [nd for nd in hw_nodes(lowered) if nd.op_type == "MVAU"][0]
    assert getCustomOp(mvau).get_nodeattr("in_dtype") == "INT8"
    assert np.array_equal(run_qonnx(lowered, image), run_qonnx(source, image))


# ---- the threshold derivation on its own -------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 8), st.integers(0, 2**31))
def test_bipolar_thresholds_reproduce_any_monotone_decision(n, channels, seed):
    """Any per-channel monotone decision over -N..N (increasing, decreasing, constant) is reproduced by the
    derived (flip, threshold) pair on every value."""
    from fpgabnn.transforms.thresholds import bipolar_thresholds

    rng = np.random.default_rng(seed)
    values = np.arange(-n, n + 1, 2)
    cut = rng.integers(0, len(values) + 1, size=channels)
    up = rng.random(channels) < 0.5
    idx = np.arange(len(values))[:, None]
    positive = np.where(up[None, :], idx >= cut[None, :], idx < cut[None, :])
    th = bipolar_thresholds(values, positive, node=None)
    acc = np.where(th.flip[None, :], -values[:, None], values[:, None])
    assert np.array_equal(acc >= th.thresholds[None, :], positive)


def test_bipolar_thresholds_refuse_non_monotone():
    from onnx import helper

    from fpgabnn.transforms.thresholds import bipolar_thresholds

    node = helper.make_node("BipolarQuant", ["a", "b"], ["c"], name="sign_7")
    values = np.arange(-3, 4, 2)
    with pytest.raises(UserError, match="sign_7"):
        bipolar_thresholds(values, np.array([[0], [1], [0], [1]], bool), node)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**31))
def test_level_thresholds_reproduce_any_monotone_map(channels, seed):
    """Multi-level (input quantiser) thresholds: out = base + #(x >= T) equals any non-decreasing map."""
    from fpgabnn.transforms.thresholds import level_thresholds

    rng = np.random.default_rng(seed)
    inputs = np.arange(256)
    levels = np.sort(rng.integers(-8, 8, size=(256, channels)), axis=0) + rng.integers(-3, 3, size=channels)
    t, base = level_thresholds(inputs, levels, node=None)
    assert np.array_equal(base + (inputs[:, None, None] >= t[None, :, :]).sum(axis=2), levels)
