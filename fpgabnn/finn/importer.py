"""finn-plus's dataflow graph -> fpgabnn's hardware graph, so fpgabnn builds, simulates and verifies a graph
that finn-plus streamlined and converted to hardware layers (step_convert_to_hw .. step_apply_folding_config).

Two things are made from FINN's graph, both without importing finn:
- ``finn_reference``: the same computation in qonnx's general ops (MultiThreshold, XnorPopcountMatMul, MatMul,
  Im2Col, MaxPoolNHWC, TopK), exactly what finn-plus's Python execution of each layer does; it is the build's
  reference model (model_source.onnx), so ``fpgabnn verify`` compares C simulation against qonnx execution of
  FINN's graph. FINN's one-bit tensors are 0/1 and an XNOR layer without activation outputs the popcount P;
  side nodes give each of them in fpgabnn's values (2b - 1, 2P - MW), and the hardware layers' provenance
  points there.
- ``FromFINN``: each FINN layer as the fpgabnn.hw layer computing the same integers (thresholds, weights and
  folding carried over; FINN's width converters and FIFOs are dropped, fpgabnn inserts its own).
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from fpgabnn.errors import UserError
from fpgabnn.hw.base import DOMAIN, signed_bits

FINN_DOMAIN = "finn.custom_op.fpgadataflow"
GENERAL = "qonnx.custom_op.general"
#: FINN op types (without _hls/_rtl) fpgabnn implements
SUPPORTED = ("Thresholding", "MVAU", "ConvolutionInputGenerator", "Pool", "LabelSelect",
             "StreamingDataWidthConverter", "StreamingFIFO", "Reshape", "ElementwiseMul", "ElementwiseAdd", "Shuffle")
PLUMBING = ("StreamingDataWidthConverter", "StreamingFIFO")
HOST_TAIL = ("ElementwiseMul", "ElementwiseAdd")


def is_finn_graph(model: ModelWrapper) -> bool:
    return any(n.domain.startswith(FINN_DOMAIN) for n in model.graph.node)


def base_op(node) -> str:
    op = node.op_type
    return op.rsplit("_", 1)[0] if op.endswith(("_hls", "_rtl")) else op


def attrs(node) -> dict:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _refuse(node, why: str) -> UserError:
    return UserError(f"FINN node '{node.name}' ({node.op_type}): {why}")


def check_finn_graph(model: ModelWrapper) -> None:
    """Refuse (one line naming the op) a FINN graph fpgabnn cannot build."""
    for node in model.graph.node:
        if node.op_type == "StreamingDataflowPartition":
            raise _refuse(node, "this is FINN's parent model; pass the dataflow partition it points to (its 'model' "
                                "attribute, or finn-plus's intermediate model after step_create_dataflow_partition)")
        if not node.domain.startswith(FINN_DOMAIN) or base_op(node) not in SUPPORTED:
            raise UserError(f"FINN graph op {node.op_type} (node '{node.name}') has no fpgabnn implementation; "
                            f"fpgabnn builds FINN's {', '.join(SUPPORTED[:5])} layers")
    in_name = model.graph.input[0].name
    if model.get_tensor_datatype(in_name) != DataType["UINT8"]:
        raise UserError(f"the FINN graph's input '{in_name}' is {model.get_tensor_datatype(in_name).name}, not UINT8 "
                        "pixels; export the dataflow partition of a model that takes images")


def _chain(model: ModelWrapper) -> list:
    nodes = list(model.graph.node)
    for a, b in zip(nodes, nodes[1:]):
        if b.input[0] != a.output[0]:
            raise _refuse(b, "the FINN graph is not a single chain in graph order (branches are not supported)")
    return nodes


def _is_bit(dt: DataType) -> bool:
    return dt in (DataType["BINARY"], DataType["BIPOLAR"])


def _int_dt(lo: int, hi: int) -> DataType:
    return DataType[f"INT{max(2, signed_bits(lo, hi))}"]


def _mvau_facts(model, node) -> dict:
    a = attrs(node)
    xnor = bool(a.get("binaryXnorMode", 0)) or (a["inputDataType"] == "BIPOLAR" and a["weightDataType"] == "BIPOLAR")
    w = model.get_initializer(node.input[1]).astype(np.float64)
    if xnor:
        if a["inputDataType"] not in ("BINARY", "BIPOLAR") or not np.all(np.isin(w, (0, 1) if a.get("binaryXnorMode") else (-1, 1))):
            raise _refuse(node, "XNOR mode needs BINARY inputs and 0/1 weights")
        w_pm = 2 * w - 1 if a.get("binaryXnorMode") else w
    else:
        if not np.all(np.abs(w) == 1):
            raise _refuse(node, "weights are not +-1; fpgabnn builds binary-weight layers only")
        w_pm = w
    act = not a.get("noActivation", 0)
    thr = model.get_initializer(node.input[2]).astype(np.float64) if act else None
    if act and thr.shape[1] != 1:
        raise _refuse(node, f"{thr.shape[1]} thresholds per channel ({a['outputDataType']} outputs); fpgabnn's "
                            "MVAU produces one-bit activations")
    if act and not (_is_bit(DataType[a["outputDataType"]]) and a.get("ActVal", 0) == 0
                    or a["outputDataType"] == "BIPOLAR"):
        raise _refuse(node, f"output {a['outputDataType']} with ActVal {a.get('ActVal', 0)} is not a one-bit activation")
    return {"a": a, "xnor": xnor, "w": w_pm, "thr": thr, "act": act}


# ---- the reference: FINN's Python semantics in qonnx general ops -----------------------------------------------
def finn_reference(model: ModelWrapper) -> ModelWrapper:
    """FINN's dataflow graph as a qonnx-executable graph computing the same values (see module docstring), with
    a side tensor ``<t>__fpgabnn`` in fpgabnn's value domain for every one-bit or popcount tensor."""
    check_finn_graph(model)
    nodes, inits, dtypes = [], {}, {}
    views = {}  # FINN tensor -> tensor holding fpgabnn's value of it

    def const(name, value, dt=None):
        inits[name] = np.asarray(value, dtype=np.float32)
        if dt is not None:
            dtypes[name] = dt
        return name

    def layout(t):
        """MultiThreshold's channel axis: last for FINN's channels-last 4-D tensors, axis 1 of 2-D ones."""
        return "NHWC" if len(model.get_tensor_shape(t) or []) == 4 else "NC"

    def view(t, scale, bias):
        """Side tensor scale * t + bias (FINN's 0/1 -> +-1, P -> 2P - MW)."""
        mul, out = f"{t}__scaled", f"{t}__fpgabnn"
        nodes.append(helper.make_node("Mul", [t, const(f"{t}__scale", scale)], [mul]))
        nodes.append(helper.make_node("Add", [mul, const(f"{t}__bias", bias)], [out]))
        views[t] = out

    chain = _chain(model)
    i = 0
    while i < len(chain):
        node = chain[i]
        op, a, x, y = base_op(node), attrs(node), node.input[0], node.output[0]
        if op in PLUMBING:
            nodes.append(helper.make_node("Identity", [x], [y]))
        elif op == "Reshape":
            shape = const(f"{node.name}__shape", np.asarray(a["out_shape"], dtype=np.int64))
            inits[shape] = np.asarray(a["out_shape"], dtype=np.int64)
            nodes.append(helper.make_node("Reshape", [x, shape], [y]))
        elif op == "Thresholding":
            odt = a["outputDataType"]
            bipolar = odt == "BIPOLAR"
            t = const(f"{node.name}__thresholds", model.get_initializer(node.input[1]))
            nodes.append(helper.make_node("MultiThreshold", [x, t], [y], domain=GENERAL, out_dtype=odt,
                                          out_scale=2.0 if bipolar else 1.0,
                                          out_bias=-1.0 if bipolar else float(a.get("ActVal", 0)),
                                          data_layout=layout(x)))
            if odt == "BINARY":
                view(y, 2.0, -1.0)
        elif op == "MVAU":
            f = _mvau_facts(model, node)
            w = model.get_initializer(node.input[1])
            acc = f"{y}__acc" if f["act"] else y
            vecs = list(a.get("numInputVectors", [1]))
            if list(model.get_tensor_shape(x)) != vecs + [a["MW"]]:  # FINN reshapes to its input vectors
                shape = f"{node.name}__in_shape"
                inits[shape] = np.asarray(vecs + [a["MW"]], dtype=np.int64)
                nodes.append(helper.make_node("Reshape", [x, shape], [f"{x}__vectors"]))
                x = f"{x}__vectors"
            if f["xnor"]:
                wbin = w if a.get("binaryXnorMode") else (w + 1) / 2
                nodes.append(helper.make_node("XnorPopcountMatMul", [x, const(f"{node.name}__w", wbin)], [acc],
                                              domain=GENERAL))
            else:
                nodes.append(helper.make_node("MatMul", [x, const(f"{node.name}__w", w)], [acc]))
            if f["act"]:
                odt = a["outputDataType"]
                bipolar = odt == "BIPOLAR"
                nodes.append(helper.make_node("MultiThreshold", [acc, const(f"{node.name}__t", f["thr"])], [y],
                                              domain=GENERAL, out_dtype=odt, out_scale=2.0 if bipolar else 1.0,
                                              out_bias=-1.0 if bipolar else 0.0,
                                              data_layout="NHWC" if len(vecs) == 3 else "NC"))
                if odt == "BINARY":
                    view(y, 2.0, -1.0)
            elif f["xnor"]:
                view(y, 2.0, -float(a["MW"]))
        elif op == "ConvolutionInputGenerator":
            if a.get("depthwise", 0):
                nxt = chain[i + 1] if i + 1 < len(chain) else None
                if nxt is None or base_op(nxt) != "Pool" or attrs(nxt).get("Function") != "MaxPool":
                    raise _refuse(node, "a depthwise window generator not followed by Pool(MaxPool) has no fpgabnn "
                                        "equivalent (depthwise convolutions are not supported)")
                nodes.append(helper.make_node("MaxPoolNHWC", [x], [nxt.output[0]], domain=GENERAL,
                                              kernel_shape=list(a["ConvKernelDim"]), strides=list(a["Stride"]),
                                              pads=[0, 0, 0, 0]))
                if _is_bit(DataType[a["inputDataType"]]):
                    view(nxt.output[0], 2.0, -1.0)
                i += 2
                continue
            if list(a.get("Dilation", [1, 1])) != [1, 1]:
                raise _refuse(node, "dilated windows are not supported by fpgabnn")
            h, w_ = a["IFMDim"]
            nodes.append(helper.make_node("Im2Col", [x], [y], domain=GENERAL, stride=list(a["Stride"]),
                                          kernel_size=list(a["ConvKernelDim"]), dilations=[1, 1],
                                          input_shape=f"(1,{h},{w_},{a['IFMChannels']})", pad_amount=[0, 0, 0, 0]))
        elif op == "Pool":
            raise _refuse(node, "Pool without its depthwise window generator in front")
        elif op == "Shuffle":
            nodes.append(helper.make_node("Transpose", [x], [y], perm=list(a["perm"])))
        elif op == "LabelSelect":
            k = const(f"{node.name}__k", np.asarray([a["K"]], dtype=np.int64))
            inits[k] = np.asarray([a["K"]], dtype=np.int64)
            nodes.append(helper.make_node("TopK", [x, k], [f"{y}__values", f"{y}__indices"]))
            nodes.append(helper.make_node("Cast", [f"{y}__indices"], [y], to=TensorProto.FLOAT))
        elif op in HOST_TAIL:
            rhs = model.get_initializer(node.input[1])
            if rhs is None:
                raise _refuse(node, "an elementwise layer needs a constant operand")
            nodes.append(helper.make_node("Mul" if op == "ElementwiseMul" else "Add",
                                          [x, const(f"{node.name}__c", rhs)], [y]))
        i += 1
    in_name, out_name = model.graph.input[0].name, model.graph.output[0].name
    known = {n.output[0] for n in model.graph.node} - {in_name, out_name}
    graph = helper.make_graph(
        nodes, "finn_reference",
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, model.get_tensor_shape(in_name))],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, model.get_tensor_shape(out_name))],
        value_info=[helper.make_tensor_value_info(t, TensorProto.FLOAT, model.get_tensor_shape(t))
                    for t in sorted(known) if model.get_tensor_shape(t)])
    from qonnx.util.basic import qonnx_make_model

    ref = ModelWrapper(qonnx_make_model(graph, producer_name="fpgabnn-finn-reference"))
    for name, value in inits.items():
        ref.set_initializer(name, value)
    ref.set_tensor_datatype(in_name, DataType["UINT8"])
    for t in known | {out_name}:
        ref.set_tensor_datatype(t, model.get_tensor_datatype(t))
    for name, dt in dtypes.items():
        ref.set_tensor_datatype(name, dt)
    ref = ref.transform(InferShapes())
    ref.set_metadata_prop("fpgabnn_finn_views", repr(sorted(views.items())))
    return ref


