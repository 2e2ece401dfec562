"""Both directions of the FINN interop on Brevitas' four BNN-PYNQ models (with always-on, always-off, zero- and
negative-gamma BatchNorm channels), checked by finn-plus itself in its own environment:

- fpgabnn build -> export-finn -> finn-plus loads, code-generates (step_hw_codegen) and executes the graph in
  Python: the same integers as qonnx execution of the source model;
- finn-plus's own steps (streamline .. specialise, fold) -> fpgabnn build -> C simulation (and, for TFC, RTL
  simulation): the same integers as qonnx execution of FINN's graph, whose qonnx mirror in turn equals
  finn-plus's own execution of it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from conftest import MODELS
from fpgabnn.cli import main

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", list(MODELS))
def test_export_finn_is_executed_exactly_by_finn_plus(name, bnn_pynq, finn_env, tmp_path, capsys):
    _, _, fps, samples, codegen = MODELS[name]
    build = tmp_path / "build"
    assert main(["build", str(bnn_pynq(name)), "--pixel-range", "unit", "--target-fps", str(fps),
                 "--out", str(build), "--json"]) == 0
    out = tmp_path / f"{name}_finn.onnx"
    capsys.readouterr()
    assert main(["export-finn", str(build), "-o", str(out), "--check", str(samples), "--json"]
                + ([] if codegen else ["--skip-codegen"])) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["written"] and result["check"]["samples"] == samples and result["check"]["mismatches"] == 0
    if codegen:
        done = result["check"]["codegen"]
        assert done["nodes"] == done["with_sources"] == result["layers"]  # finn-plus's step_hw_codegen ran

    finn = ModelWrapper(str(out))
    ops = {n.op_type for n in finn.graph.node}
    assert {"Thresholding_hls", "MVAU_hls", "StreamingFIFO_rtl"} <= ops
    if name == "cnv":
        assert {"ConvolutionInputGenerator_rtl", "Pool_hls"} <= ops
    clamped = 0
    for node in finn.get_nodes_by_op_type("MVAU_hls"):
        a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
        w = finn.get_initializer(node.input[1])
        assert w.shape == (a["MW"], a["MH"]) and a["MW"] % a["SIMD"] == 0 and a["MH"] % a["PE"] == 0
        if a["binaryXnorMode"] and not a["noActivation"]:
            t = finn.get_initializer(node.input[2])
            assert np.all(t >= 0) and np.all(t <= a["MW"] + 1) and np.all(t == np.round(t))  # FINN's asserts
            clamped += int(np.sum((t == 0) | (t == a["MW"] + 1)))
    assert clamped >= 2  # the always-on / always-off channels reached FINN's graph as clamped thresholds
    folding = json.loads((tmp_path / f"{name}_finn_folding.json").read_text())
    hw = ModelWrapper(str(build / "model_hw.onnx"))
    for node in hw.graph.node:
        if node.op_type == "MVAU":
            pe = {x.name: helper.get_attribute_value(x) for x in node.attribute}["pe"]
            assert folding[node.name]["PE"] == pe
        if node.op_type == "StreamFIFO":
            depth = {x.name: helper.get_attribute_value(x) for x in node.attribute}["depth"]
            assert folding[node.name]["depth"] == depth


@pytest.mark.parametrize("name", list(MODELS))
def test_finn_plus_graph_builds_and_csim_is_exact(name, bnn_pynq, finn_env, tmp_path, capsys):
    from fpgabnn.finn.env import run_runner
    from fpgabnn.sim.reference import random_pixels

    _, _, fps, samples, _ = MODELS[name]
    finn_path = tmp_path / f"{name}_finn_hw.onnx"
    record = run_runner("streamline", str(bnn_pynq(name)), str(finn_path), "--target-fps", str(fps))
    assert finn_path.is_file(), record
    # finn-plus's own flow stops at its bit-width minimisation on always-on channels; its graph before is kept
    assert record["ok"] or record["failed_step"] == "step_minimize_bit_width", record
    assert {"MVAU_hls"} <= set(record["op_types"])

    build = tmp_path / "build"
    assert main(["build", str(finn_path), "--out", str(build), "--json"]) == 0
    capsys.readouterr()
    assert main(["verify", str(build), "--samples", str(samples), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bit_exact"] and result["csim_bit_exact"] and result["lowered_graph_bit_exact"]
    if name == "tfc":  # and the RTL backend's Verilator simulation of the same graph
        assert main(["verify", str(build), "--samples", str(samples), "--sim", "rtl", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["bit_exact"]

    # every compute layer is compared against a tensor of the reference (provenance resolves)
    source = ModelWrapper(str(build / "model_source.onnx"))
    names = {o for n in source.graph.node for o in n.output}
    hw = ModelWrapper(str(build / "model_hw.onnx"))
    for node in hw.graph.node:
        if node.op_type in ("MVAU", "MaxPool", "Thresholding"):
            src = {x.name: helper.get_attribute_value(x) for x in node.attribute}["source_tensor"].decode()
            assert src in names, (node.name, src)

    # the reference (FINN's graph in qonnx ops) equals finn-plus's own Python execution of FINN's graph
    from qonnx.core.onnx_exec import execute_onnx

    images = random_pixels(source.get_tensor_shape(source.graph.input[0].name), samples, seed=7)
    np.save(tmp_path / "in.npy", images)
    rec = run_runner("execute", str(finn_path), str(tmp_path / "in.npy"), str(tmp_path / "out.npy"))
    assert rec["ok"], rec
    finn_out = np.load(tmp_path / "out.npy")
    ref = np.stack([execute_onnx(source, {source.graph.input[0].name: x[None]})[source.graph.output[0].name]
                    .reshape(-1) for x in images])
    assert np.array_equal(finn_out, ref)


def test_label_select_both_ways(bnn_pynq, finn_env, tmp_path, capsys):
    """TFC with a top-1 label select in hardware: exported as LabelSelect_hls on the popcount (its ranking is the
    dot product's), and finn-plus's LabelSelect built by fpgabnn."""
    from fpgabnn.finn.env import run_runner

    build = tmp_path / "build"
    assert main(["build", str(bnn_pynq("tfc")), "--pixel-range", "unit", "--target-fps", "50000", "--topk", "1",
                 "--out", str(build), "--json"]) == 0
    capsys.readouterr()
    out = tmp_path / "tfc_top1_finn.onnx"
    assert main(["export-finn", str(build), "-o", str(out), "--check", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["check"]["mismatches"] == 0 and "LabelSelect_hls" in result["op_types"]
    assert "ElementwiseAdd_hls" not in result["op_types"]  # no 2P - MW stage in front of the label select

    finn_path = tmp_path / "tfc_top1_finn_hw.onnx"
    record = run_runner("streamline", str(bnn_pynq("tfc")), str(finn_path), "--target-fps", "50000", "--topk", "1")
    assert "LabelSelect_hls" in record["op_types"], record
    back = tmp_path / "back"
    assert main(["build", str(finn_path), "--out", str(back), "--json"]) == 0
    capsys.readouterr()
    assert main(["verify", str(back), "--samples", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bit_exact"]
