"""fpgabnn's hardware graph -> finn-plus's dataflow graph (its op types, domains, attributes and layouts), so
FINN's builder can continue from ``step_hw_codegen`` (finn-hlslib HLS, stitched IP, bitfile, driver).

Every layer is written from its hardware parameters (fpgabnn.finn.params.layer_params, CONTRACTS.md A), the
same facts the HLS and RTL backends use. FINN's conventions, which differ from fpgabnn's stream values:
- one-bit activations are BINARY 0/1 tensors (fpgabnn's bipolar value v is the bit (v + 1) / 2);
- an XNOR MVAU (binaryXnorMode=1) takes BINARY weights [MW, MH] and counts matches P; its thresholds are in
  that popcount domain, nonnegative (FINN asserts it), out = #(P >= T). fpgabnn's popcount thresholds are
  already clamped to [0, MW + 1], so always-on (T = 0), never-on (T = MW + 1) and the weight rows flipped for
  negative gamma carry over unchanged and exactly;
- an integer-input MVAU takes BIPOLAR weights and dot-domain thresholds;
- an XNOR MVAU without activation outputs P; fpgabnn's accelerator outputs the dot product 2P - MW, so the
  export appends FINN's integer ElementwiseMul (x2) and ElementwiseAdd (-MW), unless a LabelSelect follows
  (the ranking of P is that of the dot product);
- a max-pool is FINN's depthwise ConvolutionInputGenerator followed by Pool(MaxPool).
The board's AXI port adapters are not exported: FINN inserts its own IODMA and width converters.
"""

from __future__ import annotations

import json
import math

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from fpgabnn.errors import UserError
from fpgabnn.hw.base import signed_bits, unsigned_bits
from fpgabnn.finn.params import layer_params, unpack_weight_bits

HW = "finn.custom_op.fpgadataflow"
HLS = "finn.custom_op.fpgadataflow.hls"
RTL = "finn.custom_op.fpgadataflow.rtl"
#: fpgabnn ops that are only stream plumbing to the board's DMA; FINN's builder inserts its own
PORT_OPS = ("AxisInput", "AxisOutput")


def int_type(lo: int, hi: int) -> DataType:
    """Narrowest FINN integer type holding lo..hi (UINT when lo >= 0)."""
    if lo >= 0:
        return DataType[f"UINT{unsigned_bits(hi)}"]
    return DataType[f"INT{max(2, signed_bits(lo, hi))}"]


def stream_dtype(kind: str, bits: int, last: bool) -> DataType:
    """FINN's datatype of a stream fpgabnn describes as (kind, bits): bipolar becomes BINARY inside the
    accelerator and stays BIPOLAR at its output, so the exported output equals fpgabnn's."""
    if kind == "bipolar":
        return DataType["BIPOLAR"] if last else DataType["BINARY"]
    return DataType[f"{'INT' if kind == 'signed' else 'UINT'}{bits}"]


class _Writer:
    def __init__(self, model: ModelWrapper):
        self.src = model
        self.nodes, self.inits, self.dtypes, self.shapes = [], {}, {}, {}
        self.folding = {"Defaults": {}}

    def tensor(self, name: str, shape, dtype: DataType) -> str:
        self.shapes[name] = list(shape)
        self.dtypes[name] = dtype
        return name

    def init(self, name: str, value: np.ndarray, dtype: DataType) -> str:
        self.inits[name] = np.asarray(value, dtype=np.float32)
        self.dtypes[name] = dtype
        return name

    def node(self, op: str, domain: str, name: str, inputs, outputs, folding: dict | None = None, **attrs):
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op, list(inputs), list(outputs), name=name, domain=domain,
                                           backend="fpgadataflow", **attrs))
        if folding:
            self.folding[name] = folding