def _activation_after(chain: list, i: int):
    """FINN's streamlining leaves ElementwiseMul/Add between an MVAU without activation and a one-step
    Thresholding where it could not absorb them (zero or negative BatchNorm scales): (elementwise nodes,
    the Thresholding, index after it), or None."""
    j, ops, perm = i + 1, [], None
    while j < len(chain) and base_op(chain[j]) in PLUMBING + HOST_TAIL + ("Shuffle",):
        if base_op(chain[j]) in HOST_TAIL:
            ops.append(chain[j])
        elif base_op(chain[j]) == "Shuffle":  # FINN moves per-channel ops to NCHW and back
            p = list(attrs(chain[j])["perm"])
            perm = p if perm is None else [perm[k] for k in p]
        j += 1
    if not ops or j >= len(chain) or base_op(chain[j]) != "Thresholding":
        return None
    if perm is not None and perm != sorted(perm):
        raise _refuse(chain[j], "the transposes in front of it do not cancel; fpgabnn has no transpose layer")
    a = attrs(chain[j])
    if a.get("numSteps", 1) != 1 or not _is_bit(DataType[a["outputDataType"]]):
        return None
    return ops, chain[j], j + 1


def _finn_chain_decision(model, acc_values: np.ndarray, acc_dt: DataType, ops: list, thr_node, channels: int):
    """The Thresholding's output bit for every accumulator value and channel, computed as finn-plus's Python
    execution does (integer operands as int64, the rest float32, every result stored as float32)."""
    x, x_int = np.repeat(acc_values[:, None].astype(np.float64), channels, axis=1), acc_dt.is_integer()
    for node in ops:
        a = attrs(node)
        rhs = model.get_initializer(node.input[1])
        if rhs is None:
            raise _refuse(node, "an elementwise layer needs a constant operand")
        rhs = rhs.reshape(-1)
        if rhs.size not in (1, channels):
            raise _refuse(node, f"operand of {rhs.size} elements is not per-channel ({channels} channels)")
        rhs = rhs.astype(np.int64) if DataType[a["rhs_dtype"]].is_integer() else rhs.astype(np.float32)
        lhs = x.astype(np.int64) if x_int else x.astype(np.float32)
        x = (lhs * rhs if base_op(node) == "ElementwiseMul" else lhs + rhs).astype(np.float32)
        x_int = DataType[a["out_dtype"]].is_integer()
    t = model.get_initializer(thr_node.input[1]).astype(np.float32).reshape(-1)
    return x.astype(np.float32) >= t[None, :]


