"""Infrastructure insertion (after folding): width converters, the AXI-Stream ports at the board's DMA width and
one FIFO on every stream, as hardware nodes, so estimates and every generator simply walk the nodes
(FINN's InsertDWC / InsertIODMA / InsertFIFO). The accelerator graph afterwards is

    AxisInput, FIFO, layer or DWC, FIFO, ..., FIFO, AxisOutput

Each transformation is idempotent: a stream that already has its node is left alone.
"""

from __future__ import annotations

from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from fpgabnn.hw.base import DOMAIN
from fpgabnn.hw.dwc import converter_steps

#: depth of a FIFO before FIFO sizing (the rtl branch's SizeFIFOs) sets it
DEFAULT_FIFO_DEPTH = 2


def _hw(model: ModelWrapper) -> list:
    from fpgabnn.transforms.pipeline import split_dataflow

    return split_dataflow(model).hw


def _new_name(model: ModelWrapper, op_type: str) -> str:
    taken = {n.name for n in model.graph.node}
    i = sum(n.op_type == op_type for n in model.graph.node)
    while f"{op_type}_{i}" in taken:
        i += 1
    return f"{op_type}_{i}"


def _out_stream(node) -> dict:
    """shape and dtype attributes of the stream a hardware node produces (from the node, not the value infos)."""
    inst = getCustomOp(node)
    return {"shape": [int(d) for d in inst.out_shape()], "dtype": inst.out_dtype().name}


def _in_stream(node) -> dict:
    inst = getCustomOp(node)
    return {"shape": [int(d) for d in inst.in_shape()], "dtype": inst.in_dtype().name}


def _annotate(model: ModelWrapper, tensor: str, stream: dict) -> None:
    from qonnx.core.datatype import DataType

    model.set_tensor_shape(tensor, stream["shape"])
    model.set_tensor_datatype(tensor, DataType[stream["dtype"]])


def insert_after_producer(model: ModelWrapper, tensor: str, op_type: str, **attrs):
    """producer -> tensor  ==>  producer -> new -> [op_type] -> tensor (consumers and graph outputs keep their
    tensor); ``attrs`` must hold the stream's shape and dtype. Returns the new node."""
    producer = model.find_producer(tensor)
    new = model.make_new_valueinfo_name()
    _annotate(model, new, attrs)
    producer.output[list(producer.output).index(tensor)] = new
    node = helper.make_node(op_type, [new], [tensor], domain=DOMAIN, name=_new_name(model, op_type), **attrs)
    nodes = list(model.graph.node)
    model.graph.node.insert(nodes.index(producer) + 1, node)
    return node


def insert_before_consumer(model: ModelWrapper, consumer, op_type: str, **attrs):
    """tensor -> consumer  ==>  tensor -> [op_type] -> new -> consumer (for a tensor without a hardware producer)."""
    tensor = consumer.input[0]
    new = model.make_new_valueinfo_name()
    _annotate(model, new, attrs)
    consumer.input[0] = new
    node = helper.make_node(op_type, [tensor], [new], domain=DOMAIN, name=_new_name(model, op_type), **attrs)
    nodes = list(model.graph.node)
    model.graph.node.insert(nodes.index(consumer), node)
    return node


class InsertDWC(Transformation):
    """A DataWidthConverter wherever a producer's elements per word differ from its consumer's (two through
    the least common multiple when neither count divides the other)."""

    def apply(self, model):
        nodes = _hw(model)
        for a, b in zip(nodes, nodes[1:]):
            out_epw, in_epw = getCustomOp(a).out_elems_per_word(), getCustomOp(b).in_elems_per_word()
            for step_in, step_out in reversed(converter_steps(out_epw, in_epw)):
                # inserted right after the producer, last step first, so the steps end up in order
                insert_after_producer(model, a.output[0], "DataWidthConverter", in_epw=step_in, out_epw=step_out,
                                      **_out_stream(a))
        return model, False


class InsertIOPorts(Transformation):
    """AxisInput in front of the first layer and AxisOutput after the last, ``port_width`` bits wide (the
    board's ``axi_port_width``)."""

    def __init__(self, port_width: int):
        super().__init__()
        self.port_width = int(port_width)

    def apply(self, model):
        nodes = _hw(model)
        first, last = nodes[0], nodes[-1]
        if first.op_type != "AxisInput":
            insert_before_consumer(model, first, "AxisInput", epw=getCustomOp(first).in_elems_per_word(),
                                   port_width=self.port_width, **_in_stream(first))
        if last.op_type != "AxisOutput":
            insert_after_producer(model, last.output[0], "AxisOutput", epw=getCustomOp(last).out_elems_per_word(),
                                  port_width=self.port_width, **_out_stream(last))
        return model, False


class InsertFIFO(Transformation):
    """A StreamFIFO on every stream between two hardware nodes that has none; its depth is the producer's
    ``out_fifo_depth`` (at least ``DEFAULT_FIFO_DEPTH``) until FIFO sizing sets it."""

    def apply(self, model):
        nodes = _hw(model)
        for a, b in zip(nodes, nodes[1:]):
            if "StreamFIFO" in (a.op_type, b.op_type):
                continue
            producer = getCustomOp(a)
            depth = max(DEFAULT_FIFO_DEPTH, int(producer.get_nodeattr("out_fifo_depth")))
            insert_after_producer(model, a.output[0], "StreamFIFO", epw=producer.out_elems_per_word(), depth=depth,
                                  **_out_stream(a))
        return model, False


def has_infrastructure(model: ModelWrapper) -> bool:
    nodes = _hw(model)
    return nodes[0].op_type == "AxisInput" and nodes[-1].op_type == "AxisOutput"


def insert_infrastructure(model: ModelWrapper, port_width: int) -> ModelWrapper:
    """The folded model with converters, ports and FIFOs (a transformed copy; unchanged if already there)."""
    for step in (InsertDWC(), InsertIOPorts(port_width), InsertFIFO()):
        model = model.transform(step)
    return model


def compute_nodes(model: ModelWrapper) -> list:
    """The accelerator's compute layers in stream order (its hardware nodes without the infrastructure)."""
    return [n for n in _hw(model) if not getCustomOp(n).INFRASTRUCTURE]
