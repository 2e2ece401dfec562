"""export_qonnx_model: exact against PyTorch, +-1 weights only, what the compiler needs, refusal leaves nothing."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper

from fpgabnn.errors import UserError
from fpgabnn.export import export_qonnx_model, qonnx_export
from fpgabnn.train.models import build_model
from fpgabnn.train.parametrize import METHODS, rotation_update

SAMPLES = 8
WIDTH = {"tfc": 1.0, "sfc": 0.25, "lfc": 0.0625, "cnv": 0.25, "cnv28": 0.25}
# tfc (published size): every method; the others: a few, so every model and every scale kind is exported.
CASES = [("tfc", method, "learned") for method in METHODS] + [
    ("sfc", "baseline", "none"), ("lfc", "svd", "analytic"),
    ("cnv", "rotation", "learned"), ("cnv", "tucker", "none"),
    ("cnv28", "holistic-tucker", "analytic"), ("cnv28", "tucker-rotation", "learned"),
]
_CACHE: dict = {}


def _model(randomize, name, method, scaling, aux=False, seed=0):
    torch.manual_seed(seed)
    model = build_model(name, method=method, scaling=scaling, width_scale=WIDTH[name], aux=aux)
    rotation_update(model)
    with torch.no_grad():  # latent tensors away from their initial values, as after training
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return randomize(model, seed)


def _pixels(model, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *model.input_shape), generator=g).float()


def _export_case(tmp_dir, randomize, case):
    if case not in _CACHE:
        model = _model(randomize, *case)
        path = tmp_dir / ("-".join(case) + ".onnx")
        report = export_qonnx_model(model, path, _pixels(model, SAMPLES))
        _CACHE[case] = (report, ModelWrapper(str(path)))
    return _CACHE[case]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("exports")


def _signature(wrapper: ModelWrapper):
    """Op types in order and the shapes of all initializers: the graph's structure without values."""
    ops = [n.op_type for n in wrapper.graph.node]
    shapes = sorted(tuple(init.dims) for init in wrapper.graph.initializer)
    return ops, shapes


def _weight_quants(wrapper: ModelWrapper):
    return [n for n in wrapper.graph.node if n.op_type == "BipolarQuant" and wrapper.get_initializer(n.input[0]) is not None]


@pytest.mark.parametrize("case", CASES, ids=["-".join(c) for c in CASES])
def test_export_is_bit_exact_and_binary(case, export_dir, randomize):
    report, wrapper = _export_case(export_dir, randomize, case)
    assert report["samples"] == SAMPLES and report["argmax_mismatches"] == 0
    assert report["layers"] and all(layer["equal"] for layer in report["layers"])
    assert report["max_abs_output_diff"] < 1e-5
    # weights: exactly +-1 behind a scale-1 BipolarQuant, one per binary layer
    weights = _weight_quants(wrapper)
    assert len(weights) == len(report["layers"])
    for node in weights:
        values = wrapper.get_initializer(node.input[0])
        assert set(np.unique(values).tolist()) <= {-1.0, 1.0}
    for node in wrapper.graph.node:
        if node.op_type == "BipolarQuant":
            assert wrapper.get_initializer(node.input[1]).tolist() in ([1.0], 1.0)
    quants = [n for n in wrapper.graph.node if n.op_type == "Quant"]
    assert len(quants) == 1 and wrapper.get_initializer(quants[0].input[1]).tolist() in ([2.0 ** -7], 2.0 ** -7)
    for node in wrapper.graph.node:
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            assert len(node.input) == 2  # no bias on binary layers
    convs = [n for n in wrapper.graph.node if n.op_type == "Conv"]
    for conv in convs[1:]:  # only the integer-input first conv may pad
        pads = [a for a in conv.attribute if a.name == "pads"]
        assert not pads or not any(pads[0].ints)
    # scales: a per-channel Mul after a layer exactly when the model scales
    muls = [n for n in wrapper.graph.node if n.op_type == "Mul" and wrapper.find_producer(n.input[0]) in convs + [
        m for m in wrapper.graph.node if m.op_type in ("Gemm", "MatMul")]]
    assert len(muls) == (0 if case[2] == "none" else len(weights))


def test_no_trace_of_factors(export_dir, randomize):
    """Every method exports to the same graph structure as the baseline: no factor, rotation or angle survives."""
    reference = _signature(_export_case(export_dir, randomize, ("tfc", "baseline", "learned"))[1])
    for method in METHODS[1:]:
        assert _signature(_export_case(export_dir, randomize, ("tfc", method, "learned"))[1]) == reference


def test_aux_branch_leaves_no_trace(tmp_path, randomize):
    paths = []
    for aux in (False, True):
        torch.manual_seed(0)
        model = randomize(build_model("tfc", scaling="analytic", width_scale=0.5, aux=aux))
        model.train()
        model(_pixels(model, 4))  # the branch records a loss in training
        paths.append(tmp_path / f"aux-{aux}.onnx")
        export_qonnx_model(model, paths[-1], _pixels(model, 2))
    graphs = [onnx.load(str(p)).graph.SerializeToString() for p in paths]
    assert graphs[0] == graphs[1]


def test_exported_cnv_and_tfc_lower_to_hardware_layers(export_dir, randomize):
    """What the compiler requires holds: every binary layer becomes an MVAU (exactness is the compiler's test)."""
    from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source

    for case in (("tfc", "rotation", "learned"), ("cnv", "rotation", "learned")):
        report, wrapper = _export_case(export_dir, randomize, case)
        hw = lower_to_hw(prepare_source(ModelWrapper(wrapper.model)))
        assert sum(n.op_type == "MVAU" for n in hw.graph.node) == len(report["layers"])


def test_disagreement_is_refused_and_nothing_is_written(tmp_path, monkeypatch, randomize):
    real_export = qonnx_export._export

    def tampered(folded, example):
        wrapper = real_export(folded, example)
        node = _weight_quants(wrapper)[1]
        w = wrapper.get_initializer(node.input[0]).copy()
        w.flat[0] = -w.flat[0]  # one weight of the second layer flipped
        wrapper.set_initializer(node.input[0], w)
        return wrapper

    monkeypatch.setattr(qonnx_export, "_export", tampered)
    torch.manual_seed(0)
    model = randomize(build_model("tfc", width_scale=0.5))
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous")
    with pytest.raises(UserError, match="does not reproduce") as info:
        export_qonnx_model(model, target, _pixels(model, 32))
    assert "\n" not in str(info.value)
    assert target.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]


@pytest.mark.parametrize("shape, values, needle", [
    ((2, 3, 28, 28), 0, "shape"),
    ((2, 784), 0, "shape"),
    ((2, 1, 28, 28), 300, "0..255"),
])
def test_bad_samples_are_refused_before_export(tmp_path, shape, values, needle):
    model = build_model("tfc", width_scale=0.25)
    with pytest.raises(UserError, match=needle):
        export_qonnx_model(model, tmp_path / "m.onnx", torch.full(shape, float(values)))
    assert not (tmp_path / "m.onnx").exists()


def test_export_restores_training_mode(tmp_path):
    model = build_model("tfc", width_scale=0.25)
    model.train()
    export_qonnx_model(model, tmp_path / "m.onnx", _pixels(model, 2))
    assert model.training
