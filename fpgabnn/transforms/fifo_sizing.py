"""FIFO sizing (CONTRACTS.md A, ``SizeFIFOs``) and the pipeline's cycles per frame, from one transaction-level
model of the layers' read/write schedules with bounded FIFOs.

Every node takes and produces words as its RTL module does (the MVAU writes a vector into one bank of its
ping-pong buffer while it replays the other NF times and issues an output word only with a credit of its output
queue; the sliding window's reader waits for the rows its windows need and its writer for free rows of the line
buffer; ...), as max-plus recurrences (time[k] = max(time[k-1] + 1, ready[k])) solved with cumulative maxima. A
FIFO of depth D holds exactly D words (both backends): word k enters it at the earliest one cycle after the
consumer took word k - D, and the consumer sees it FIFO_LATENCY cycles after it entered. The source streams
frames back to back and the sink is always ready, as in `verify --sim rtl`; the whole pipeline is solved by
sweeps over the nodes until nothing moves (the least fixed point). From it:
- ``pipeline_cycles``: cycles per frame of the whole pipeline in steady state, measured on the model as the
  testbench measures the RTL (frame ends of the second half of the frames). This is the build's estimate; it can
  be below the slowest layer's own cycles (a sliding window's next line-buffer fill overlaps its current
  output) or above it (a bursty producer in front of a small buffer).
- ``SizeFIFOs``: the smallest depth per FIFO (bisection, from the peak occupancy of the unbounded model) that
  keeps the period at the unbounded model's period.
"""

from __future__ import annotations

import numpy as np
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

#: frames the model runs; the period is measured on the second half, as the RTL testbench does
MODEL_FRAMES = 8
MIN_DEPTH = 2
#: cycles from a word entering an empty StreamFIFO to the consumer seeing it (it goes straight to the output register)
FIFO_LATENCY = 1
#: a period this close to the target counts as reaching it (rounding of the measured average)
TOLERANCE = 1e-6
NEG = -(10**12)
#: sweeps over the pipeline (and iterations inside a node) before the model gives up converging
MAX_SWEEPS = 400
#: output words a module holds inside (credit queues; MVAU: QUEUE_DEPTH + 1, SWG: its QUEUE_DEPTH + 1)
MVAU_QCAP = 9
SWG_QCAP = 5
STREAM_Q = 2
#: frames of the runs that search the depths (the final check runs MODEL_FRAMES)
SIZING_FRAMES = 5


def _chain(ready: np.ndarray) -> np.ndarray:
    """t[k] = max(t[k-1] + 1, ready[k]) with t[-1] = -inf: one word per cycle, none before it is ready."""
    k = np.arange(len(ready), dtype=np.int64)
    return np.maximum.accumulate(ready - k) + k


def _chain_step(ready: np.ndarray, step: int) -> np.ndarray:
    """t[k] = max(t[k-1] + step, ready[k])."""
    k = np.arange(len(ready), dtype=np.int64) * step
    return np.maximum.accumulate(ready - k) + k


def _back(times: np.ndarray, idx: np.ndarray, add: int = 1) -> np.ndarray:
    """times[idx] + add where idx >= 0, else -inf (a constraint on a word that does not exist)."""
    return np.where(idx >= 0, times[np.clip(idx, 0, len(times) - 1)] + add, NEG)


def _bits_need(n_out: int, out_w: int, in_w: int, total_bits: int) -> np.ndarray:
    """For a gearbox: index of the input word holding the last bit of each output word (within one frame)."""
    ends = np.minimum((np.arange(n_out, dtype=np.int64) + 1) * out_w, total_bits) - 1
    return ends // in_w


def _frames(per_frame: np.ndarray, n_in: int, frames: int) -> np.ndarray:
    """Repeat a per-frame input index for ``frames`` frames (offsets of n_in words)."""
    return (per_frame[None, :] + n_in * np.arange(frames)[:, None]).reshape(-1)


