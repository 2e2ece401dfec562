"""Reference values for verification: what each hardware layer must output, read from qonnx execution of the
source model through the provenance attributes the lowering records (source_tensor, source_scale, source_layout).

A compute layer that should carry provenance and does not (or names a tensor the source lacks) is a failure of
the verification, never replaced by the lowered graph's own output: that would compare the graph with itself."""

from __future__ import annotations

import contextlib
import os

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.transforms.pipeline import split_dataflow


def random_pixels(shape, samples: int, seed: int = 0) -> np.ndarray:
    """``samples`` raw UINT8 images (as float32, the model's input domain) of the model input ``shape``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(samples, *shape[1:])).astype(np.float32)


def to_stream_order(value: np.ndarray, layout: str) -> np.ndarray:
    """A source tensor (batch 1) in the accelerator's NHWC element order, flattened."""
    if layout == "NCHW" and value.ndim == 4:
        value = value.transpose(0, 2, 3, 1)
    return value.reshape(-1)


def checked_layers(split) -> list:
    """The accelerator's layers whose outputs have a source-model equivalent (provenance): compute layers, not
    the sliding windows (im2col) or the infrastructure (width converters, FIFOs, ports: identities)."""
    return [n for n in split.hw if getCustomOp(n).HAS_PROVENANCE]


def expected_layer_output(node, source_context: dict) -> np.ndarray | None:
    """The integers layer ``node`` must produce for the source execution in ``source_context`` (flat, NHWC);
    None when the layer has no provenance."""
    layer = getCustomOp(node)
    name = layer.get_nodeattr("source_tensor")
    if not name or name not in source_context:
        return None
    if layer.get_nodeattr("source_layout") == "TOPK":
        from fpgabnn.hw.labelselect import labelselect_reference

        final = source_context[name].reshape(1, -1)
        return labelselect_reference(final, layer.get_nodeattr("k")).reshape(-1).astype(np.float64)
    value = source_context[name].astype(np.float64) / layer.get_nodeattr("source_scale")
    return to_stream_order(value, layer.get_nodeattr("source_layout"))


@contextlib.contextmanager
def _unsanitized():
    """qonnx rounds every integer-annotated tensor after each node (SANITIZE_QUANT_TENSORS, on by default),
    with a Python-level max over the whole tensor: 60% of a CNV execution. The lowered graph computes integers
    exactly, so its tensors are executed as computed: a fractional value is then a mismatch, not rounded away."""
    previous = os.environ.get("SANITIZE_QUANT_TENSORS")
    os.environ["SANITIZE_QUANT_TENSORS"] = "0"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SANITIZE_QUANT_TENSORS"]
        else:
            os.environ["SANITIZE_QUANT_TENSORS"] = previous


def execute_lowered(lowered: ModelWrapper, image: np.ndarray) -> dict:
    """The lowered graph's full execution context for one image (batch 1), without qonnx's rounding."""
    with _unsanitized():
        return execute_onnx(lowered, {lowered.graph.input[0].name: image[None]}, return_full_exec_context=True)


def hw_input(lowered: ModelWrapper, image: np.ndarray) -> np.ndarray:
    """Run the host pre-processing (layout only) on one image: the accelerator's input, flat NHWC."""
    split = split_dataflow(lowered)
    ctx = execute_lowered(lowered, image)
    return ctx[split.hw_input].reshape(-1), ctx


