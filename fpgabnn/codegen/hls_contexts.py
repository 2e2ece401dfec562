"""HLS template contexts: a node's hardware parameters (``hw_params``, fpgabnn/hw) as the C types and literals
its macro in ``hls_templates/hls/layers.j2`` places. Every decision (folding, thresholds, table vs comparators,
memory style, widths) is made in hw_params; this module only spells it in C. Every context has the keys

    op          macro name: thresholding | mvau | sliding_window | maxpool | label_select | dwc |
                axis_in | axis_out
    name        C identifier of the node (prefix of its parameter arrays)
    in_width, out_width   stream word widths in bits
    in_words, out_words   stream words per frame

plus the op-specific keys documented in each function.
"""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.errors import UserError
from fpgabnn.hw.base import BIPOLAR
from fpgabnn.hw.dwc import DWCParams
from fpgabnn.hw.mvau import pack_weight_bits as pack_weight_words  # noqa: F401  (the tests' name)

#: widest weight word stored as one plain integer literal (wider words are split into 64-bit limbs in C sim)
POD_WORD_MAX_BITS = 64
#: Vitis HLS storage implementation of each memory style (BIND_STORAGE type=rom_1p impl=...)
ROM_IMPL = {"distributed": "lutram", "block": "bram"}


# ---- small helpers ---------------------------------------------------------------------------------
def hls_type(dt: DataType) -> str:
    """The C++ element type of a datatype: bipolar values are one unsigned bit (1 = +1)."""
    if dt == BIPOLAR:
        return "ap_uint<1>"
    if not dt.is_integer():
        raise UserError(f"datatype {dt.name} has no integer stream encoding; quantise it to an integer type")
    return f"ap_int<{dt.bitwidth()}>" if dt.signed() else f"ap_uint<{dt.bitwidth()}>"


def kind_type(kind: str, bits: int) -> str:
    """The C++ element type of an element kind and width (HWParams in_kind/in_bits)."""
    return "ap_uint<1>" if kind == "bipolar" else (f"ap_int<{bits}>" if kind == "signed" else f"ap_uint<{bits}>")


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


def pod_type(bits: int) -> str:
    return next(f"uint{b}_t" for b in (8, 16, 32, 64) if bits <= b)


#: op type -> macro name in layers.j2
MACROS = {"Thresholding": "thresholding", "MVAU": "mvau", "SlidingWindow": "sliding_window", "MaxPool": "maxpool",
          "LabelSelect": "label_select", "DataWidthConverter": "dwc", "AxisInput": "axis_in", "AxisOutput": "axis_out"}


def _common(p) -> dict:
    return {"op": MACROS[p.op], "name": p.name, "in_width": p.in_width, "out_width": p.out_width,
            "in_words": p.in_words, "out_words": p.out_words}


def _words(bits: np.ndarray) -> np.ndarray:
    """[..., B] bits (lowest first) -> Python ints (object array) of B bits."""
    b = bits.shape[-1]
    by = np.packbits(np.asarray(bits, dtype=np.uint8), axis=-1, bitorder="little")
    flat = by.reshape(-1, by.shape[-1])
    ints = np.array([int.from_bytes(row.tobytes(), "little") for row in flat], dtype=object)
    assert all(v < (1 << b) for v in ints)
    return ints.reshape(bits.shape[:-1])


# ---- per-op contexts -------------------------------------------------------------------------------
def thresholding_context(p) -> dict:
    """Thresholding. Keys: c, pe, num_vecs, in_type, out_type, rows, mode ('lut' | 'compare');
    lut: entries [PE][ROWS][2^in_bits] (raw bits of the output element per raw input bit pattern),
    entry_type (C type of an entry), n_entries; compare: nt, out_base, thr_type, thresholds [PE][ROWS][NT]."""
    ctx = {**_common(p), "c": p.channels, "pe": p.pe, "num_vecs": p.num_vecs, "rows": p.rows, "mode": p.mode,
           "in_type": kind_type(p.in_kind, p.in_bits), "out_type": kind_type(p.out_kind, p.out_bits)}
    if p.mode == "lut":
        ctx.update(n_entries=2**p.in_bits, entry_type=pod_type(p.out_bits), entries=p.table.astype(np.int64).tolist())
    else:
        ctx.update(nt=p.nt, out_base=p.out_base, thr_type=f"ap_int<{p.thr_bits}>",
                   thresholds=np.vectorize(int_literal, otypes=[object])(p.thresholds).tolist())
    return ctx


