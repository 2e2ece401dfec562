"""Per-layer template contexts for the HLS backend: one function per hardware op turns a node into the
plain dict its macro in ``hls_templates/hls/layers.j2`` renders.

Every number the C++ needs is decided here (types, folds, packed weight words, clamped thresholds,
lookup tables); the templates only place them. Every context has the keys

    op          macro name: thresholding | mvau | sliding_window | maxpool | label_select | dwc |
                axis_in | axis_out
    name        C identifier of the layer (prefix of its parameter arrays)
    in_width, out_width   stream word widths in bits
    in_words, out_words   stream words per frame

plus the op-specific keys documented in each function.
"""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.core.names import safe_identifier
from fpgabnn.errors import UserError
from fpgabnn.hw.mvau import popcount_thresholds
from fpgabnn.sim.packing import from_raw

BIPOLAR = DataType["BIPOLAR"]

#: inputs of at most this many bits are thresholded through a lookup table instead of comparators
LUT_MAX_INPUT_BITS = 8


# ---- small helpers ---------------------------------------------------------------------------------
def hls_type(dt: DataType) -> str:
    """The C++ element type of a datatype: bipolar values are one unsigned bit (1 = +1)."""
    if dt == BIPOLAR:
        return "ap_uint<1>"
    if not dt.is_integer():
        raise UserError(f"datatype {dt.name} has no integer stream encoding; quantise it to an integer type")
    return f"ap_int<{dt.bitwidth()}>" if dt.signed() else f"ap_uint<{dt.bitwidth()}>"


def unsigned_bits(hi: int) -> int:
    """Bits of the narrowest unsigned type holding 0..hi."""
    return max(1, int(hi).bit_length())


