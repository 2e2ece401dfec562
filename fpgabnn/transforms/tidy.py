"""Import and tidy: load a QONNX file safely, clean it with qonnx, fold weight quantisers, Gemm -> MatMul."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames, RemoveUnusedTensors
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.cleanup import cleanup_model

from fpgabnn.errors import UserError

#: ops the lowering understands; anything else is refused up front with the node's name
SUPPORTED_OPS = {
    "BipolarQuant", "Quant", "Conv", "MatMul", "Gemm", "BatchNormalization", "Mul", "Add", "Sub", "Div",
    "MaxPool", "Reshape", "Flatten", "Transpose", "Identity", "Relu",
}


def load_qonnx(path: str | Path) -> ModelWrapper:
    """Load an ONNX file, refusing anything that is not a readable, single-input/single-output model."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} does not exist; pass the path of a QONNX .onnx file")
    if path.stat().st_size == 0:
        raise UserError(f"model file {path} is empty; re-export it (fpgabnn export or brevitas.export.export_qonnx)")
    try:
        proto = onnx.load(str(path))
    except Exception:  # onnx raises DecodeError and others for non-ONNX bytes
        raise UserError(f"{path} is not an ONNX model; pass a QONNX file written by fpgabnn export or Brevitas") from None
    if len(proto.graph.node) == 0:
        raise UserError(f"{path} holds an ONNX model without nodes; re-export it")
    return ModelWrapper(proto)


class FoldWeightQuantizers(Transformation):
    """Execute quantisers whose inputs are all constant (the weights) and keep their outputs as initializers."""

    def apply(self, model):
        return model.transform(FoldConstants(exclude_op_types=[])), False


class GemmToMatMul(Transformation):
    """Gemm(A, B[, C]) with constant B -> MatMul(A, B or B^T) [* alpha] [+ beta*C].

    (qonnx's GemmToMatMul needs the optional C input; Brevitas emits Gemm without it.)
    """

    def apply(self, model):
        gemms = [n for n in model.graph.node if n.op_type == "Gemm"]
        for node in gemms:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            weight = model.get_initializer(node.input[1])
            if attrs.get("transA", 0) or weight is None:
                raise UserError(f"node '{node.name}' (Gemm): needs a constant weight and transA=0; re-export the model from Brevitas")
            if attrs.get("transB", 0):
                weight = weight.T.copy()
            mm_out = node.output[0] if (len(node.input) < 3 and attrs.get("alpha", 1.0) == 1.0) else model.make_new_valueinfo_name()
            w_name = model.make_new_valueinfo_name()
            model.set_initializer(w_name, weight.astype(np.float32))
            new_nodes = [helper.make_node("MatMul", [node.input[0], w_name], [mm_out], name=f"{node.name}_matmul")]
            current = mm_out
            if attrs.get("alpha", 1.0) != 1.0:
                a_name = model.make_new_valueinfo_name()
                model.set_initializer(a_name, np.asarray(attrs["alpha"], dtype=np.float32))
                out = node.output[0] if len(node.input) < 3 else model.make_new_valueinfo_name()
                new_nodes.append(helper.make_node("Mul", [current, a_name], [out], name=f"{node.name}_alpha"))
                current = out
            if len(node.input) > 2 and node.input[2]:
                bias = model.get_initializer(node.input[2])
                if bias is None:
                    raise UserError(f"node '{node.name}' (Gemm): bias must be constant; re-export the model")
                b_name = model.make_new_valueinfo_name()
                model.set_initializer(b_name, (attrs.get("beta", 1.0) * bias).astype(np.float32))
                new_nodes.append(helper.make_node("Add", [current, b_name], [node.output[0]], name=f"{node.name}_bias"))
            index = list(model.graph.node).index(node)
            model.graph.node.remove(node)
            for offset, new in enumerate(new_nodes):
                model.graph.node.insert(index + offset, new)
        return model, False


class RejectUnsupportedOps(Transformation):
    """Refuse graphs with ops the lowering does not know, naming the node."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type not in SUPPORTED_OPS:
                raise UserError(
                    f"node '{node.name}' has op type {node.op_type}, which fpgabnn cannot lower to hardware; "
                    f"supported ops: {', '.join(sorted(SUPPORTED_OPS))}"
                )
        if len(model.graph.input) != 1 or len(model.graph.output) != 1:
            raise UserError("the model must have exactly one input and one output; re-export it with a single image input")
        return model, False


class RejectBranches(Transformation):
    """Refuse residual/skip connections up front, naming the node that joins the branches."""

    def apply(self, model):
        for node in model.graph.node:
            dynamic = [i for i in node.input if i and model.get_initializer(i) is None]
            if node.op_type in ("Add", "Sub", "Mul", "Div") and len(dynamic) > 1:
                raise UserError(
                    f"node '{node.name}' ({node.op_type}) joins two branches (a residual or skip connection); "
                    "branching networks are not supported by the hardware flow yet: export a plain chain"
                )
        return model, False


def tidy(model: ModelWrapper) -> ModelWrapper:
    """qonnx cleanup, weight-quantiser folding, Gemm -> MatMul, shapes, datatypes, readable names."""
    try:
        model = cleanup_model(model)
    except Exception as err:
        raise UserError(f"qonnx could not clean up the model ({type(err).__name__}: {err}); check it opens in Netron and re-export") from None
    model = model.transform(RejectUnsupportedOps())
    model = model.transform(FoldWeightQuantizers())
    model = model.transform(GemmToMatMul())
    model = model.transform(FoldConstants())
    model = model.transform(RejectBranches())
    model = model.transform(InferShapes())
    model = model.transform(InferDataTypes())
    model = model.transform(RemoveUnusedTensors())
    model = model.transform(GiveUniqueNodeNames())
    model = model.transform(GiveReadableTensorNames())
    # raw 8-bit pixels in: the streaming input is UINT8
    model.set_tensor_datatype(model.graph.input[0].name, DataType["UINT8"])
    return model
