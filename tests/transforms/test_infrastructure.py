"""InsertDWC / InsertIOPorts / InsertFIFO and the infrastructure nodes: after insertion every stream between two
nodes has exactly one StreamFIFO, neighbouring nodes agree on word width and words per frame, the ports run at
the given DMA width, the graph computes the same values (the nodes are identities), and a second insertion
changes nothing. Also the hardware parameters that decide the design (port beats, FIFO and memory styles,
parallel windows) and that SetFolding counts the ports."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.analysis.estimates import estimate_dataflow
from fpgabnn.deploy.boards import load_board
from fpgabnn.hw.dwc import converter_steps
from fpgabnn.hw.fifo import fifo_impl
from fpgabnn.hw.mvau import resolve_ram_style
from fpgabnn.transforms.folding import SetFolding, folding_record
from fpgabnn.transforms.infrastructure import compute_nodes, insert_infrastructure
from fpgabnn.transforms.pipeline import split_dataflow
from test_folding import conv_chain, fc_chain

HYPO = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DIMS = st.sampled_from([4, 6, 8, 10, 12, 16, 18, 24, 36])


def random_folding(model, rng):
    for node in split_dataflow(model).hw:
        inst = getCustomOp(node)
        options = inst.folding_options()
        for attr, value in options[rng.integers(len(options))].items():
            inst.set_nodeattr(attr, int(value))
    return model


def assert_well_formed(model, port_width: int):
    nodes = split_dataflow(model).hw
    ops = [n.op_type for n in nodes]
    assert ops[0] == "AxisInput" and ops[-1] == "AxisOutput"
    assert ops[1::2] == ["StreamFIFO"] * (len(nodes) // 2) and "StreamFIFO" not in ops[0::2]  # alternating
    params = [getCustomOp(n).hw_params(model) for n in nodes]
    for a, b in zip(params, params[1:]):  # the stream between two nodes looks the same from both sides
        assert (a.out_width, a.out_words) == (b.in_width, b.in_words), (a.name, b.name)
    assert params[0].in_width == params[-1].out_width == port_width
    for p in params:
        if p.op == "DataWidthConverter":
            assert p.in_epw % p.out_epw == 0 or p.out_epw % p.in_epw == 0
        if p.op == "StreamFIFO":
            assert p.depth >= 2 and p.impl in ("srl", "lutram", "bram")


@HYPO
@given(widths=st.lists(DIMS, min_size=2, max_size=4), seed=st.integers(0, 2**31), port=st.sampled_from([64, 128]))
def test_fc_chains(widths, seed, port):
    model = random_folding(fc_chain(widths, seed=seed), np.random.default_rng(seed))
    check_insertion(model, port, seed)


@HYPO
@given(size=st.integers(4, 8), channels=st.sampled_from([1, 2, 3, 4, 6]), k=st.sampled_from([2, 3]), mh=DIMS,
       pool=st.booleans(), seed=st.integers(0, 2**31))
def test_conv_chains(size, channels, k, mh, pool, seed):
    pool = pool and (size - k + 1) >= 2
    model = random_folding(conv_chain(size, channels, k, mh, pool=pool, seed=seed), np.random.default_rng(seed))
    check_insertion(model, 64, seed)


def check_insertion(model, port, seed):
    from qonnx.transformation.infer_shapes import InferShapes

    model = model.transform(InferShapes())
    inserted = insert_infrastructure(model, port)
    assert_well_formed(inserted, port)
    assert [n.name for n in compute_nodes(inserted)] == [n.name for n in split_dataflow(model).hw]
    again = insert_infrastructure(inserted, port)
    assert [n.op_type for n in again.graph.node] == [n.op_type for n in inserted.graph.node]
    iname = model.graph.input[0].name
    shape = model.get_tensor_shape(iname)
    x = np.random.default_rng(seed).choice([-1.0, 1.0], size=shape).astype(np.float32)
    before = execute_onnx(model, {iname: x})[model.graph.output[0].name]
    after = execute_onnx(inserted, {iname: x})[inserted.graph.output[0].name]
    np.testing.assert_array_equal(before, after)


@given(a=st.integers(1, 64), b=st.integers(1, 64))
def test_converter_steps(a, b):
    """From a words of ``a`` elements to words of ``b``: each step's counts divide one another, via the lcm."""
    steps = converter_steps(a, b)
    if a == b:
        assert steps == []
        return
    assert steps[0][0] == a and steps[-1][1] == b and len(steps) <= 2
    for x, y in steps:
        assert x % y == 0 or y % x == 0
    for (_, y), (x, _) in zip(steps, steps[1:]):
        assert y == x == math.lcm(a, b)