def _gated(base, arrive: np.ndarray, space: np.ndarray, need: np.ndarray, q: int):
    """A node with ``q`` finished output words of room inside: input word i waits until the output that q words
    before the first output needing i has left (back-pressure), outputs wait for ``space``."""
    before = np.searchsorted(need, np.arange(len(arrive)), side="left")  # outputs needing only inputs < i
    gate = np.full(len(arrive), NEG, dtype=np.int64)
    for _ in range(MAX_SWEEPS):
        taken, ready = base(np.maximum(arrive, gate))
        out = _chain(np.maximum(ready, space))
        new = _back(out, before - q, 0)  # ready follows the output register's ready in the same cycle
        if np.array_equal(new, gate):
            break
        gate = new
    return taken, out


def _streaming(arrive, need, lat: int = 1):
    taken = _chain(arrive)
    return taken, taken[need] + lat


def node_schedule(p, arrive: np.ndarray, frames: int, space: np.ndarray | None = None):
    """(input take times, output push times) of one node given its input words' arrival times and the earliest
    cycle each output word may leave (``space``, from the FIFO behind it; None: never blocked)."""
    op = p.op
    if op in ("AxisInput", "AxisOutput", "DataWidthConverter", "Thresholding"):
        if op == "AxisInput":
            in_w, out_w, bits = p.port_width, p.out_width, p.words * p.out_width
        elif op == "AxisOutput":
            in_w, out_w, bits = p.in_width, p.port_width, p.words * p.in_width
        elif op == "DataWidthConverter":
            in_w, out_w, bits = p.in_width, p.out_width, p.in_words * p.in_width
        else:
            in_w = out_w = bits = 1
        n_out = -(-bits // out_w)
        need = _frames(_bits_need(n_out, out_w, in_w, bits), -(-bits // in_w), frames)
    elif op == "MVAU":
        need = np.repeat(np.arange(len(arrive) // p.sf) * p.sf + p.sf - 1, p.nf)
    elif op == "SlidingWindow" and not p.parallel:
        return _swg(p, arrive, frames, space)
    elif op in ("SlidingWindow", "MaxPool", "LabelSelect"):
        need = None
    else:
        raise ValueError(f"no schedule model for {op}")
    if op == "Thresholding":
        need = np.arange(len(arrive))
    if space is None:
        space = np.full(1, NEG, dtype=np.int64)
    if op == "MVAU":
        return _mvau(p, arrive, space)
    if op == "SlidingWindow":
        base, q = (lambda a: _swg_parallel(p, a, frames)), 1
    elif op == "MaxPool":
        base, q = (lambda a: _maxpool(p, a, frames)), STREAM_Q
    elif op == "LabelSelect":
        base, q = (lambda a: _labelselect(p, a, frames)), 1
    else:
        base, q = (lambda a: _streaming(a, need)), STREAM_Q
    if need is None:  # the input word each output needs last, from the unblocked schedule
        taken0, ready0 = base(arrive)
        need = np.minimum(np.searchsorted(taken0, ready0 - 1, side="right") - 1, len(arrive) - 1)
        need = np.maximum.accumulate(need)
    space = np.broadcast_to(space, (len(need),)) if len(space) == 1 else space
    return _gated(base, arrive, space, need, q)


def _mvau(p, arrive, space):
    """Input words fill bank v % 2 once the replay of vector v - 2 released it; the replay of vector v starts when
    its bank is full and vector v - 1's replay ended; the last tile of each output word is issued with a credit of
    the QCAP-word output queue (returned when a word leaves); a word leaves 4 cycles after its last tile."""
    sf, nf = p.sf, p.nf
    vecs = len(arrive) // sf
    words = vecs * nf
    space = np.broadcast_to(space, (words,)) if len(space) == 1 else space
    vec_of_word = np.arange(words) // nf
    first_word = np.arange(words) % nf == 0
    last_word_of_vec = np.arange(vecs) * nf + nf - 1
    vec_of_in = np.arange(len(arrive)) // sf
    credit = np.full(words, NEG, dtype=np.int64)
    bankfree = np.full(len(arrive), NEG, dtype=np.int64)
    for _ in range(MAX_SWEEPS):
        taken = _chain(np.maximum(arrive, bankfree))
        in_done = taken[np.arange(vecs) * sf + sf - 1]
        ready = np.where(first_word, np.maximum(credit, in_done[vec_of_word] + sf), credit)
        ends = _chain_step(ready, sf)  # issue cycle of each word's last tile
        out = _chain(np.maximum(ends + 4, space))
        new_credit = _back(out, np.arange(words) - MVAU_QCAP)
        new_free = _back(ends[last_word_of_vec], vec_of_in - 2)
        if np.array_equal(new_credit, credit) and np.array_equal(new_free, bankfree):
            break
        credit, bankfree = new_credit, new_free
    return taken, out


def _swg_need(p):
    """Per output word (one frame): index of the input row its window needs last, -1 if none."""
    cw = p.c // p.simd
    oh = np.arange(p.oh)
    hi = np.minimum(oh * p.sh - p.pt + p.kh - 1, p.h - 1)
    per_row = p.ow * p.kh * p.kw * cw
    return np.repeat(hi, per_row), per_row


def _swg(p, arrive, frames, space=None):
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
    release = np.full(len(arrive), NEG, dtype=np.int64)
    credit = np.full(n_out * frames, NEG, dtype=np.int64)
    space = NEG if space is None else space
    for _ in range(MAX_SWEEPS):
        taken = _chain(np.maximum(arrive, release))
        ready = np.where(need_all >= 0, taken[np.maximum(need_all, 0)] + 2, NEG)
        out = _chain(np.maximum(np.maximum(ready, credit + 2), space))
        row_end = out[per_row - 1 :: per_row]  # time the reader leaves each output row
        # writer row g needs free >= g - R + 1: the first output row end with free_after >= that
        idx = np.searchsorted(free_after, g_row_of_input - r_slots + 1, side="left")
        new = np.where(g_row_of_input - r_slots + 1 <= 0, NEG,
                       np.where(idx < len(row_end), row_end[np.minimum(idx, len(row_end) - 1)] + 1, 10**12))
        new_credit = _back(out, np.arange(len(out)) - SWG_QCAP)
        if np.array_equal(new, release) and np.array_equal(new_credit, credit):
            break
        release, credit = new, new_credit
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


def _chain_of(model):
    """The pipeline's layers (everything but the FIFOs, in stream order) and the FIFO node in front of each layer
    after the first."""
    from fpgabnn.codegen.hls import hw_nodes

    layers, fifos, pending = [], [], None
    for node in hw_nodes(model):
        p = getCustomOp(node).hw_params(model, arrays=False)
        if p.op == "StreamFIFO":
            pending = (node, p)
            continue
        if layers:
            fifos.append(pending)
        layers.append(p)
        pending = None
    return layers, fifos


def simulate(layers, depths, frames: int = MODEL_FRAMES, period: float | None = None, start=None):
    """(take times, push times) of every layer. ``depths[i]``: the FIFO in front of layer i + 1 (None: unbounded).
    The source offers frame f's beats from cycle f * period (None: back to back), the sink is always ready.
    ``start``: a solution for depths no smaller than these (a lower bound of this one), to start the sweeps from."""
    n, beats = len(layers), layers[0].beats
    if period is None:
        source = np.zeros(frames * beats, dtype=np.int64)
    else:
        source = (np.floor(np.arange(frames) * period).astype(np.int64)[:, None]
                  + np.arange(beats)[None, :]).reshape(-1)
    taken, out = ([None] * n, [None] * n) if start is None else (list(start[0]), list(start[1]))
    for sweep in range(MAX_SWEEPS):
        changed = False
        for i in (range(n) if sweep % 2 == 0 else range(n - 1, -1, -1)):
            arrive = source if i == 0 else out[i - 1] + FIFO_LATENCY
            space = None
            if i < n - 1 and depths[i] is not None and taken[i + 1] is not None:
                space = _back(taken[i + 1], np.arange(len(taken[i + 1])) - depths[i])
            t, o = node_schedule(layers[i], arrive, frames, space)
            if out[i] is None or not (np.array_equal(o, out[i]) and np.array_equal(t, taken[i])):
                changed = True
            taken[i], out[i] = t, o
        if not changed:
            break
    simulate.sweeps = sweep + 1
    return taken, out


def frame_period(layers, out, frames: int = MODEL_FRAMES) -> float:
    """Cycles per frame at the output as the RTL testbench measures them (frame ends of the second half)."""
    return _period(out[-1], frames)


def _period(times: np.ndarray, frames: int) -> float:
    """Cycles per frame of one stream of word times (frame ends of the second half of the frames)."""
    per = len(times) // frames
    ends = times[np.arange(1, frames + 1) * per - 1]
    k = min(frames // 2, frames - 2)
    return float(ends[-1] - ends[k]) / (frames - 1 - k)


def _peaks(taken, out) -> list[int]:
    """Words each FIFO holds at its worst moment: pushed so far minus taken by the consumer before that cycle."""
    peaks = []
    for i in range(len(out) - 1):
        held = np.arange(1, len(out[i]) + 1) - np.searchsorted(taken[i + 1], out[i], side="right")
        peaks.append(int(max(held.max(), 1)))
    return peaks


def pipeline_cycles(model, frames: int = MODEL_FRAMES) -> float:
    """The pipeline's steady-state cycles per frame with the model's current FIFO depths."""
    layers, fifos = _chain_of(model)
    taken, out = simulate(layers, [f[1].depth for f in fifos], frames)
    return frame_period(layers, out, frames)


def fifo_schedule(model, frames: int = MODEL_FRAMES) -> dict:
    """The sizing: the unbounded model's period (the target), every FIFO's peak occupancy at that rate, the
    smallest depth per FIFO keeping the bounded pipeline at the target, and the period reached with them.

    With every FIFO at MIN_DEPTH most pipelines already run at the target. Otherwise each FIFO whose peak exceeds
    MIN_DEPTH is searched on the whole pipeline (costliest first; doubling from MIN_DEPTH, then bisection), over
    SIZING_FRAMES frames, each run starting from the last solution with depths no smaller (so it converges in a
    few sweeps); one run over ``frames`` frames checks the result and doubles the searched depths if needed."""
    layers, fifos = _chain_of(model)
    n = len(layers)
    taken, out = simulate(layers, [None] * (n - 1), frames)
    target = frame_period(layers, out, frames)
    lim = target * (1 + TOLERANCE)
    taken_p, out_p = simulate(layers, [None] * (n - 1), frames, period=target)  # paced: peaks stay finite
    peaks = _peaks(taken_p, out_p)
    upper = [max(MIN_DEPTH, pk) for pk in peaks]
    fr = min(frames, SIZING_FRAMES)
    t_fr = frame_period(layers, simulate(layers, [None] * (n - 1), fr)[1], fr) * (1 + TOLERANCE)
    depths = [MIN_DEPTH] * (n - 1)
    reached = None
    if frame_period(layers, simulate(layers, depths, fr)[1], fr) <= t_fr:
        reached = frame_period(layers, simulate(layers, depths, frames)[1], frames)
    if reached is None or reached > lim:
        for _ in range(8):  # the paced peaks normally suffice; else grow them
            sol = simulate(layers, upper, fr)
            if frame_period(layers, sol[1], fr) <= t_fr:
                break
            upper = [2 * d for d in upper]
        depths = list(upper)

        def ok(trial):
            got = simulate(layers, trial, fr, start=sol)  # depths no larger than sol's: sol is below the answer
            return frame_period(layers, got[1], fr) <= t_fr, got

        searched = sorted((i for i in range(n - 1) if upper[i] > MIN_DEPTH), key=lambda i: -upper[i] * fifos[i][1].width)
        for i in searched:
            lo, hi = MIN_DEPTH, upper[i]
            d = MIN_DEPTH
            while d < hi:  # doubling: the answer is usually far below the peak
                good, got = ok(depths[:i] + [d] + depths[i + 1:])
                if good:
                    hi, sol = d, got
                    break
                lo, d = d + 1, 2 * d
            while lo < hi:
                mid = (lo + hi) // 2
                good, got = ok(depths[:i] + [mid] + depths[i + 1:])
                if good:
                    hi, sol = mid, got
                else:
                    lo = mid + 1
            depths[i] = hi
        reached = frame_period(layers, simulate(layers, depths, frames)[1], frames)
        while reached > lim and depths != upper:
            depths = [min(2 * d, u) if i in searched else d for i, (d, u) in enumerate(zip(depths, upper))]
            reached = frame_period(layers, simulate(layers, depths, frames)[1], frames)
    result = {}
    for (node, fp), pk, d in zip(fifos, peaks, depths):
        result[fp.name] = {"peak": pk, "depth": int(d), "width": fp.width, "node": node.name}
    slowest = max(int(p.cycles) for p in layers)
    return {"unbounded_cycles": target, "cycles": reached, "slowest_layer_cycles": slowest, "fifos": result}


class SizeFIFOs(Transformation):
    """Set every StreamFIFO's depth to the smallest that keeps the modelled pipeline at its unbounded rate, and
    record the modelled cycles per frame (metadata ``pipeline_cycles``) for the estimate and the RTL manifest."""

    def __init__(self, frames: int = MODEL_FRAMES):
        super().__init__()
        self.frames = frames

    def apply(self, model):
        sched = fifo_schedule(model, self.frames)
        by_node = {v["node"]: v for v in sched["fifos"].values()}
        for node in model.graph.node:
            if node.op_type == "StreamFIFO" and node.name in by_node:
                getCustomOp(node).set_nodeattr("depth", int(by_node[node.name]["depth"]))
        model.set_metadata_prop("pipeline_cycles", repr(sched["cycles"]))
        model.set_metadata_prop("pipeline_fifo_depths", _depths_key(model))
        return model, False


def _depths_key(model) -> str:
    return ",".join(f"{n.name}={getCustomOp(n).get_nodeattr('depth')}" for n in model.graph.node
                    if n.op_type == "StreamFIFO")


def recorded_cycles(model) -> float | None:
    """The cycles per frame SizeFIFOs recorded, None when it did not run or a depth changed since."""
    recorded = model.get_metadata_prop("pipeline_cycles")
    if not recorded or model.get_metadata_prop("pipeline_fifo_depths") != _depths_key(model):
        return None
    return float(recorded)


def modelled_cycles(model) -> float:
    """The pipeline's cycles per frame: as SizeFIFOs recorded it, else modelled now with the current depths."""
    recorded = recorded_cycles(model)
    return recorded if recorded is not None else pipeline_cycles(model)


def fifo_cost(model) -> dict:
    """Depths and their memory: {fifo: {depth, width, bits}} and the total bits."""
    out, total = {}, 0
    for node in model.graph.node:
        if node.op_type == "StreamFIFO":
            p = getCustomOp(node).hw_params(model, arrays=False)
            out[p.name] = {"depth": p.depth, "width": p.width, "bits": p.depth * p.width, "impl": p.impl}
            total += p.depth * p.width
    recorded = recorded_cycles(model)
    return {"fifos": out, "total_bits": total, "total_kbit": round(total / 1000, 1),
            "pipeline_cycles": recorded}
