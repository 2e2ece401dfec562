"""Property test through the whole compiler: random small binary MLPs and CNNs (odd sizes, negative and zero
BatchNorm gamma, negative per-channel scales, padded integer first layers) with a random legal folding are
lowered, turned into HLS and C-simulated; the simulation equals qonnx execution of the source bit for bit, or
the model is refused with a one-line error naming a node."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpgabnn.errors import UserError
from fpgabnn.sim.reference import compare_with_source
from lowering_builders import build_network, fold_randomly, random_images
from test_lower_random_graphs import network_specs

CSIM = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@CSIM
@given(spec=network_specs(), folding_seed=st.integers(0, 2**32 - 1))
def test_random_networks_csim_bit_exact(spec, folding_seed, tmp_path_factory):
    from fpgabnn.codegen.hls import generate_hls
    from fpgabnn.sim.csim import run_csim
    from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source

    source = prepare_source(build_network(spec), pixel_range="raw")
    try:
        lowered = lower_to_hw(source)
    except UserError as err:
        assert "\n" not in str(err) and "node '" in str(err)
        return
    rng = np.random.default_rng(folding_seed)
    fold_randomly(lowered, rng)
    out = tmp_path_factory.mktemp("csim") / "hls"
    generate_hls(lowered, out, top_name="rand_top", clock_ns=10.0)
    images = random_images(source.get_tensor_shape(source.graph.input[0].name), 6, seed=folding_seed % 1000)
    ref = compare_with_source(source, lowered, images)
    assert ref["bit_exact"], ref["mismatches"][:3]
    sim = np.asarray(run_csim(out, ref["hw_inputs"])).reshape(ref["expected_outputs"].shape)
    assert np.array_equal(sim, ref["expected_outputs"])