def test_port_beats_follow_frames_py(bnn_pynq_lowered):
    """TFC with 8-bit pixels: 784 bytes = 98 beats on 64 bits, 49 on 128; the II is never below that."""
    _, tfc = bnn_pynq_lowered("tfc_1w1a")
    for board, beats in (("pynq-z2", 98), ("zcu104", 49)):
        port = load_board(board).axi_port_width
        assert port == (64 if beats == 98 else 128)
        folded = tfc.transform(SetFolding(1e7, 100.0, board=board))
        report = estimate_dataflow(folded, board, 100.0)
        axis_in = next(g for g in report["glue"] if g["op"] == "AxisInput")
        assert axis_in["cycles"] == beats and report["ii_cycles"] >= beats
        assert report["ii_cycles"] == beats  # fully folded TFC is port-bound
        assert report["fps"] <= 100e6 / beats
        assert folding_record(folded)["port_cycles"]["AxisInput"] == beats


def test_cnv_first_window_runs_in_parallel_mode(bnn_pynq_lowered):
    """CNV's 3-channel first layer: a normal window of SIMD 3 needs 30*30*9 + fill = 8,196 cycles (12.2k fps at
    100 MHz); SetFolding picks the parallel window (SIMD = C, one 27-element word per pixel) to go beyond."""
    _, cnv = bnn_pynq_lowered("cnv_1w1a")
    folded = cnv.transform(SetFolding(20_000, 100.0))
    assert folding_record(folded)["met"]
    window = getCustomOp(next(n for n in folded.graph.node if n.op_type == "SlidingWindow"))
    assert window.get_nodeattr("parallel_window") == 1 and window.get_nodeattr("simd") == 3
    assert window.exp_cycles() <= 100e6 / 20_000 and window.out_elems_per_word() == 27
    mvau = getCustomOp(next(n for n in folded.graph.node if n.op_type == "MVAU"))
    assert mvau.get_nodeattr("simd") == 27  # SIMD = MW: no width converter after the window
    window.set_nodeattr("parallel_window", 0)
    assert window.exp_cycles() > 8000


def test_fifo_and_memory_style_rules():
    assert fifo_impl(64, 2) == "srl" and fifo_impl(64, 32) == "srl"
    assert fifo_impl(4, 128) == "lutram" and fifo_impl(64, 512) == "bram"
    assert fifo_impl(64, 2, "bram") == "bram"
    assert resolve_ram_style("auto", 64, 32) == "distributed" and resolve_ram_style("auto", 1024, 32) == "block"
    assert resolve_ram_style("distributed", 1024, 32) == "distributed"


@pytest.mark.parametrize("elems, bits, port, beats", [(784, 8, 64, 98), (784, 1, 64, 13), (784, 8, 128, 49),
                                                      (3072, 8, 64, 384), (10, 16, 64, 3)])
def test_port_params(elems, bits, port, beats):
    from onnx import helper

    from fpgabnn.hw.base import DOMAIN

    dtype = {1: "BIPOLAR", 8: "UINT8", 16: "INT16"}[bits]
    node = helper.make_node("AxisInput", ["a"], ["b"], domain=DOMAIN, name="AxisInput_0", shape=[1, elems],
                            dtype=dtype, epw=elems // 2 if elems % 2 == 0 else 1, port_width=port)
    p = getCustomOp(node).hw_params()
    assert (p.beats, p.in_width, p.in_words, p.port_width) == (beats, port, beats, port)
    assert p.cycles == max(beats, p.words) and p.out_width == p.epw * bits