def compare_with_source(source: ModelWrapper, lowered: ModelWrapper, images: np.ndarray,
                        host_threshold: bool = False) -> dict:
    """qonnx execution of the lowered graph vs the source, per image: every hardware layer's integer output
    and the final output. Returns {bit_exact, samples, mismatches: [...]}; also the accelerator inputs/outputs
    (stream order) for C/RTL simulation to be compared against."""
    split = split_dataflow(lowered)
    src_in = source.graph.input[0].name
    src_out, low_out = source.graph.output[0].name, lowered.graph.output[0].name
    checked = checked_layers(split)
    last_layer = checked[-1] if checked else None
    last_op = [n for n in split.hw if not getCustomOp(n).INFRASTRUCTURE][-1].op_type  # the last compute layer
    mismatches, hw_inputs, hw_outputs, expected, finals, raw_inputs = [], [], [], [], [], []
    unverifiable = set()
    host = _host_threshold(lowered) if host_threshold else None
    for i, image in enumerate(images):
        sctx = execute_onnx(source, {src_in: image[None]}, return_full_exec_context=True)
        lctx = execute_lowered(lowered, image)
        for node in checked:
            want = expected_layer_output(node, sctx)
            if want is None:
                unverifiable.add(node.name)
                continue
            got = lctx[node.output[0]].reshape(-1)
            if not np.array_equal(got, want):
                bad = int(np.sum(got != want))
                mismatches.append({"sample": i, "layer": node.name, "elements": bad})
        if last_op != "LabelSelect" and not np.array_equal(sctx[src_out], lctx[low_out]):
            mismatches.append({"sample": i, "layer": "final output", "elements": int(np.sum(sctx[src_out] != lctx[low_out]))})
        if host is not None:  # the host threshold's input, and its output against the source
            node, prov = host
            raw_inputs.append(lctx[node.input[0]].reshape(-1))
            if prov.get("source_tensor") in sctx:
                want = to_stream_order(sctx[prov["source_tensor"]].astype(np.float64) / prov["source_scale"],
                                       prov["source_layout"])
                if not np.array_equal(lctx[node.output[0]].reshape(-1), want):
                    mismatches.append({"sample": i, "layer": node.name,
                                       "elements": int(np.sum(lctx[node.output[0]].reshape(-1) != want))})
            else:
                unverifiable.add(node.name)
        hw_inputs.append(lctx[split.hw_input].reshape(-1))
        hw_outputs.append(lctx[split.hw_output].reshape(-1))
        want_last = expected_layer_output(last_layer, sctx) if last_layer is not None else None
        if last_layer is None or not _identity_tail(split, last_layer):
            unverifiable.add("accelerator output")
        expected.append(want_last if want_last is not None else np.zeros(lctx[split.hw_output].size))
        finals.append(sctx[src_out].reshape(-1))
    for name in sorted(unverifiable):
        mismatches.append({"sample": None, "layer": name, "elements": None,
                           "reason": "no provenance: its output cannot be checked against the source model "
                                     "(rebuild with this fpgabnn version)"})
    return {
        "bit_exact": not mismatches,
        "unverifiable": sorted(unverifiable),
        "samples": len(images),
        "mismatches": mismatches,
        "hw_inputs": np.stack(hw_inputs).astype(np.int64),
        # with a host threshold: the raw values it is applied to (stream order)
        "host_raw_inputs": np.stack(raw_inputs).astype(np.int64) if raw_inputs else None,
        "hw_outputs": np.stack(hw_outputs).astype(np.int64),
        # what the accelerator must output, from the source model (equal to hw_outputs when bit_exact;
        # meaningless, and bit_exact False, for an unverifiable output)
        "expected_outputs": np.rint(np.stack(expected)).astype(np.int64),
        "final_outputs": np.stack(finals),
    }


def _identity_tail(split, layer) -> bool:
    """Whether only infrastructure nodes (identities) follow ``layer`` in the accelerator."""
    nodes = split.hw
    return all(getCustomOp(n).INFRASTRUCTURE for n in nodes[nodes.index(layer) + 1 :])


def _host_threshold(lowered: ModelWrapper):
    """(the host MultiThreshold in front of the accelerator, its recorded provenance)."""
    import json

    from fpgabnn.errors import UserError
    from fpgabnn.transforms.host_threshold import HOST_PROVENANCE

    split = split_dataflow(lowered)
    node = lowered.find_producer(split.hw_input)
    if node is None or node.op_type != "MultiThreshold":
        raise UserError("the build records a host threshold but model_hw.onnx has none in front of the "
                        "accelerator; rebuild it with `fpgabnn build --host-threshold`")
    return node, json.loads(lowered.get_metadata_prop(HOST_PROVENANCE) or "{}")
