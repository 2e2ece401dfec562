"""Each step of LOWERING_STEPS on its own preserves the model's function exactly (on TFC and CNV)."""

from __future__ import annotations

import numpy as np
import pytest

from lowering_builders import BNN_PYNQ, hw_nodes, provenance_mismatches, random_images, run_batched


@pytest.mark.parametrize("name,samples", [("tfc_1w1a", 40), ("cnv_1w1a", 8)])
def test_every_step_preserves_outputs(name, samples, bnn_pynq_lowered):
    from fpgabnn.transforms.pipeline import LOWERING_STEPS

    source, _ = bnn_pynq_lowered(name)
    images = random_images(BNN_PYNQ[name][0], samples, seed=11)
    sctx = run_batched(source, images, keep=True)
    want = sctx[source.graph.output[0].name]
    model = source
    changed = {}
    for step_name, step in LOWERING_STEPS:
        before = model.model.SerializeToString()
        model = model.transform(step())
        changed[step_name] = model.model.SerializeToString() != before
        lctx = run_batched(model, images, keep=True)
        assert np.array_equal(lctx[model.graph.output[0].name], want), f"step {step_name} changed the output"
        assert provenance_mismatches(model, lctx, sctx) == [], f"after step {step_name}"
    assert changed["lower_input_quantizer"] and changed["lower_matrix_layers"]  # always lowered
    assert changed["lower_maxpool"] == (name == "cnv_1w1a")  # only CNV has max-pools
    assert {n.op_type for n in hw_nodes(model)} >= {"Thresholding", "MVAU"}


def test_steps_are_idempotent(bnn_pynq_lowered):
    """Lowering an already lowered graph changes nothing (no step re-matches its own output)."""
    from fpgabnn.transforms.pipeline import LOWERING_STEPS

    _, lowered = bnn_pynq_lowered("tfc_1w1a")
    before = [(n.op_type, list(n.input), list(n.output)) for n in lowered.graph.node]
    model = lowered
    for name, step in LOWERING_STEPS:
        if "input_quantizer" in name:  # these start from the graph input's float chain, which is gone
            continue
        model = model.transform(step())
    assert [(n.op_type, list(n.input), list(n.output)) for n in model.graph.node] == before