def signed_bits(lo: int, hi: int) -> int:
    """Bits of the narrowest two's-complement type holding lo..hi."""
    b = 1
    while not (-(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1):
        b += 1
    return b


def int_literal(v: int) -> str:
    v = int(v)
    return str(v) if -(2**31) <= v < 2**31 else f"{v}LL"


def hex_literal(v: int, bits: int) -> str:
    """An unsigned C literal; ``bits`` (<= 64) selects the suffix."""
    return f"0x{int(v):x}{'ULL' if bits > 32 else 'u'}"


def ap_uint_value(v: int, width: int) -> str:
    """An ap_uint<width> expression for a constant of any width (string constructor beyond 64 bits)."""
    if v < 2**63:
        return f"ap_uint<{width}>({int(v)}ULL)"
    return f'ap_uint<{width}>("{int(v):x}", 16)'


def dtype_range(dt: DataType) -> tuple[int, int]:
    return int(dt.min()), int(dt.max())


def _node_ident(node) -> str:
    return safe_identifier(node.name or f"{node.op_type}_{node.output[0]}", prefix="layer")


def _common(inst, op: str) -> dict:
    return {
        "op": op,
        "name": _node_ident(inst.onnx_node),
        "in_width": inst.in_stream_width(),
        "out_width": inst.out_stream_width(),
        "in_words": inst.in_words(),
        "out_words": inst.out_words(),
    }


def _initializer(model, node, idx: int, what: str) -> np.ndarray:
    value = model.get_initializer(node.input[idx])
    if value is None:
        raise UserError(f"node '{node.name}' ({node.op_type}): {what} '{node.input[idx]}' is not a constant; "
                        "fold it into an initializer before code generation")
    return np.asarray(value)


def _fold_rows(table: np.ndarray, pe: int) -> np.ndarray:
    """[ROWS_TOTAL, ...] per-channel rows -> [PE, ROWS, ...] with row r of PE p = channel r*PE + p;
    a single shared row is repeated for every PE (each PE reads its own copy)."""
    if table.shape[0] == 1:
        return np.repeat(table[None], pe, axis=0)
    rows = table.shape[0] // pe
    return table.reshape((rows, pe) + table.shape[1:]).swapaxes(0, 1)


# ---- per-op contexts -------------------------------------------------------------------------------
def thresholding_context(inst, model) -> dict:
    """Thresholding. Keys: c, pe, num_vecs, in_type, out_type, rows, mode ('lut' | 'compare');
    lut: entries [PE][ROWS][2^in_bits] (raw bits of the output element per raw input bit pattern),
    entry_type (C type of an entry), n_entries;
    compare: nt, out_base, thr_type, thresholds [PE][ROWS][NT] (ceil'd, clamped to the input range)."""
    node = inst.onnx_node
    c, pe = inst.get_nodeattr("channels"), inst.get_nodeattr("pe")
    in_dt, out_dt = inst.in_dtype(), inst.out_dtype()
    thr = _initializer(model, node, 1, "thresholds").astype(np.float64)
    if thr.ndim != 2 or thr.shape[0] not in (1, c):
        raise UserError(f"node '{node.name}': thresholds of shape {thr.shape} must be [{c}, NT] or [1, NT]")
    if np.any(np.diff(thr, axis=1) < 0):
        raise UserError(f"node '{node.name}': threshold rows must be ascending; sort them")
    if in_dt == BIPOLAR or not in_dt.is_integer():
        raise UserError(f"node '{node.name}': Thresholding input must be an integer type, not {in_dt.name}")
    nt = thr.shape[1]
    bipolar_out = out_dt == BIPOLAR
    out_base = 0 if bipolar_out else int(inst.get_nodeattr("out_base"))
    if bipolar_out and nt != 1:
        raise UserError(f"node '{node.name}': a bipolar output needs exactly one threshold per channel, got {nt}")
    if not bipolar_out:
        lo, hi = dtype_range(out_dt)
        if out_base < lo or out_base + nt > hi:
            raise UserError(f"node '{node.name}': outputs {out_base}..{out_base + nt} do not fit {out_dt.name}; "
                            "widen out_dtype")
    rows = 1 if thr.shape[0] == 1 else c // pe
    ctx = {
        **_common(inst, "thresholding"),
        "c": c, "pe": pe, "num_vecs": int(np.prod(inst.in_shape()[:-1])),
        "in_type": hls_type(in_dt), "out_type": hls_type(out_dt), "rows": rows,
    }
    in_bits = in_dt.bitwidth()
    if in_bits <= LUT_MAX_INPUT_BITS:
        raw = np.arange(2**in_bits, dtype=np.uint64)
        x = from_raw(raw, in_dt).astype(np.float64)  # the input value of every bit pattern
        count = (x[None, :, None] >= thr[:, None, :]).sum(axis=-1)  # [rows_total, 2^bits]
        # count is the output bit itself for bipolar outputs (bit 1 = +1)
        out_bits = out_dt.bitwidth()
        table = (count + out_base) & ((1 << out_bits) - 1)  # two's complement bits of the output
        entry_type = next(f"uint{b}_t" for b in (8, 16, 32, 64) if out_bits <= b)
        ctx.update(mode="lut", n_entries=2**in_bits, entry_type=entry_type, entries=_fold_rows(table, pe).tolist())
    else:
        lo, hi = dtype_range(in_dt)
        t = np.clip(np.ceil(thr), lo, hi + 1).astype(np.int64)  # x >= T  <=>  x >= ceil(T) for integer x
        thr_bits = signed_bits(min(lo, int(t.min())), max(hi + 1, int(t.max())))
        ctx.update(mode="compare", nt=nt, out_base=out_base, thr_type=f"ap_int<{thr_bits}>",
                   thresholds=[[[int_literal(v) for v in row] for row in rows_]
                               for rows_ in _fold_rows(t, pe).tolist()])
    return ctx


def pack_weight_words(weights: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """[MW, MH] +-1 weights -> bits [PE, TILES, SIMD] with tile = nf*SF + sf and
    bit s of (p, tile) = W[sf*SIMD + s][nf*PE + p] (1 = +1), FINN's memory layout."""
    mw, mh = weights.shape
    sf_, nf_ = mw // simd, mh // pe
    bits = (weights > 0).astype(np.uint8).reshape(sf_, simd, nf_, pe)  # [sf, s, nf, p]
    return bits.transpose(3, 2, 0, 1).reshape(pe, nf_ * sf_, simd)


def _limbs(bits: np.ndarray) -> tuple[str, int, int, list]:
    """[..., SIMD] bits -> (C limb type, limb bits, limbs per word, nested list of hex literals)."""
    simd = bits.shape[-1]
    lb = next((b for b in (8, 16, 32) if simd <= b), 64)
    n_limbs = math.ceil(simd / lb)
    padded = np.zeros(bits.shape[:-1] + (n_limbs * lb,), dtype=np.uint8)
    padded[..., :simd] = bits
    by = np.packbits(padded, axis=-1, bitorder="little").reshape(bits.shape[:-1] + (n_limbs, lb // 8))
    limbs = (by.astype(np.uint64) << (8 * np.arange(lb // 8, dtype=np.uint64))).sum(axis=-1, dtype=np.uint64)
    fmt = np.vectorize(lambda v: hex_literal(int(v), lb), otypes=[object])
    return f"uint{lb}_t", lb, n_limbs, fmt(limbs).tolist()


def mvau_context(inst, model) -> dict:
    """MVAU. Keys: mw, mh, simd, pe, nf, sf, tiles, num_vecs, in_type, mul, acc_type, out_type,
    limb_type, limbs, weights [PE][TILES][LIMBS] (hex literals), act ('identity' | 'popcount_to_dot' |
    'threshold'), thr_type and thresholds [PE][NF] (accumulator domain) when act == 'threshold'."""
    node = inst.onnx_node
    mw, mh, pe, simd = (inst.get_nodeattr(a) for a in ("mw", "mh", "pe", "simd"))
    if mw % simd or mh % pe:
        raise UserError(f"node '{node.name}': PE={pe} must divide MH={mh} and SIMD={simd} must divide MW={mw}")
    w = _initializer(model, node, 1, "weights")
    if w.shape != (mw, mh):
        raise UserError(f"node '{node.name}': weights of shape {w.shape} are not [MW, MH] = [{mw}, {mh}]")
    if not np.all(np.abs(w) == 1):
        raise UserError(f"node '{node.name}': MVAU weights must be +-1; binarise the layer before lowering")
    in_dt, xnor = inst.in_dtype(), inst.is_xnor()
    nf, sf = mh // pe, mw // simd
    if xnor:
        acc_type, mul = f"ap_uint<{unsigned_bits(mw)}>", "fpgabnn::XnorMul"
        dot_lo, dot_hi = -mw, mw
    else:
        lo, hi = dtype_range(in_dt)
        m = max(abs(lo), abs(hi))
        dot_lo, dot_hi = -mw * m, mw * m
        acc_type, mul = f"ap_int<{signed_bits(dot_lo, dot_hi)}>", "fpgabnn::SignMul"
    limb_type, limb_bits, n_limbs, words = _limbs(pack_weight_words(w, pe, simd))
    ctx = {
        **_common(inst, "mvau"),
        "mw": mw, "mh": mh, "simd": simd, "pe": pe, "nf": nf, "sf": sf, "tiles": nf * sf,
        "num_vecs": inst.num_vecs(), "in_type": hls_type(in_dt), "mul": mul, "acc_type": acc_type,
        "limb_type": limb_type, "limbs": n_limbs, "weights": words,
    }
    if inst.has_thresholds():
        t = _initializer(model, node, 2, "thresholds").astype(np.float64).reshape(-1)
        if t.size != mh:
            raise UserError(f"node '{node.name}': {t.size} thresholds for MH={mh} channels; give one per channel")
        if xnor:
            tp = popcount_thresholds(t, mw)  # P >= ceil((T + MW) / 2), clamped to [0, MW + 1]
            thr_type = f"ap_uint<{unsigned_bits(mw + 1)}>"
        else:
            tp = np.clip(np.ceil(t), dot_lo, dot_hi + 1).astype(np.int64)  # dot >= T <=> dot >= ceil(T)
            thr_type = f"ap_int<{signed_bits(dot_lo, dot_hi + 1)}>"
        per_pe = tp.reshape(nf, pe).T  # [PE][NF]: channel nf*PE + p
        ctx.update(act="threshold", out_type="ap_uint<1>", thr_type=thr_type,
                   thresholds=[[int_literal(v) for v in row] for row in per_pe.tolist()])
    else:
        out_dt = inst.out_dtype()
        olo, ohi = dtype_range(out_dt)
        if dot_lo < olo or dot_hi > ohi:
            raise UserError(f"node '{node.name}': dot products in [{dot_lo}, {dot_hi}] do not fit acc_dtype "
                            f"{out_dt.name}; widen acc_dtype")
        ctx.update(act="popcount_to_dot" if xnor else "identity", out_type=hls_type(out_dt))
    return ctx


def sliding_window_context(inst, model) -> dict:
    """SlidingWindow. Keys: h, w, c, simd, kh, kw, sh, sw, pt, pl, pb, pr, ew, pad_word (C++ expression
    of the SIMD-element pad word)."""
    node = inst.onnx_node
    (h, w), (kh, kw), (sh, sw) = (inst.get_nodeattr(a) for a in ("ifm_dim", "kernel", "stride"))
    pt, pl, pb, pr = inst.get_nodeattr("pads")
    c, simd, dt = inst.get_nodeattr("channels"), inst.get_nodeattr("simd"), inst.in_dtype()
    if c % simd:
        raise UserError(f"node '{node.name}': SIMD={simd} must divide channels={c}")
    if h + pt + pb < kh or w + pl + pr < kw:
        raise UserError(f"node '{node.name}': kernel {kh}x{kw} is larger than the padded input")
    pad_value = int(inst.get_nodeattr("pad_value"))
    if dt == BIPOLAR:
        if any((pt, pl, pb, pr)):
            raise UserError(f"node '{node.name}': bipolar inputs cannot be zero-padded (0 is not a bipolar "
                            "value); remove the padding or pad before binarisation")
        pad_raw = 0
    else:
        lo, hi = dtype_range(dt)
        if not lo <= pad_value <= hi:
            raise UserError(f"node '{node.name}': pad value {pad_value} does not fit {dt.name}")
        pad_raw = pad_value & ((1 << dt.bitwidth()) - 1)
    ew = dt.bitwidth()
    pad_word = sum(pad_raw << (i * ew) for i in range(simd))
    return {
        **_common(inst, "sliding_window"),
        "h": h, "w": w, "c": c, "simd": simd, "kh": kh, "kw": kw, "sh": sh, "sw": sw,
        "pt": pt, "pl": pl, "pb": pb, "pr": pr, "ew": ew,
        "pad_word": ap_uint_value(pad_word, simd * ew),
    }


def maxpool_context(inst, model) -> dict:
    """MaxPool. Keys: h, w, c, pe, kh, kw, sh, sw, elem_type, overlap. Overlapping windows
    (kernel > stride) run as sliding_window + window_max, which also use ew (element bits),
    num_pixels (OH * OW) and window (KH * KW)."""
    node = inst.onnx_node
    (h, w), (kh, kw), (sh, sw) = (inst.get_nodeattr(a) for a in ("ifm_dim", "kernel", "stride"))
    c, pe, dt = inst.get_nodeattr("channels"), inst.get_nodeattr("pe"), inst.in_dtype()
    if c % pe:
        raise UserError(f"node '{node.name}': PE={pe} must divide channels={c}")
    if h < kh or w < kw:
        raise UserError(f"node '{node.name}': pooling window {kh}x{kw} is larger than the {h}x{w} input")
    oh, ow = inst.ofm_dim()
    overlap = kh > sh or kw > sw
    return {
        **_common(inst, "maxpool"),
        "h": h, "w": w, "c": c, "pe": pe, "kh": kh, "kw": kw, "sh": sh, "sw": sw,
        "elem_type": hls_type(dt), "overlap": overlap, "ew": dt.bitwidth(),
        "num_pixels": oh * ow, "window": kh * kw,
    }


def label_select_context(inst, model) -> dict:
    """LabelSelect. Keys: c, pe, k, in_type, out_type."""
    node = inst.onnx_node
    c, pe, k = inst.get_nodeattr("channels"), inst.get_nodeattr("pe"), inst.get_nodeattr("k")
    if c % pe or not 1 <= k <= c:
        raise UserError(f"node '{node.name}': need PE | channels and 1 <= k <= channels (C={c}, PE={pe}, k={k})")
    out_dt = inst.out_dtype()
    if out_dt.signed() or out_dt.max() < c - 1:
        raise UserError(f"node '{node.name}': index type {out_dt.name} cannot hold {c - 1}")
    return {
        **_common(inst, "label_select"),
        "c": c, "pe": pe, "k": k, "in_type": hls_type(inst.in_dtype()), "out_type": hls_type(out_dt),
    }


def dwc_context(name: str, in_width: int, out_width: int, in_words: int) -> dict:
    """Data-width converter (one width divides the other). Keys: the common ones only."""
    assert in_width % out_width == 0 or out_width % in_width == 0
    return {"op": "dwc", "name": name, "in_width": in_width, "out_width": out_width,
            "in_words": in_words, "out_words": in_words * in_width // out_width}


def port_context(op: str, name: str, in_width: int, out_width: int, words: int) -> dict:
    """External AXI-Stream port adapter, op 'axis_in' (port -> first layer, truncating) or 'axis_out'
    (last layer -> port, zero-extending, TLAST on a frame's last word). Keys: the common ones only."""
    assert op in ("axis_in", "axis_out")
    return {"op": op, "name": name, "in_width": in_width, "out_width": out_width,
            "in_words": words, "out_words": words}


CONTEXT_FUNCTIONS = {
    "Thresholding": thresholding_context,
    "MVAU": mvau_context,
    "SlidingWindow": sliding_window_context,
    "MaxPool": maxpool_context,
    "LabelSelect": label_select_context,
}


def layer_context(node, model) -> dict:
    """The template context of one fpgabnn.hw node."""
    fn = CONTEXT_FUNCTIONS.get(node.op_type)
    if fn is None:
        raise UserError(f"node '{node.name}': no HLS implementation for op type {node.op_type}; "
                        f"supported: {', '.join(CONTEXT_FUNCTIONS)}")
    return fn(getCustomOp(node), model)
