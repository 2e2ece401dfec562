"""FIFO sizing (CONTRACTS.md A, ``SizeFIFOs``): every StreamFIFO gets the depth that lets the pipeline run at its
estimated initiation interval.

A transaction-level model of the layers' read/write schedules, in numpy over a few frames: the input port
receives frame f from cycle f * II (II = the slowest node's cycles per frame, the estimate), every node takes
and produces words as its kernel does (the MVAU writes a vector into one bank of its ping-pong buffer while it
replays the other NF times; the sliding window's reader waits for the rows its windows need and its writer for
free rows of the line buffer; ...), and no FIFO ever blocks. Each node's schedule is a max-plus recurrence
(time[k] = max(time[k-1] + 1, ready[k])), solved with cumulative maxima. The words a FIFO holds at the worst
moment are its depth: with that much buffering no node waits on a neighbour beyond what the model shows, so
the pipeline delivers the estimate. rtlsim confirms it (tests/flow/test_rtl_models.py measures the rate and
each FIFO's peak occupancy).
"""

from __future__ import annotations

import math

import numpy as np
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

#: frames the schedule model runs (the steady state is reached by the second)
MODEL_FRAMES = 3
#: words of slack over the modelled peak (pipeline registers the model does not count)
SLACK = 2
MIN_DEPTH = 2
#: a producer at most this fraction of the II may wait on its consumer (see fifo_schedule)
FAST_PRODUCER = 0.5


def _chain(ready: np.ndarray) -> np.ndarray:
    """t[k] = max(t[k-1] + 1, ready[k]) with t[-1] = -inf: one word per cycle, none before it is ready."""
    k = np.arange(len(ready), dtype=np.int64)
    return np.maximum.accumulate(ready - k) + k


def _bits_need(n_out: int, out_w: int, in_w: int, total_bits: int) -> np.ndarray:
    """For a gearbox: index of the input word holding the last bit of each output word (within one frame)."""
    ends = np.minimum((np.arange(n_out, dtype=np.int64) + 1) * out_w, total_bits) - 1
    return ends // in_w


def _frames(per_frame: np.ndarray, n_in: int, frames: int) -> np.ndarray:
    """Repeat a per-frame input index for ``frames`` frames (offsets of n_in words)."""
    return (per_frame[None, :] + n_in * np.arange(frames)[:, None]).reshape(-1)


def _streaming(arrive: np.ndarray, need: np.ndarray, lat: int = 1):
    taken = _chain(arrive)
    out = _chain(taken[need] + lat)
    return taken, out