def mvau_context(p) -> dict:
    """MVAU. Keys: mw, mh, simd, pe, nf, sf, tiles, num_vecs, in_type, mul, acc_type, out_type, act
    ('identity' | 'popcount_to_dot' | 'threshold'), rom_impl (BIND_STORAGE impl), weights [PE][TILES]:
    words of exactly SIMD bits, as integer literals (pod_type: their C type in C simulation) when SIMD <= 64,
    else as ap_uint string constants (exact_words) and 64-bit limbs [PE][TILES][LIMBS] (limbs) for C simulation;
    thr_type and thresholds [PE][NF] (accumulator domain) when act == 'threshold'."""
    ctx = {
        **_common(p), "mw": p.mw, "mh": p.mh, "simd": p.simd, "pe": p.pe, "nf": p.nf, "sf": p.sf, "tiles": p.tiles,
        "num_vecs": p.num_vecs, "in_type": kind_type(p.in_kind, p.in_bits),
        "mul": "fpgabnn::XnorMul" if p.xnor else "fpgabnn::SignMul",
        "acc_type": f"ap_uint<{p.acc_bits}>" if p.xnor else f"ap_int<{p.acc_bits}>",
        "act": p.act, "rom_impl": ROM_IMPL[p.ram_style], "ram_style": p.ram_style,
    }
    words = _words(p.weights)
    if p.simd <= POD_WORD_MAX_BITS:
        ctx.update(pod_type=pod_type(p.simd),
                   weights=np.vectorize(lambda v: hex_literal(v, p.simd), otypes=[object])(words).tolist())
    else:
        n_limbs = math.ceil(p.simd / 64)
        limbs = np.vectorize(lambda v: [hex_literal((v >> (64 * i)) & (2**64 - 1), 64) for i in range(n_limbs)],
                             otypes=[object])(words)
        ctx.update(pod_type=None, n_limbs=n_limbs, limbs=limbs.tolist(),
                   exact_words=np.vectorize(lambda v: ap_uint_value(v, p.simd), otypes=[object])(words).tolist())
    if p.act == "threshold":
        ctx.update(out_type="ap_uint<1>", thr_type=f"ap_uint<{p.thr_bits}>" if p.xnor else f"ap_int<{p.thr_bits}>",
                   thresholds=np.vectorize(int_literal, otypes=[object])(p.thresholds).tolist())
    else:
        ctx.update(out_type=kind_type(p.out_kind, p.out_bits))
    return ctx


def sliding_window_context(p) -> dict:
    """SlidingWindow. Keys: h, w, c, simd, kh, kw, sh, sw, pt, pl, pb, pr, ew, parallel, pad_word (C++ expression
    of the SIMD-element pad word)."""
    pad_word = sum(p.pad_raw << (i * p.in_bits) for i in range(p.simd))
    return {**_common(p), "h": p.h, "w": p.w, "c": p.c, "simd": p.simd, "kh": p.kh, "kw": p.kw, "sh": p.sh,
            "sw": p.sw, "pt": p.pt, "pl": p.pl, "pb": p.pb, "pr": p.pr, "ew": p.in_bits, "parallel": p.parallel,
            "pad_word": ap_uint_value(pad_word, p.simd * p.in_bits)}


def maxpool_context(p) -> dict:
    """MaxPool. Keys: h, w, c, pe, kh, kw, sh, sw, elem_type, overlap. Overlapping windows (kernel > stride)
    run as sliding_window + window_max, which also use ew (element bits), num_pixels (OH * OW) and window
    (KH * KW)."""
    return {**_common(p), "h": p.h, "w": p.w, "c": p.c, "pe": p.pe, "kh": p.kh, "kw": p.kw, "sh": p.sh, "sw": p.sw,
            "elem_type": kind_type(p.in_kind, p.in_bits), "overlap": p.overlap, "ew": p.in_bits,
            "num_pixels": p.oh * p.ow, "window": p.kh * p.kw}


def label_select_context(p) -> dict:
    """LabelSelect. Keys: c, pe, k, in_type, out_type."""
    return {**_common(p), "c": p.c, "pe": p.pe, "k": p.k, "in_type": kind_type(p.in_kind, p.in_bits),
            "out_type": f"ap_uint<{p.out_bits}>"}


def dwc_context(p) -> dict:
    """DataWidthConverter (one width divides the other). Keys: the common ones only."""
    return {**_common(p), "op": "dwc"}


def port_context(p) -> dict:
    """AxisInput ('axis_in': beats -> the first layer's words, TLAST checked) or AxisOutput ('axis_out': words
    -> beats, TLAST on a frame's last beat when its input frame's last beat had it). Keys: port_width, width
    (layer-side word bits), beats, words."""
    op = "axis_in" if p.op == "AxisInput" else "axis_out"
    width = p.out_width if op == "axis_in" else p.in_width
    return {**_common(p), "op": op, "port_width": p.port_width, "width": width, "beats": p.beats, "words": p.words}


def dwc_context_for(name: str, in_width: int, out_width: int, in_words: int) -> dict:
    """A converter context without a node (kernel tests)."""
    p = DWCParams(name=name, op="DataWidthConverter", in_width=in_width, out_width=out_width, in_words=in_words,
                  out_words=in_words * in_width // out_width, cycles=0, in_bits=1, out_bits=1, in_kind="unsigned",
                  out_kind="unsigned")
    return dwc_context(p)


CONTEXT_FUNCTIONS = {
    "Thresholding": thresholding_context,
    "MVAU": mvau_context,
    "SlidingWindow": sliding_window_context,
    "MaxPool": maxpool_context,
    "LabelSelect": label_select_context,
    "DataWidthConverter": dwc_context,
    "AxisInput": port_context,
    "AxisOutput": port_context,
}


def layer_context(node, model) -> dict:
    """The template context of one fpgabnn.hw node (not a StreamFIFO: a FIFO is the stream's depth)."""
    fn = CONTEXT_FUNCTIONS.get(node.op_type)
    if fn is None:
        raise UserError(f"node '{node.name}': no HLS implementation for op type {node.op_type}; "
                        f"supported: {', '.join(CONTEXT_FUNCTIONS)}")
    return fn(getCustomOp(node).hw_params(model))