# ---- the translation -------------------------------------------------------------------------------------------
class FromFINN(Transformation):
    """FINN's dataflow layers -> fpgabnn.hw layers with provenance into ``finn_reference``'s tensors."""

    def apply(self, model):
        check_finn_graph(model)
        chain = _chain(model)
        new, tail, alias = [], [], {}
        i, seen_hw = 0, False
        last_compute = max(j for j, n in enumerate(chain) if base_op(n) not in PLUMBING + HOST_TAIL + ("Reshape",))
        while i < len(chain):
            node = chain[i]
            op, a, x, y = base_op(node), attrs(node), node.input[0], node.output[0]
            x = alias.get(x, x)  # FINN's width converters and FIFOs are dropped
            prov = {"source_tensor": f"{y}__fpgabnn", "source_scale": 1.0, "source_layout": ""}
            if op in PLUMBING:
                alias[y] = x
            elif op == "Reshape":
                if seen_hw:
                    raise _refuse(node, "a reshape between hardware layers has no fpgabnn implementation")
                shape = f"{node.name}__shape"
                model.set_initializer(shape, np.asarray(a["out_shape"], dtype=np.int64))
                new.append(helper.make_node("Reshape", [x, shape], [y], name=node.name))
            elif op == "Thresholding":
                seen_hw = True
                odt = a["outputDataType"]
                bit = _is_bit(DataType[odt])
                if not bit:
                    prov["source_tensor"] = y
                t = model.get_initializer(node.input[1])
                if t.shape[0] not in (1, a["NumChannels"]):
                    raise _refuse(node, f"thresholds of shape {t.shape} for {a['NumChannels']} channels")
                if a.get("ActVal", 0) != 0 and odt == "BINARY":
                    raise _refuse(node, "a BINARY output with a nonzero ActVal")
                new.append(helper.make_node(
                    "Thresholding", [x, node.input[1]], [y], domain=DOMAIN, name=node.name,
                    channels=a["NumChannels"], pe=a["PE"], vec_shape=list(a.get("numInputVectors", [1])),
                    in_dtype=a["inputDataType"], out_dtype="BIPOLAR" if bit else odt,
                    out_base=0 if bit else int(a.get("ActVal", 0)), **prov))
            elif op == "MVAU":
                seen_hw = True
                f = _mvau_facts(model, node)
                mw, mh = a["MW"], a["MH"]
                if f["xnor"]:
                    in_dt, dot = "BIPOLAR", mw
                else:
                    idt = DataType[a["inputDataType"]]
                    in_dt, dot = idt.name, mw * max(abs(int(idt.min())), abs(int(idt.max())))
                fused = None if f["act"] else _activation_after(chain, i)
                weights = f["w"]
                if fused is not None:
                    # the activation, exactly: FINN's elementwise chain and threshold on every reachable
                    # accumulator value; decreasing channels get their weight column negated (METHODS.md 6)
                    from fpgabnn.transforms.thresholds import bipolar_thresholds

                    ops, thr_node, after = fused
                    dots = np.arange(-dot, dot + 1) if not f["xnor"] else np.arange(-mw, mw + 1, 2)
                    acc = (dots + mw) // 2 if f["xnor"] else dots  # FINN's accumulator: P, or the dot product
                    positive = _finn_chain_decision(model, acc, DataType[a["outputDataType"]], ops, thr_node, mh)
                    th = bipolar_thresholds(dots, positive, node)
                    weights = np.where(th.flip[None, :], -weights, weights)
                    y = thr_node.output[0]
                    prov["source_tensor"] = f"{y}__fpgabnn" if attrs(thr_node)["outputDataType"] == "BINARY" else y
                w_name = f"{node.name}__weights_pm1"
                model.set_initializer(w_name, weights.astype(np.float32))
                ins = [x, w_name]
                if fused is not None:
                    t_name = f"{node.name}__dot_thresholds"
                    model.set_initializer(t_name, th.thresholds.astype(np.float32))
                    ins.append(t_name)
                elif f["act"]:
                    t = np.ceil(f["thr"].reshape(-1))  # x >= T <=> x >= ceil(T) for integer x
                    dot_t = 2 * t - mw if f["xnor"] else t  # popcount P >= T <=> 2P - MW >= 2T - MW
                    t_name = f"{node.name}__dot_thresholds"
                    model.set_initializer(t_name, dot_t.astype(np.float32))
                    ins.append(t_name)
                    if a["outputDataType"] == "BIPOLAR":
                        prov["source_tensor"] = y
                elif not f["xnor"]:
                    prov["source_tensor"] = y
                ram = a.get("ram_style", "auto")
                new.append(helper.make_node(
                    "MVAU", ins, [y], domain=DOMAIN, name=node.name, mw=mw, mh=mh, pe=a["PE"], simd=a["SIMD"],
                    vec_shape=list(a.get("numInputVectors", [1])), in_dtype=in_dt,
                    acc_dtype=_int_dt(-dot, dot + 1).name, ram_style=ram if ram in ("block", "distributed") else "auto",
                    **prov))
                if fused is not None:
                    i = after
                    continue
                if not f["act"] and f["xnor"] and i < last_compute and base_op(chain[i + 1]) != "LabelSelect":
                    raise _refuse(chain[i + 1], "a layer after an XNOR popcount output other than LabelSelect or "
                                                "a constant elementwise tail")
                if not f["act"] and f["xnor"] and i == last_compute:
                    # FINN's tensor is P; fpgabnn's accelerator outputs 2P - MW: back to P on the host
                    dot_out = f"{y}__dot"
                    new[-1].output[0] = dot_out
                    half, plus = f"{node.name}__half", f"{node.name}__plus_mw"
                    model.set_initializer(plus, np.asarray(float(mw), dtype=np.float32))
                    model.set_initializer(half, np.asarray(0.5, dtype=np.float32))
                    tail += [helper.make_node("Add", [dot_out, plus], [f"{y}__twice"], name=f"{node.name}_to_popcount_add"),
                             helper.make_node("Mul", [f"{y}__twice", half], [y], name=f"{node.name}_to_popcount_mul")]
            elif op == "ConvolutionInputGenerator":
                seen_hw = True
                in_dt = "BIPOLAR" if _is_bit(DataType[a["inputDataType"]]) else a["inputDataType"]
                if a.get("depthwise", 0):
                    pool = chain[i + 1]
                    pa = attrs(pool)
                    new.append(helper.make_node(
                        "MaxPool", [x], [pool.output[0]], domain=DOMAIN, name=pool.name,
                        ifm_dim=list(a["IFMDim"]), channels=a["IFMChannels"], kernel=list(a["ConvKernelDim"]),
                        stride=list(a["Stride"]), dtype=in_dt, pe=pa.get("PE", 1),
                        source_tensor=f"{pool.output[0]}__fpgabnn" if in_dt == "BIPOLAR" else pool.output[0],
                        source_scale=1.0, source_layout=""))
                    i += 2
                    continue
                new.append(helper.make_node(
                    "SlidingWindow", [x], [y], domain=DOMAIN, name=node.name, ifm_dim=list(a["IFMDim"]),
                    channels=a["IFMChannels"], kernel=list(a["ConvKernelDim"]), stride=list(a["Stride"]),
                    pads=[0, 0, 0, 0], pad_value=0, in_dtype=in_dt, simd=a["SIMD"],
                    parallel_window=int(a.get("parallel_window", 0))))
            elif op == "LabelSelect":
                seen_hw = True
                prev = {t.name: helper.get_attribute_value(t) for t in new[-1].attribute} if new else {}
                acc = prev.get("acc_dtype")  # fpgabnn's label select reads the dot product, FINN's the popcount
                in_dt = acc.decode() if isinstance(acc, bytes) else a["inputDataType"]
                new.append(helper.make_node(
                    "LabelSelect", [x], [y], domain=DOMAIN, name=node.name, channels=a["Labels"], k=a["K"],
                    in_dtype=in_dt, pe=a["PE"], source_tensor=y, source_scale=1.0, source_layout=""))
            elif op in HOST_TAIL:
                if i < last_compute:
                    raise _refuse(node, "an elementwise layer between hardware layers has no fpgabnn implementation")
                c = f"{node.name}__c"
                model.set_initializer(c, model.get_initializer(node.input[1]))
                tail.append(helper.make_node("Mul" if op == "ElementwiseMul" else "Add", [x, c], [y], name=node.name))
            else:
                raise _refuse(node, "a transpose (or other layer) inside the accelerator that fpgabnn does not implement")
            i += 1
        out_name = model.graph.output[0].name
        if out_name in alias:  # the graph ended in a FIFO: the last layer writes the graph output
            for n in new + tail:
                for j, o in enumerate(n.output):
                    if o == alias[out_name]:
                        n.output[j] = out_name
                for j, t in enumerate(n.input):
                    if t == alias[out_name]:
                        n.input[j] = out_name
        del model.graph.node[:]
        model.graph.node.extend(new + tail)
        return model.transform(InferShapes()), False


def from_finn(model: ModelWrapper) -> ModelWrapper:
    """FINN's dataflow graph -> fpgabnn's hardware graph, checked to be one accelerator chain."""
    from qonnx.transformation.infer_datatypes import InferDataTypes

    from fpgabnn.transforms.pipeline import split_dataflow

    model = model.transform(FromFINN()).transform(InferDataTypes())
    split_dataflow(model)
    return model
