"""Property test through the RTL backend: random small binary MLPs and CNNs with a random legal folding (the
parallel-window first layer included) are lowered, given their ports, FIFOs and sized FIFO depths, turned into
Verilog and simulated in Verilator with random input stalls and output back-pressure; the outputs equal qonnx
execution of the source bit for bit, the stream never deadlocks, and without stalls the measured cycles per
frame are within 5% of the modelled pipeline's (fifo_sizing.py) in both directions, exactly for tiny IIs, and
no FIFO holds more than its depth."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fpgabnn.errors import UserError
from fpgabnn.sim.reference import compare_with_source
from lowering_builders import build_network, fold_randomly, random_images
from test_lower_random_graphs import network_specs

RTLSIM = settings(max_examples=30, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FRAMES = 8


@RTLSIM
@given(spec=network_specs(), folding_seed=st.integers(0, 2**32 - 1), port=st.sampled_from([64, 128]))
def test_random_networks_rtlsim_bit_exact_with_stalls(spec, folding_seed, port, tmp_path_factory):
    from fpgabnn.codegen.rtl import generate_rtl
    from fpgabnn.sim.rtlsim import run_rtlsim
    from fpgabnn.transforms.fifo_sizing import SizeFIFOs
    from fpgabnn.transforms.infrastructure import insert_infrastructure
    from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source

    source = prepare_source(build_network(spec), pixel_range="raw")
    try:
        lowered = lower_to_hw(source)
    except UserError as err:
        assert "\n" not in str(err) and "node '" in str(err)
        return
    rng = np.random.default_rng(folding_seed)
    fold_randomly(lowered, rng)
    hw = insert_infrastructure(lowered, port).transform(SizeFIFOs())
    rtl = tmp_path_factory.mktemp("rtlsim") / "rtl"
    manifest = generate_rtl(hw, rtl, top_name="rand_top", clock_mhz=100.0, port_width=port)
    images = random_images(source.get_tensor_shape(source.graph.input[0].name), FRAMES, seed=folding_seed % 1000)
    ref = compare_with_source(source, lowered, images)
    assert ref["bit_exact"], ref["mismatches"][:3]
    expected = ref["expected_outputs"]
    out, stats = run_rtlsim(rtl, ref["hw_inputs"], quick=True)
    assert np.array_equal(np.asarray(out).reshape(expected.shape), expected)
    assert stats["tlast_mismatches"] == 0 and stats["tlast_error"] == 0
    ii = float(manifest["cycles"])
    assert abs(stats["cycles_per_frame"] - ii) <= 0.05 * ii, (stats["cycles_per_frame"], ii)
    for fifo in manifest["fifos"]:
        assert stats["fifo_max_occupancy"][fifo["name"]] <= fifo["depth"], fifo
    stalled, sstats = run_rtlsim(rtl, ref["hw_inputs"], quick=True, batch=3,
                                 valid_prob=float(rng.choice([0.5, 0.1])), ready_prob=float(rng.choice([0.5, 0.1])))
    assert np.array_equal(np.asarray(stalled).reshape(expected.shape), expected)
    assert sstats["tlast_mismatches"] == 0
