"""Property tests: random small networks in the shape Brevitas exports lower to graphs that compute exactly
what the source computes (every hardware layer and the final output), or are refused with a UserError that
names a node."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fpgabnn.errors import UserError
from lowering_builders import build_network, conv_out, provenance_mismatches, random_images, run_batched, run_qonnx

PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IMAGES = 12


@st.composite
def network_specs(draw, loose: bool = False, convs: bool = True):
    """A network spec for lowering_builders.build_network. Strict specs stay within what fpgabnn supports
    (power-of-two scales, unit bipolar scales, padding only on the integer first layer); ``loose`` changes one
    aspect to something the lowering may refuse: a non-unit bipolar scale, non-power-of-two weight or input
    scale, multi-bit activations, padded binary convolutions, a decreasing input normalisation."""
    aspect = draw(st.sampled_from(["bipolar_scale", "weight_mag", "input_scale", "act_bits", "binary_pads",
                                   "neg_norm"])) if loose else None
    c = draw(st.integers(1, 3))
    h, w = draw(st.integers(2, 8)), draw(st.integers(2, 8))
    in_shape = (c, h, w)
    first_kind = draw(st.sampled_from(["int", "bipolar"]))
    n_conv = draw(st.integers(0, 3)) if convs else 0
    layers = []
    for i in range(n_conv):
        padded_ok = (i == 0 and first_kind == "int") or aspect == "binary_pads"
        pads = [0] * 4
        if padded_ok and draw(st.booleans()):
            pads = draw(st.lists(st.integers(0, 1), min_size=4, max_size=4))
        kh = draw(st.integers(1, min(3, h + pads[0] + pads[2])))
        kw = draw(st.integers(1, min(3, w + pads[1] + pads[3])))
        stride = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
        h, w = conv_out(h, kh, stride[0], pads[0], pads[2]), conv_out(w, kw, stride[1], pads[1], pads[3])
        pool = None
        if draw(st.booleans()) and (h >= 2 or w >= 2):
            k = [draw(st.integers(1, min(2, h))), draw(st.integers(1, min(2, w)))]
            s = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
            pool = (k, s)
            h, w = conv_out(h, k[0], s[0]), conv_out(w, k[1], s[1])
        layers.append({"cout": draw(st.integers(1, 5)), "kernel": (kh, kw), "stride": stride, "pads": pads,
                       "bias": draw(st.booleans()), "pool": pool})
    flatten_at = "quant" if n_conv else draw(st.sampled_from(["input", "quant"]))
    pow2 = lambda lo, hi: st.integers(lo, hi).map(lambda k: 2.0**k)  # noqa: E731
    first = {
        "scale": draw(st.sampled_from([0.3, 0.75, 3.0]) if aspect == "input_scale" else pow2(-8, 0)),
        "bits": draw(st.sampled_from([8, 8, 4, 2])),
        "signed": draw(st.sampled_from([1, 1, 0])),
        "narrow": draw(st.sampled_from([0, 1])),
        "rounding": draw(st.sampled_from(["ROUND", "FLOOR", "HALF_UP"])),
        "kind": first_kind,
    }
    spec = {
        "input": in_shape,
        "convs": layers,
        "flatten_at": flatten_at,
        "norm_mul": draw(st.sampled_from([-2 / 255, -1 / 128] if aspect == "neg_norm"
                                         else [1 / 255, 2 / 255, 1 / 128, 1 / 64, 1.0])),
        "norm_sub": draw(st.sampled_from([0.0, 0.5, 1.0, 128.0])),
        "norm_per_channel": draw(st.booleans()),
        "first": first,
        "bipolar_scale": draw(st.sampled_from([0.5, 2.0, 0.3])) if aspect == "bipolar_scale" else 1.0,
        "weight_mag": draw(st.sampled_from([0.3, 1.5]) if aspect == "weight_mag" else pow2(-1, 1)),
        "act_bits": draw(st.sampled_from([2, 4])) if aspect == "act_bits" else None,
        "hidden": draw(st.lists(st.integers(1, 12), min_size=0 if n_conv else 1, max_size=2)),
        "classes": draw(st.integers(2, 5)),
        "tail": draw(st.booleans()),
        "chmul": draw(st.booleans()),
        "eps": draw(st.sampled_from([1e-5, 1e-4, 1e-3])),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }
    return avoid_known_bugs(spec)


def avoid_known_bugs(spec):
    """Steer clear of the bugs pinned by strict xfail tests in test_lower_edge_cases.py (so the properties keep
    finding new ones); each branch names its test, delete it when that test starts passing."""
    return spec


def check_lowering(spec, must_lower: bool):
    """Lower the network; compare source and lowered on random raw images (or accept a refusal naming a node)."""
    from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source

    source = prepare_source(build_network(spec), pixel_range="raw")
    try:
        lowered = lower_to_hw(source)
    except UserError as err:
        message = str(err)
        assert not must_lower, f"refused a supported network: {message}"
        assert "\n" not in message and "node '" in message, message
        event(f"refused: {message.split(':')[1][:60] if ':' in message else message[:60]}")
        return
    event("lowered")
    images = random_images(source.get_tensor_shape(source.graph.input[0].name), IMAGES, seed=spec["seed"] % 1000)
    sctx = run_batched(source, images, keep=True)
    lctx = run_batched(lowered, images, keep=True)
    assert np.array_equal(lctx[lowered.graph.output[0].name], sctx[source.graph.output[0].name])
    assert provenance_mismatches(lowered, lctx, sctx) == []
    # the batched run is the reference's: qonnx execute_onnx on two single images gives the same
    assert np.array_equal(run_qonnx(source, images[:2]), sctx[source.graph.output[0].name][:2])


@PROPERTY
@given(network_specs())
def test_random_networks_lower_exactly(spec):
    check_lowering(spec, must_lower=True)


@PROPERTY
@given(network_specs(convs=False))
def test_random_mlps_lower_exactly(spec):
    check_lowering(spec, must_lower=True)


@PROPERTY
@given(network_specs(loose=True))
def test_random_networks_exact_or_refused(spec):
    check_lowering(spec, must_lower=False)