def _thresholds_matrix(p) -> np.ndarray:
    """[C or 1, NT] integer thresholds (out = out_base + #(x >= T)) from Thresholding parameters."""
    if p.mode == "compare":
        t = np.asarray(p.thresholds)  # [PE, ROWS, NT], channel r*PE + pe
        if p.rows == 1:
            return t[0]
        return t.swapaxes(0, 1).reshape(p.channels, -1)
    # lut mode: the raw output of every raw input; read thresholds off the value-ordered table
    table = np.asarray(p.table).astype(np.int64)  # [PE, ROWS, 2**in_bits]
    rows = table[0] if p.rows == 1 else table.swapaxes(0, 1).reshape(p.channels, -1)
    raw = np.arange(rows.shape[1])
    if p.in_kind == "signed":
        xs = np.where(raw >= rows.shape[1] // 2, raw - rows.shape[1], raw)
    else:
        xs = raw
    order = np.argsort(xs, kind="stable")
    xs = xs[order]
    out_bits = p.out_bits
    vals = rows[:, order]
    if p.out_kind == "signed":
        vals = np.where(vals >= (1 << (out_bits - 1)), vals - (1 << out_bits), vals)
    levels = vals - p.out_base
    if np.any(np.diff(levels, axis=1) < 0) or np.any(levels < 0):
        raise UserError(f"layer '{p.name}': its lookup table is not a non-decreasing staircase; FINN's "
                        "Thresholding has no equivalent")
    nt = int(levels.max()) if levels.size else 0
    nt = max(nt, getattr(p, "nt", nt))
    out = np.empty((rows.shape[0], max(nt, 1)), dtype=np.int64)
    for k in range(1, max(nt, 1) + 1):
        reached = levels >= k
        first = np.argmax(reached, axis=1)
        out[:, k - 1] = np.where(reached.any(axis=1), xs[first], xs[-1] + 1)
    return out


def _write_thresholding(w: _Writer, node, p, last: bool):
    t = _thresholds_matrix(p)
    if t.shape[0] == 1:
        t = np.repeat(t, p.channels, axis=0)
    idt = stream_dtype(p.in_kind, p.in_bits, False)
    odt = stream_dtype(p.out_kind, p.out_bits, last)
    tdt = int_type(min(int(t.min()), int(idt.min())), max(int(t.max()), int(idt.max()) + 1))
    thr = w.init(f"{node.name}_thresholds", t, tdt)
    vecs = w.src.get_tensor_shape(node.input[0])[:-1]
    w.tensor(node.output[0], w.src.get_tensor_shape(node.output[0]), odt)
    w.node("Thresholding_hls", HLS, node.name, [node.input[0], thr], [node.output[0]],
           folding={"PE": p.pe}, PE=p.pe, NumChannels=p.channels, numSteps=int(t.shape[1]),
           inputDataType=idt.name, weightDataType=tdt.name, outputDataType=odt.name,
           numInputVectors=[int(v) for v in vecs], ActVal=0 if odt.name in ("BINARY", "BIPOLAR") else int(p.out_base))


def _write_mvau(w: _Writer, node, p, last: bool, next_op: str | None):
    bits = unpack_weight_bits(np.asarray(p.weights), p.mw, p.mh)  # [MW, MH], 1 = +1
    vecs = [int(v) for v in w.src.get_tensor_shape(node.input[0])[:-1]]
    idt = stream_dtype(p.in_kind, p.in_bits, False)
    if p.xnor:
        wdt, weights = DataType["BINARY"], bits
        acc_dt = int_type(-p.mw, p.mw + 1)
    else:
        wdt, weights = DataType["BIPOLAR"], 2.0 * bits - 1.0
        m = max(abs(int(idt.min())), abs(int(idt.max())))
        acc_dt = int_type(-p.mw * m, p.mw * m + 1)
    ins = [node.input[0], w.init(f"{node.name}_weights", weights, wdt)]
    folding = {"PE": p.pe, "SIMD": p.simd, "ram_style": p.ram_style if p.ram_style != "auto" else "auto"}
    common = dict(PE=p.pe, SIMD=p.simd, MW=p.mw, MH=p.mh, resType="lut", inputDataType=idt.name,
                  weightDataType=wdt.name, accDataType=acc_dt.name, binaryXnorMode=int(p.xnor),
                  numInputVectors=vecs, mem_mode="internal_decoupled", ram_style=p.ram_style,
                  runtime_writeable_weights=0)
    out_shape = w.src.get_tensor_shape(node.output[0])
    if p.act == "threshold":
        t = np.asarray(p.thresholds).T.reshape(p.mh, 1)  # [PE, NF] -> channel nf*PE + p
        if p.xnor and (t.min() < 0 or t.max() > p.mw + 1):
            raise UserError(f"layer '{node.name}': popcount thresholds outside [0, MW + 1]; rebuild with this "
                            "fpgabnn version")
        ins.append(w.init(f"{node.name}_thresholds", t, acc_dt))
        odt = stream_dtype("bipolar", 1, last)
        w.tensor(node.output[0], out_shape, odt)
        w.node("MVAU_hls", HLS, node.name, ins, [node.output[0]], folding=folding, outputDataType=odt.name,
               noActivation=0, ActVal=0, **common)
        return
    if not p.xnor:  # dot product out, as fpgabnn's
        w.tensor(node.output[0], out_shape, acc_dt)
        w.node("MVAU_hls", HLS, node.name, ins, [node.output[0]], folding=folding, outputDataType=acc_dt.name,
               noActivation=1, ActVal=0, **common)
        return
    # XNOR without activation: FINN outputs the popcount P
    pop = node.output[0] if next_op == "LabelSelect" else f"{node.output[0]}_popcount"
    w.tensor(pop, out_shape, acc_dt)
    w.node("MVAU_hls", HLS, node.name, ins, [pop], folding=folding, outputDataType=acc_dt.name,
           noActivation=1, ActVal=0, **common)
    if pop == node.output[0]:
        return
    # dot = 2P - MW in FINN's integer elementwise layers
    twice_dt, dot_dt = int_type(-2 * p.mw, 2 * p.mw), int_type(-p.mw, p.mw)
    twice = w.tensor(f"{node.output[0]}_twice", out_shape, twice_dt)
    two = w.init(f"{node.name}_two", np.asarray([2.0]), DataType["UINT2"])
    minus_mw = w.init(f"{node.name}_minus_mw", np.asarray([-float(p.mw)]), int_type(-p.mw, 0))
    for op, name, lhs, rhs, rdt, out, odt in (
        ("ElementwiseMul_hls", f"{node.name}_times2", pop, two, DataType["UINT2"], twice, twice_dt),
        ("ElementwiseAdd_hls", f"{node.name}_minus_mw", twice, minus_mw, int_type(-p.mw, 0), node.output[0], dot_dt),
    ):
        w.tensor(out, out_shape, odt)
        w.node(op, HLS, name, [lhs, rhs], [out], folding={"PE": 1}, lhs_dtype=w.dtypes[lhs].name,
               rhs_dtype=rdt.name, out_dtype=odt.name, lhs_shape=list(out_shape), rhs_shape=[1],
               out_shape=list(out_shape), lhs_style="input", rhs_style="const", PE=1)


def _swg_attrs(p, idt, depthwise: int, simd: int, kernel, stride, ofm) -> dict:
    return dict(ConvKernelDim=list(kernel), IFMChannels=p.c, IFMDim=[p.h, p.w], OFMDim=list(ofm), SIMD=simd,
                Stride=list(stride), Dilation=[1, 1], inputDataType=idt.name, outputDataType=idt.name,
                depthwise=depthwise, is1D=0, M=1)


def _write_sliding_window(w: _Writer, node, p, last: bool):
    if any((p.pt, p.pl, p.pb, p.pr)):
        raise UserError(f"layer '{node.name}': padded sliding windows have no single FINN equivalent (FINN pads "
                        "with a separate FMPadding layer); remove the padding or build with fpgabnn's backend")
    idt = w.dtypes[node.input[0]]
    w.tensor(node.output[0], w.src.get_tensor_shape(node.output[0]), idt)
    parallel = bool(getattr(p, "parallel", False))
    w.node("ConvolutionInputGenerator_rtl", RTL, node.name, [node.input[0]], [node.output[0]],
           folding={"SIMD": p.simd, "parallel_window": int(parallel)}, parallel_window=int(parallel),
           **_swg_attrs(p, idt, 0, p.simd, (p.kh, p.kw), (p.sh, p.sw), (p.oh, p.ow)))


def _write_maxpool(w: _Writer, node, p, last: bool):
    idt = w.dtypes[node.input[0]]
    win = w.tensor(f"{node.output[0]}_windows", [1, p.oh, p.ow, p.kh * p.kw * p.c], idt)
    w.node("ConvolutionInputGenerator_rtl", RTL, f"{node.name}_window", [node.input[0]], [win],
           folding={"SIMD": p.pe}, parallel_window=0,
           **_swg_attrs(p, idt, 1, p.pe, (p.kh, p.kw), (p.sh, p.sw), (p.oh, p.ow)))
    w.tensor(node.output[0], w.src.get_tensor_shape(node.output[0]), idt)
    w.node("Pool_hls", HLS, node.name, [win], [node.output[0]], folding={"PE": p.pe}, Channels=p.c, PE=p.pe,
           KernelSize=[p.kh, p.kw], Function="MaxPool", OutImgDims=[p.oh, p.ow], InputDataType=idt.name,
           OutputDataType=idt.name, AccumBits=0, Size=0, BatchSize=1)


def _write_labelselect(w: _Writer, node, p, last: bool):
    idt = w.dtypes.get(node.input[0]) or stream_dtype(p.in_kind, p.in_bits, False)
    odt = DataType[f"UINT{max(1, math.ceil(math.log2(p.c)))}"]
    w.tensor(node.output[0], w.src.get_tensor_shape(node.output[0]), odt)
    w.node("LabelSelect_hls", HLS, node.name, [node.input[0]], [node.output[0]], folding={"PE": p.pe},
           Labels=p.c, PE=p.pe, K=p.k, inputDataType=idt.name, outputDataType=odt.name, numInputVectors=[1])


def _write_dwc(w: _Writer, node, p, last: bool):
    dt = w.dtypes[node.input[0]]  # plumbing carries its producer's FINN datatype (widths must agree)
    shape = w.src.get_tensor_shape(node.output[0])
    w.tensor(node.output[0], shape, dt)
    w.node("StreamingDataWidthConverter_rtl", RTL, node.name, [node.input[0]], [node.output[0]],
           inShape=list(shape), outShape=list(shape), inWidth=p.in_width // p.in_bits * dt.bitwidth(),
           outWidth=p.out_width // p.out_bits * dt.bitwidth(), dataType=dt.name)


def _write_fifo(w: _Writer, node, p, last: bool):
    dt = w.dtypes[node.input[0]]
    shape = w.src.get_tensor_shape(node.output[0])
    elems = p.in_width // p.in_bits
    total = int(np.prod(shape))
    folded = list(shape[:-1]) + [shape[-1] // elems, elems] if shape[-1] % elems == 0 else [total // elems, elems]
    style = {"srl": "srl", "lutram": "distributed", "bram": "block"}.get(getattr(p, "impl", "srl"), "auto")
    w.tensor(node.output[0], shape, dt)
    w.node("StreamingFIFO_rtl", RTL, node.name, [node.input[0]], [node.output[0]],
           folding={"depth": int(p.depth), "ram_style": style}, depth=int(p.depth), folded_shape=folded,
           normal_shape=list(shape), dataType=dt.name, ram_style=style, impl_style="rtl")


WRITERS = {"Thresholding": _write_thresholding, "MVAU": _write_mvau, "SlidingWindow": _write_sliding_window,
           "MaxPool": _write_maxpool, "LabelSelect": _write_labelselect, "DataWidthConverter": _write_dwc,
           "StreamFIFO": _write_fifo}


def to_finn(model: ModelWrapper) -> tuple[ModelWrapper, dict]:
    """The accelerator part of fpgabnn's hardware graph as finn-plus's dataflow partition; also FINN's folding
    config (PE/SIMD/FIFO depths per node, for step_apply_folding_config / ApplyFIFODepthsFromFile)."""
    from fpgabnn.transforms.pipeline import split_dataflow

    split = split_dataflow(model)
    hw = [n for n in split.hw if n.op_type not in PORT_OPS]
    if not hw:
        raise UserError("the build has no hardware layer to export; rebuild it with `fpgabnn build`")
    w = _Writer(model)
    first_in = hw[0].input[0]
    in_dt = model.get_tensor_datatype(first_in)
    w.tensor(first_in, model.get_tensor_shape(first_in),
             DataType["BINARY"] if in_dt.name == "BIPOLAR" else in_dt)
    plumbing = ("StreamFIFO", "DataWidthConverter")
    last_compute = max((i for i, n in enumerate(hw) if n.op_type not in plumbing), default=len(hw) - 1)
    for i, node in enumerate(hw):
        writer = WRITERS.get(node.op_type)
        if writer is None:
            raise UserError(f"layer '{node.name}' ({node.op_type}) has no finn-plus equivalent; build without it "
                            "or use fpgabnn's own backend")
        p = layer_params(model, node)
        last = i == last_compute  # a one-bit output of the accelerator stays BIPOLAR (+-1), as fpgabnn's
        if node.op_type == "MVAU":
            nxt = next((n.op_type for n in hw[i + 1:] if n.op_type not in plumbing), None)
            writer(w, node, p, last, nxt)
        else:
            writer(w, node, p, last)
    out = hw[-1].output[0]
    graph = helper.make_graph(
        w.nodes, "fpgabnn_dataflow",
        [helper.make_tensor_value_info(first_in, TensorProto.FLOAT, w.shapes[first_in])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, w.shapes[out])],
        value_info=[helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in w.shapes.items()
                    if n not in (first_in, out)],
    )
    finn = ModelWrapper(qonnx_make_model(graph, producer_name="fpgabnn"))
    for name, value in w.inits.items():
        finn.set_initializer(name, value)
    for name, dt in w.dtypes.items():
        finn.set_tensor_datatype(name, dt)
    return finn, w.folding


def annotate(finn: ModelWrapper, meta: dict) -> None:
    finn.set_metadata_prop("fpgabnn_export", json.dumps(meta, sort_keys=True))
