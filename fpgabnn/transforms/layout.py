"""Layout clean-up between hardware layers: cancel Transpose pairs, drop value-preserving Identity nodes, and fold
an NHWC->NCHW transpose before a flatten into the next MVAU's weight rows."""

from __future__ import annotations

import json

import numpy as np
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from fpgabnn.core.graph import single_consumer
from fpgabnn.transforms.lower_input import NHWC_TO_NCHW


def _bypass(model, node) -> None:
    """Remove a one-input node, feeding its input to its consumers (or renaming it to the graph output)."""
    src, dst = node.input[0], node.output[0]
    outputs = [o.name for o in model.graph.output]
    model.graph.node.remove(node)
    if dst in outputs:
        producer = model.find_producer(src)
        for i, name in enumerate(producer.output):
            if name == src:
                producer.output[i] = dst
        for consumer in model.find_consumers(src):
            for i, name in enumerate(consumer.input):
                if name == src:
                    consumer.input[i] = dst
        return
    for consumer in model.find_consumers(dst):
        for i, name in enumerate(consumer.input):
            if name == dst:
                consumer.input[i] = src


class RemoveIdentities(Transformation):
    def apply(self, model):
        for node in model.graph.node:
            if node.op_type == "Identity" and model.find_producer(node.input[0]) is not None:
                _bypass(model, node)
                return model, True
        return model, False


class CancelTransposePairs(Transformation):
    """Transpose(p) followed only by Transpose(q) with q o p = identity: remove both."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "Transpose":
                continue
            nxt = single_consumer(model, node.output[0])
            if nxt is None or nxt.op_type != "Transpose":
                continue
            p = list(node.attribute[0].ints)
            q = list(nxt.attribute[0].ints)
            if [p[i] for i in q] != list(range(len(p))):
                continue
            _bypass(model, nxt)
            _bypass(model, node)
            return model, True
        return model, False


class AbsorbTransposeIntoFlatten(Transformation):
    """NHWC->NCHW Transpose -> Reshape/Flatten to [1, C*H*W] -> MVAU  ==>  Reshape -> MVAU with its weight rows
    permuted from (c, h, w) to (h, w, c) order, so the stream stays NHWC."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "Transpose" or list(node.attribute[0].ints) != NHWC_TO_NCHW:
                continue
            flat = single_consumer(model, node.output[0])
            if flat is None or flat.op_type not in ("Reshape", "Flatten"):
                continue
            mvau = single_consumer(model, flat.output[0])
            if mvau is None or mvau.op_type != "MVAU":
                continue
            _, c, h, w = model.get_tensor_shape(node.output[0])
            if model.get_tensor_shape(flat.output[0]) != [1, c * h * w]:
                continue
            weights = model.get_initializer(mvau.input[1])
            perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
            model.set_initializer(mvau.input[1], weights[perm, :])
            _bypass(model, node)
            model = model.transform(InferShapes()).transform(InferDataTypes())
            return model, True
        return model, False


class RemoveStreamReshapes(Transformation):
    """A Reshape between two hardware layers does not change the NHWC element order of the stream: drop it and
    let the consumer read the producer's tensor."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type not in ("Reshape", "Flatten"):
                continue
            producer = model.find_producer(node.input[0])
            consumer = single_consumer(model, node.output[0])
            if producer is None or consumer is None:
                continue
            if producer.domain != "fpgabnn.hw" or consumer.domain != "fpgabnn.hw":
                continue
            _bypass(model, node)
            return model, True
        return model, False


class RemoveDeadNodes(Transformation):
    """Nodes none of whose outputs is consumed or a graph output (e.g. an input scale after lowering)."""

    def apply(self, model):
        outputs = {o.name for o in model.graph.output}
        for node in model.graph.node:
            if not any(o in outputs or model.find_consumers(o) for o in node.output):
                model.graph.node.remove(node)
                return model, True
        return model, False


PROVENANCE_PREFIX = "fpgabnn.provenance."


def record_provenance(model, tensor: str, source_tensor: str, scale: float) -> None:
    """Remember that source_tensor (a tensor of the source model) = scale * tensor (a new tensor)."""
    model.set_metadata_prop(PROVENANCE_PREFIX + tensor, json.dumps({"source": source_tensor, "scale": scale}))


def provenance(model, tensor: str) -> tuple[str, float]:
    """(source tensor, scale) with source = scale * tensor; (tensor, 1.0) when nothing was recorded."""
    value = model.get_metadata_prop(PROVENANCE_PREFIX + tensor)
    if value is None:
        return tensor, 1.0
    entry = json.loads(value)
    return entry["source"], float(entry["scale"])


class MoveScalarMulPastLayout(Transformation):
    """Mul(x, c) -> Reshape/Flatten/Transpose (or MaxPool when c > 0)  ==>  layout op -> Mul(., c).

    Both orders compute the same values (a scalar multiply commutes with moving elements, and with a max when
    positive), and afterwards the layout op sees the integer tensor, so the next layer finds its quantised input.
    """

    LAYOUT_OPS = ("Reshape", "Flatten", "Transpose", "Identity")

    def apply(self, model):
        for mul in model.graph.node:
            if mul.op_type != "Mul" or mul.domain:
                continue
            const = model.get_initializer(mul.input[1])
            if const is None or np.asarray(const).size != 1:
                continue
            nxt = single_consumer(model, mul.output[0])
            if nxt is None or nxt.domain:
                continue
            positive = float(np.asarray(const).reshape(())) > 0
            if not (nxt.op_type in self.LAYOUT_OPS or (nxt.op_type == "MaxPool" and positive)):
                continue
            between = model.make_new_valueinfo_name()
            final = nxt.output[0]
            # the source model's tensor ``final`` equals c * ``between``: keep that for verification
            record_provenance(model, between, final, float(np.asarray(const).reshape(())))
            nxt.input[0] = mul.input[0]
            nxt.output[0] = between
            mul.input[0] = between
            mul.output[0] = final
            # keep topological order: the layout op now comes first
            graph_nodes = model.graph.node
            i_mul, i_nxt = list(graph_nodes).index(mul), list(graph_nodes).index(nxt)
            graph_nodes.remove(nxt)
            graph_nodes.insert(i_mul, nxt)
            model = model.transform(InferShapes()).transform(InferDataTypes())
            return model, True
        return model, False
