"""Brevitas' BNN-PYNQ reference models (random weights, adversarial BatchNorm statistics) through QONNX export
and fpgabnn's lowering: the lowered graph computes exactly what the source computes, layer by layer."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from lowering_builders import BNN_PYNQ, hw_nodes, provenance_mismatches, random_images, run_batched, run_qonnx

#: images per model (>= 100 each); CNV's lowered execution is the slow one (int64 matmuls)
SAMPLES = {"tfc_1w1a": 200, "sfc_1w1a": 200, "lfc_1w1a": 150, "cnv_1w1a": 100}
CHUNK = 25


def last_matmul(model):
    return [n for n in model.graph.node if n.op_type in ("MatMul", "Conv")][-1]


@pytest.mark.parametrize("name", list(BNN_PYNQ))
def test_lowered_equals_source(name, bnn_pynq_lowered):
    source, lowered = bnn_pynq_lowered(name)
    images = random_images(BNN_PYNQ[name][0], SAMPLES[name], seed=1)
    mvau = [n for n in hw_nodes(lowered) if n.op_type == "MVAU"][-1]
    src_mm = last_matmul(source).output[0]
    assert getCustomOp(mvau).get_nodeattr("source_tensor") == src_mm
    # the binary weights and activations have unit scale in these models: integer pre-activations are the
    # source's float ones, unscaled
    assert getCustomOp(mvau).get_nodeattr("source_scale") == 1.0
    finals_src, finals_low, pre_src, pre_low = [], [], [], []
    bn_outputs = [n.output[0] for n in source.graph.node if n.op_type == "BatchNormalization"]
    ties = 0
    for start in range(0, len(images), CHUNK):
        batch = images[start : start + CHUNK]
        sctx = run_batched(source, batch, keep=True)
        lctx = run_batched(lowered, batch, keep=True)
        finals_src.append(sctx[source.graph.output[0].name])
        finals_low.append(lctx[lowered.graph.output[0].name])
        pre_src.append(sctx[src_mm])
        pre_low.append(lctx[mvau.output[0]])
        assert provenance_mismatches(lowered, lctx, sctx) == []
        ties += sum(int(np.sum(sctx[t] == 0)) for t in bn_outputs)
    finals_src, finals_low = np.concatenate(finals_src), np.concatenate(finals_low)
    pre_src, pre_low = np.concatenate(pre_src), np.concatenate(pre_low)
    assert finals_src.shape == finals_low.shape == (len(images), 10)
    assert np.array_equal(finals_low, finals_src)
    assert np.array_equal(pre_low, pre_src.reshape(pre_low.shape))
    assert np.array_equal(pre_low, np.round(pre_low))
    # non-trivial: the images are told apart (the adversarial BatchNorms do not make the net constant)
    assert len({row.tobytes() for row in finals_src}) > len(images) // 4
    # ... and ties are realised: some BatchNorm outputs are exactly 0 (sign(0) = +1 must be reproduced)
    assert ties > 0


@pytest.mark.parametrize("name", ["tfc_1w1a", "cnv_1w1a"])
def test_batched_executor_matches_execute_onnx(name, bnn_pynq_lowered):
    """The batched executor used above agrees with qonnx's per-sample execute_onnx on both graphs."""
    source, lowered = bnn_pynq_lowered(name)
    images = random_images(BNN_PYNQ[name][0], 3, seed=2)
    for model in (source, lowered):
        assert np.array_equal(run_batched(model, images), run_qonnx(model, images))


@pytest.mark.parametrize("name", ["tfc_1w1a", "cnv_1w1a"])
def test_prepared_source_equals_export(name, bnn_pynq_onnx, bnn_pynq_lowered):
    """The tidied reference on raw pixels computes what the exported QONNX computes on pixels / 255."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    source, _ = bnn_pynq_lowered(name)
    raw = cleanup_model(ModelWrapper(str(bnn_pynq_onnx(name))))
    images = random_images(BNN_PYNQ[name][0], 4, seed=3)
    assert np.array_equal(run_qonnx(raw, images / np.float32(255)), run_qonnx(source, images))


def test_lowered_structure_cnv(bnn_pynq_lowered):
    """CNV lowers to the FINN-style chain: one input Thresholding, SlidingWindow+MVAU per conv, two MaxPools,
    three MVAUs for the classifier; only layout transposes before and the float tail after."""
    from fpgabnn.transforms.pipeline import split_dataflow

    _, lowered = bnn_pynq_lowered("cnv_1w1a")
    split = split_dataflow(lowered)
    ops = [n.op_type for n in split.hw]
    assert ops[0] == "Thresholding" and ops.count("SlidingWindow") == 6 and ops.count("MVAU") == 9
    assert ops.count("MaxPool") == 2
    assert [n.op_type for n in split.pre] == ["Transpose"]
    assert {n.op_type for n in split.post} <= {"Sub", "Div", "Mul", "Add"}
    assert str(lowered.get_tensor_datatype(split.hw_input)) == "UINT8"
