"""Small graph queries and a node-by-node evaluator for sub-chains of a qonnx model."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as rt
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp, is_custom_op

from fpgabnn.errors import UserError


def is_constant(model: ModelWrapper, name: str) -> bool:
    return model.get_initializer(name) is not None


def single_consumer(model: ModelWrapper, tensor: str):
    """The only consumer of ``tensor`` or None when it has zero or several (or is a graph output)."""
    consumers = model.find_consumers(tensor)
    if len(consumers) != 1 or tensor in [o.name for o in model.graph.output]:
        return None
    return consumers[0]


def node_error(node, reason: str, fix: str) -> UserError:
    """A one-line error that names the node, its op type, the reason and the fix."""
    return UserError(f"node '{node.name}' ({node.op_type}): {reason}; {fix}")


def _run_standard_node(node, context: dict, opset: int) -> None:
    """Run one standard ONNX node with onnxruntime, shapes taken from the actual arrays (as qonnx does,
    but without the model's fixed batch size, so a chain can be evaluated on many values at once)."""
    def vi(name):
        arr = context[name]
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype), arr.shape)

    inputs = [vi(n) for n in node.input if n]
    outputs = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in node.output]
    graph = helper.make_graph([node], "single_node", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    sess = rt.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    results = sess.run(None, {n: context[n] for n in node.input if n})
    for name, value in zip(node.output, results):
        context[name] = value


def evaluate_chain(model: ModelWrapper, nodes: list, input_name: str, value: np.ndarray) -> np.ndarray:
    """Evaluate ``nodes`` (a path of the model, in order) with ``input_name`` set to ``value``; other inputs
    of the nodes must be initializers. Every node is executed exactly as qonnx's execute_onnx does
    (onnxruntime per standard node, the qonnx reference for custom ops), so float rounding is the reference's."""
    opset = next((o.version for o in model.model.opset_import if o.domain in ("", "ai.onnx")), 13)
    context = {input_name: value}
    for node in nodes:
        for name in node.input:
            if name and name not in context:
                init = model.get_initializer(name)
                if init is None:
                    raise node_error(node, f"input '{name}' is neither on the chain nor a constant",
                                     "only per-channel constant operands are supported between a matrix product and its activation")
                context[name] = init
        if is_custom_op(node.domain, node.op_type):
            getCustomOp(node).execute_node(context, model.graph)
        else:
            _run_standard_node(node, context, opset)
    return context[nodes[-1].output[0]]
