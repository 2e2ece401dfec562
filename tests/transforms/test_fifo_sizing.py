"""FIFO sizing's schedule model: the max-plus recurrences against a plain loop, the MVAU's ping-pong replay
schedule, and SizeFIFOs on a real network (runs in seconds; rtlsim confirms the rate in tests/flow)."""

from types import SimpleNamespace

import numpy as np

from fpgabnn.transforms.fifo_sizing import NEG, _chain, _mvau, _swg, fifo_schedule


def test_chain_is_the_recurrence():
    rng = np.random.default_rng(0)
    ready = rng.integers(0, 50, size=200)
    t, want = -(10**9), []
    for r in ready:
        t = max(t + 1, r)
        want.append(t)
    assert np.array_equal(_chain(ready), want)


def test_mvau_replays_back_to_back_and_its_buffer_limits_the_input():
    p = SimpleNamespace(sf=3, nf=4)
    arrive = np.zeros(3 * 5, dtype=np.int64)  # five vectors, all words available at once
    taken, out = _mvau(p, arrive, np.full(1, NEG))
    starts = out.reshape(5, 4)[:, 0] - p.sf - 3
    assert np.all(np.diff(starts) == p.nf * p.sf)  # one tile per cycle, vector after vector
    # vector 2 goes into vector 0's bank: not before vector 0's replay ended
    assert taken.reshape(5, 3)[2, 0] >= starts[0] + p.nf * p.sf
    assert np.all(np.diff(taken) >= 1)


def test_swg_reader_waits_for_its_rows_and_writer_for_free_rows():
    p = SimpleNamespace(h=6, w=4, c=2, simd=2, kh=3, kw=3, sh=1, sw=1, pt=0, pl=0, pb=0, pr=0, oh=4, ow=2)
    arrive = np.arange(2 * 24, dtype=np.int64)  # two frames, one pixel word per cycle
    taken, out = _swg(p, arrive, 2)
    assert len(out) == 2 * 4 * 2 * 9
    assert out[0] > taken[3 * 4 - 1]  # the first window needs rows 0..2
    assert np.all(np.diff(out) >= 1) and np.all(np.diff(taken) >= 1)


def test_size_fifos_on_cnv(bnn_pynq_lowered):
    import time

    from qonnx.custom_op.registry import getCustomOp

    from fpgabnn.transforms.fifo_sizing import SizeFIFOs
    from fpgabnn.transforms.folding import SetFolding
    from fpgabnn.transforms.infrastructure import insert_infrastructure

    _, lowered = bnn_pynq_lowered("cnv_1w1a")
    hw = insert_infrastructure(lowered.transform(SetFolding(10_000.0, 100.0)), 64)
    start = time.perf_counter()
    sized = hw.transform(SizeFIFOs())
    assert time.perf_counter() - start < 30  # fast enough for every build
    depths = {n.name: getCustomOp(n).get_nodeattr("depth") for n in sized.graph.node if n.op_type == "StreamFIFO"}
    assert min(depths.values()) >= 2 and max(depths.values()) > 8  # some streams need more than depth 2
    sched = fifo_schedule(sized)
    for info in sched["fifos"].values():
        assert depths[info["node"]] >= info["depth"]