def node_schedule(p, arrive: np.ndarray, frames: int):
    """(input take times, output times) of one node given its input words' arrival times."""
    op = p.op
    if op in ("AxisInput", "AxisOutput", "DataWidthConverter"):
        if op == "AxisInput":
            in_w, out_w, bits = p.port_width, p.out_width, p.words * p.out_width
        elif op == "AxisOutput":
            in_w, out_w, bits = p.in_width, p.port_width, p.words * p.in_width
        else:
            in_w, out_w, bits = p.in_width, p.out_width, p.in_words * p.in_width
        n_out = -(-bits // out_w)
        need = _frames(_bits_need(n_out, out_w, in_w, bits), -(-bits // in_w), frames)
        return _streaming(arrive, need)
    if op == "Thresholding":
        return _streaming(arrive, np.arange(len(arrive)))
    if op == "MVAU":
        return _mvau(p, arrive)
    if op == "SlidingWindow":
        return _swg(p, arrive, frames) if not p.parallel else _swg_parallel(p, arrive, frames)
    if op == "MaxPool":
        return _maxpool(p, arrive, frames)
    if op == "LabelSelect":
        return _labelselect(p, arrive, frames)
    raise ValueError(f"no schedule model for {op}")


def _mvau(p, arrive):
    sf, nf = p.sf, p.nf
    vecs = len(arrive) // sf
    a = arrive.reshape(vecs, sf)
    taken = np.empty_like(a)
    out = np.empty((vecs, nf), dtype=np.int64)
    end = [-(10**12), -(10**12)]  # replay end times of the two previous vectors
    last = -(10**12)
    tiles = nf * sf
    for v in range(vecs):
        ready = np.maximum(a[v], end[0])  # bank of vector v is free when vector v-2's replay ends
        ready[0] = max(ready[0], last + 1)
        t = _chain(ready)
        taken[v] = t
        last = t[-1]
        start = max(end[1], t[-1] + 1)
        out[v] = start + (np.arange(nf) + 1) * sf + 3
        end = [end[1], start + tiles]
    return taken.reshape(-1), out.reshape(-1)


def _swg_need(p):
    """Per output word (one frame): index of the input row its window needs last, -1 if none."""
    cw = p.c // p.simd
    oh = np.arange(p.oh)
    hi = np.minimum(oh * p.sh - p.pt + p.kh - 1, p.h - 1)
    per_row = p.ow * p.kh * p.kw * cw
    return np.repeat(hi, per_row), per_row


def _swg(p, arrive, frames):
    cw = p.c // p.simd
    row_words = p.w * cw
    in_per_frame = p.h * row_words
    hi_rows, per_row = _swg_need(p)
    n_out = len(hi_rows)
    r_slots = p.kh + p.sh
    g_row_of_input = np.arange(len(arrive)) // row_words  # global input row of every input word
    # the reader's output rows in global numbering and the free pointer after each
    lo_next = np.minimum(np.maximum((np.arange(p.oh) + 1) * p.sh - p.pt, 0), p.h)
    lo_next[-1] = p.h
    free_after = (lo_next[None, :] + p.h * np.arange(frames)[:, None]).reshape(-1)
    need = np.where(hi_rows >= 0, (hi_rows + 1) * row_words - 1, -1)
    need[-1] = in_per_frame - 1  # the frame's last word waits for the whole frame
    need_all = (need[None, :] + np.where(need >= 0, in_per_frame, 0)[None, :] * np.arange(frames)[:, None])
    need_all = need_all.reshape(-1)
    release = np.zeros(len(arrive), dtype=np.int64)
    for _ in range(12):
        taken = _chain(np.maximum(arrive, release))
        ready = np.where(need_all >= 0, taken[np.maximum(need_all, 0)] + 2, 0)
        out = _chain(ready)
        row_end = out[per_row - 1 :: per_row]  # time the reader leaves each output row
        # writer row g needs free >= g - R + 1: the first output row end with free_after >= that
        idx = np.searchsorted(free_after, g_row_of_input - r_slots + 1, side="left")
        new = np.where(g_row_of_input - r_slots + 1 <= 0, 0,
                       np.where(idx < len(row_end), row_end[np.minimum(idx, len(row_end) - 1)] + 1, 10**12))
        if np.array_equal(new, release):
            break
        release = new
    return taken, out


def _swg_parallel(p, arrive, frames):
    hp, wp = p.h + p.pt + p.pb, p.w + p.pl + p.pr
    y, x = np.divmod(np.arange(hp * wp), wp)
    inside = (y >= p.pt) & (y < p.pt + p.h) & (x >= p.pl) & (x < p.pl + p.w)
    in_idx = np.cumsum(inside) - 1
    emit = ((y >= p.kh - 1) & ((y - p.kh + 1) % p.sh == 0) & ((y - p.kh + 1) // p.sh < p.oh)
            & (x >= p.kw - 1) & ((x - p.kw + 1) % p.sw == 0) & ((x - p.kw + 1) // p.sw < p.ow))
    ready = np.zeros((frames, hp * wp), dtype=np.int64)
    a = arrive.reshape(frames, -1)
    ready[:, inside] = a[:, in_idx[inside]]
    t = _chain(ready.reshape(-1)).reshape(frames, -1)
    return t[:, inside].reshape(-1), (t[:, emit] + 1).reshape(-1)


def _maxpool(p, arrive, frames):
    cw = p.c // p.pe
    if not p.overlap:
        oy, ox, c = np.meshgrid(np.arange(p.oh), np.arange(p.ow), np.arange(cw), indexing="ij")
        last = ((oy * p.sh + p.kh - 1) * p.w + ox * p.sw + p.kw - 1) * cw + c
        return _streaming(arrive, _frames(last.reshape(-1), p.h * p.w * cw, frames))
    from types import SimpleNamespace

    swg = SimpleNamespace(h=p.h, w=p.w, c=p.c, simd=p.pe, kh=p.kh, kw=p.kw, sh=p.sh, sw=p.sw, pt=0, pl=0, pb=0,
                          pr=0, oh=p.oh, ow=p.ow)
    taken, words = _swg(swg, arrive, frames)
    per_pix = p.kh * p.kw * cw
    o = np.arange(len(words) // per_pix)
    idx = (o[:, None] * per_pix + (p.kh * p.kw - 1) * cw + np.arange(cw)[None, :]).reshape(-1)
    return taken, words[idx] + 1


def _labelselect(p, arrive, frames):
    n_in = p.c // p.pe
    a = arrive.reshape(frames, n_in)
    taken, out, prev = [], [], -(10**12)
    for f in range(frames):
        ready = a[f].copy()
        ready[0] = max(ready[0], prev + 1)
        t = _chain(ready)
        o = t[-1] + 1 + np.arange(p.k)
        taken.append(t)
        out.append(o)
        prev = o[-1]
    return np.concatenate(taken), np.concatenate(out)


def fifo_schedule(model, frames: int = MODEL_FRAMES) -> dict:
    """{fifo name: {peak, depth, width, bits}} from the schedule model, and the II it was sized for."""
    from fpgabnn.codegen.hls import hw_nodes

    nodes = hw_nodes(model)
    params = [getCustomOp(n).hw_params(model, arrays=False) for n in nodes]
    ii = max(int(p.cycles) for p in params)
    first = params[0]
    # the DMA delivers frame f's beats from cycle f * II, one per cycle
    arrive = (np.arange(frames)[:, None] * ii + np.arange(first.beats)[None, :]).reshape(-1).astype(np.int64)
    result, pending, last_cycles = {}, None, ii
    for p in params:
        if p.op == "StreamFIFO":
            pending = (p, produced, last_cycles)
            arrive = produced + 1
            continue
        taken, produced = node_schedule(p, arrive, frames)
        if pending is not None:
            fifo, pushed, producer_cycles = pending
            # words held right after each push: pushed so far minus taken before that cycle
            held = np.arange(1, len(pushed) + 1) - np.searchsorted(taken, pushed, side="right")
            peak = int(max(held.max(), 1))
            # the model lets a faster producer run ahead without limit; a producer that is merely faster than
            # its consumer loses nothing by waiting, so the buffer beyond the consumer's bursts (an MVAU takes a
            # vector of SF words into each bank of its ping-pong buffer) is not needed
            # vector of SF words into each bank of its ping-pong buffer) is not needed. "Merely faster": a producer
            # needing at most FAST_PRODUCER of the II; closer to the II its stalls would cost throughput.
            burst = 2 * p.sf if p.op == "MVAU" and producer_cycles <= FAST_PRODUCER * ii else None
            depth = peak if burst is None else min(peak, burst)
            result[fifo.name] = {"peak": peak, "depth": depth, "width": fifo.width,
                                 "node": nodes[params.index(fifo)].name}
            pending = None
        last_cycles = p.cycles
    return {"ii": ii, "fifos": result}


class SizeFIFOs(Transformation):
    """Set every StreamFIFO's depth from the layers' read/write schedules (the modelled peak plus slack)."""

    def __init__(self, frames: int = MODEL_FRAMES, slack: int = SLACK):
        super().__init__()
        self.frames, self.slack = frames, slack

    def apply(self, model):
        sched = fifo_schedule(model, self.frames)
        for node in model.graph.node:
            if node.op_type == "StreamFIFO":
                info = next((v for v in sched["fifos"].values() if v["node"] == node.name), None)
                if info is None:
                    continue
                depth = max(MIN_DEPTH, info["depth"] + self.slack)
                getCustomOp(node).set_nodeattr("depth", int(depth))
        return model, False


def fifo_cost(model) -> dict:
    """Depths and their memory: {fifo: {depth, width, bits}} and the total bits."""
    out, total = {}, 0
    for node in model.graph.node:
        if node.op_type == "StreamFIFO":
            p = getCustomOp(node).hw_params(model, arrays=False)
            out[p.name] = {"depth": p.depth, "width": p.width, "bits": p.depth * p.width, "impl": p.impl}
            total += p.depth * p.width
    return {"fifos": out, "total_bits": total, "total_kbit": round(total / 1000, 1)}
