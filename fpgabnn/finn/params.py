"""The per-layer hardware facts the FINN writer consumes (CONTRACTS.md A: ``hw_params(model)``).

A layer class that implements ``hw_params`` is asked for them; until every layer does, the same fields are
read here from the node's attributes and initializers, in the contract's layouts, so the writer is written
against one interface and this module is the only place to swap.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.errors import UserError
from fpgabnn.hw.base import DOMAIN


def layer_params(model, node):
    """The node's hardware parameters (a frozen dataclass from ``hw_params`` or an equivalent namespace)."""
    if node.domain != DOMAIN:
        raise UserError(f"node '{node.name}' ({node.op_type}) is not an fpgabnn hardware layer; "
                        "pass a build directory written by `fpgabnn build`")
    layer = getCustomOp(node)
    if hasattr(layer, "hw_params"):
        return layer.hw_params(model)
    fallback = _FALLBACKS.get(node.op_type)
    if fallback is None:
        raise UserError(f"layer '{node.name}' ({node.op_type}) has no hardware parameters; rebuild with this "
                        "fpgabnn version")
    return fallback(model, node, layer)


def _base(node, layer) -> dict:
    in_dt, out_dt = layer.in_dtype(), layer.out_dtype()

    def kind(dt):
        return "bipolar" if dt.name == "BIPOLAR" else ("signed" if dt.signed() else "unsigned")

    return dict(name=node.name, op=node.op_type, in_width=layer.in_stream_width(),
                out_width=layer.out_stream_width(), in_words=layer.in_words(), out_words=layer.out_words(),
                cycles=int(layer.exp_cycles()), in_bits=in_dt.bitwidth(), out_bits=out_dt.bitwidth(),
                in_kind=kind(in_dt), out_kind=kind(out_dt))


def fold_rows(table: np.ndarray, pe: int) -> np.ndarray:
    """[ROWS_TOTAL, ...] -> [PE, ROWS, ...] with row r of PE p = channel r*PE + p (a shared row repeats)."""
    if table.shape[0] == 1:
        return np.repeat(table[None], pe, axis=0)
    return table.reshape((table.shape[0] // pe, pe) + table.shape[1:]).swapaxes(0, 1)


def pack_weight_bits(weights: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """[MW, MH] +-1 -> uint8[PE, NF*SF, SIMD]: bit s of (p, nf*SF + sf) = W[sf*SIMD + s][nf*PE + p] (1 = +1)."""
    mw, mh = weights.shape
    bits = (weights > 0).astype(np.uint8).reshape(mw // simd, simd, mh // pe, pe)
    return bits.transpose(3, 2, 0, 1).reshape(pe, (mh // pe) * (mw // simd), simd)


def unpack_weight_bits(bits: np.ndarray, mw: int, mh: int) -> np.ndarray:
    """Inverse of pack_weight_bits: uint8[PE, NF*SF, SIMD] -> uint8[MW, MH] (1 = +1)."""
    pe, _, simd = bits.shape
    return bits.reshape(pe, mh // pe, mw // simd, simd).transpose(2, 3, 1, 0).reshape(mw, mh)


def _mvau(model, node, layer):
    from fpgabnn.hw.mvau import popcount_thresholds

    mw, mh, pe, simd = (layer.get_nodeattr(a) for a in ("mw", "mh", "pe", "simd"))
    xnor = layer.is_xnor()
    w = model.get_initializer(node.input[1])
    thresholds, act = None, ("popcount_to_dot" if xnor else "identity")
    if layer.has_thresholds():
        act = "threshold"
        t = model.get_initializer(node.input[2]).astype(np.float64).reshape(-1)
        if t.size == 1:
            t = np.repeat(t, mh)
        if xnor:
            tp = popcount_thresholds(t, mw)
        else:
            m = max(abs(int(layer.in_dtype().min())), abs(int(layer.in_dtype().max())))
            tp = np.clip(np.ceil(t), -mw * m, mw * m + 1).astype(np.int64)
        thresholds = np.ascontiguousarray(tp.reshape(mh // pe, pe).T)
    return SimpleNamespace(**_base(node, layer), mw=mw, mh=mh, pe=pe, simd=simd, nf=mh // pe, sf=mw // simd,
                           num_vecs=layer.num_vecs(), xnor=xnor, acc_bits=layer.acc_dtype().bitwidth(), act=act,
                           weights=pack_weight_bits(w, pe, simd), thresholds=thresholds,
                           ram_style=layer.get_nodeattr("ram_style"))


def _thresholding(model, node, layer):
    c, pe = layer.get_nodeattr("channels"), layer.get_nodeattr("pe")
    t = np.ceil(model.get_initializer(node.input[1]).astype(np.float64)).astype(np.int64)
    if t.ndim == 1:
        t = t[None]
    out_base = 0 if layer.out_dtype().name == "BIPOLAR" else layer.get_nodeattr("out_base")  # bipolar: the bit
    return SimpleNamespace(**_base(node, layer), channels=c, pe=pe, num_vecs=int(np.prod(layer.get_nodeattr("vec_shape"))),
                           out_base=out_base, mode="compare", rows=1 if t.shape[0] == 1 else c // pe,
                           table=None, thresholds=fold_rows(t, pe))


def _sliding_window(model, node, layer):
    (h, w), (kh, kw), (sh, sw) = (layer.get_nodeattr(a) for a in ("ifm_dim", "kernel", "stride"))
    pt, pl, pb, pr = layer.get_nodeattr("pads")
    oh, ow = layer.ofm_dim()
    return SimpleNamespace(**_base(node, layer), h=h, w=w, c=layer.get_nodeattr("channels"),
                           simd=layer.get_nodeattr("simd"), kh=kh, kw=kw, sh=sh, sw=sw, pt=pt, pl=pl, pb=pb, pr=pr,
                           oh=oh, ow=ow, pad_raw=layer.get_nodeattr("pad_value"), parallel=False)


def _maxpool(model, node, layer):
    (h, w), (kh, kw), (sh, sw) = (layer.get_nodeattr(a) for a in ("ifm_dim", "kernel", "stride"))
    oh, ow = layer.ofm_dim()
    return SimpleNamespace(**_base(node, layer), h=h, w=w, c=layer.get_nodeattr("channels"), pe=layer.get_nodeattr("pe"),
                           kh=kh, kw=kw, sh=sh, sw=sw, oh=oh, ow=ow, overlap=kh > sh or kw > sw)


def _labelselect(model, node, layer):
    return SimpleNamespace(**_base(node, layer), c=layer.get_nodeattr("channels"), pe=layer.get_nodeattr("pe"),
                           k=layer.get_nodeattr("k"))


_FALLBACKS = {"MVAU": _mvau, "Thresholding": _thresholding, "SlidingWindow": _sliding_window,
              "MaxPool": _maxpool, "LabelSelect": _labelselect}
