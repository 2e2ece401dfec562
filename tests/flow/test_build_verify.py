"""End to end: `fpgabnn build` then `fpgabnn verify` (C simulation vs qonnx execution of the source)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import helper

from fpgabnn.cli import main


def test_tfc_builds_and_verifies_bit_exactly_with_pytorch_too(brevitas_qonnx, tmp_path, capsys):
    path, torch_model = brevitas_qonnx("tfc_1w1a")
    out = tmp_path / "build"
    assert main(["build", str(path), "--pixel-range", "unit", "--target-fps", "100000", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["fps"] >= 100000 and report["fits"]
    for name in ("model_source.onnx", "model_hw.onnx", "folding_config.json", "hls/top.cpp", "hls/hls.tcl"):
        assert (out / name).is_file(), name
    capsys.readouterr()
    assert main(["verify", str(out), "--samples", "100", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bit_exact"] and result["samples"] == 100 and result["mismatch_count"] == 0

    # PyTorch eval agrees with C simulation on the integer accumulators of the last layer
    from fpgabnn.sim.csim import run_csim
    from fpgabnn.sim.reference import random_pixels

    images = random_pixels((1, 1, 28, 28), 100, seed=1)
    hw_in = images.transpose(0, 2, 3, 1).reshape(100, -1).astype(np.int64)
    sim = np.asarray(run_csim(out / "hls", hw_in)).reshape(100, -1)
    acc = {}
    last_linear = [m for m in torch_model.modules() if type(m).__name__ == "QuantLinear"][-1]
    last_linear.register_forward_hook(lambda m, i, o: acc.__setitem__("out", o))
    with torch.no_grad():
        torch_model(torch.from_numpy(images / 255.0).float())
    assert np.array_equal(acc["out"].numpy().astype(np.int64), sim)


def test_verify_detects_a_corrupted_build(brevitas_qonnx, tmp_path, capsys):
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path / "build"
    assert main(["build", str(path), "--pixel-range", "unit", "--target-fps", "20000", "--out", str(out)]) == 0
    params = out / "hls" / "params.h"
    text = params.read_text()
    # invert one weight word of the LAST layer (its outputs are the integers verify compares)
    import re

    last = sorted(set(re.findall(r"(MVAU_\d+)_weights", text)))[-1]
    start = text.index(f"{last}_weights")
    match = re.compile(r"0x([0-9a-fA-F]+)u").search(text, start)
    assert match
    word = match.group(1)
    inverted = format(int(word, 16) ^ 1, "x")
    params.write_text(text[: match.start(1)] + inverted + text[match.end(1):])
    capsys.readouterr()
    assert main(["verify", str(out), "--samples", "30", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert not result["bit_exact"] and result["mismatch_count"] > 0


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _float_model(tmp_path):
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])
    w = helper.make_tensor("w", onnx.TensorProto.FLOAT, [4, 2], np.linspace(-1, 1, 8).astype(np.float32))
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [w])
    path = tmp_path / "float.onnx"
    onnx.save(helper.make_model(graph), str(path))
    return path


def _softmax_model(tmp_path):
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="odd/name;rm -rf")], "g", [x], [y])
    path = tmp_path / "softmax.onnx"
    onnx.save(helper.make_model(graph), str(path))
    return path


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p / "missing.onnx", "does not exist"),
        (lambda p: _write(p / "empty.onnx", b""), "empty"),
        (lambda p: _write(p / "text.onnx", b"this is not a model at all\n" * 10), "not an ONNX"),
        (_float_model, "quantis"),
        (_softmax_model, "Softmax"),
    ],
)
def test_bad_models_exit_2_with_one_line_and_no_output(make, words, tmp_path, capsys):
    model = make(tmp_path)
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["build", str(model), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and words in err[0], err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_unknown_board_and_unfittable_design(brevitas_qonnx, tmp_path, capsys):
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path / "out"
    assert main(["build", str(path), "--pixel-range", "unit", "--board", "no-such-board", "--out", str(out)]) == 2
    assert "no-such-board" in capsys.readouterr().err
    lfc, _ = brevitas_qonnx("lfc_1w1a")
    assert main(["build", str(lfc), "--pixel-range", "unit", "--target-fps", "1e12", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not fit" in err[0] and "LUT" in err[0]
    assert not out.exists()


def test_existing_foreign_directory_is_not_overwritten(brevitas_qonnx, tmp_path, capsys):
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path / "precious"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["build", str(path), "--pixel-range", "unit", "--out", str(out)]) == 2
    assert (out / "keep.txt").read_text() == "mine"


def test_verify_bad_input(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    assert "not an fpgabnn build" in capsys.readouterr().err


def test_odd_top_name_becomes_a_safe_identifier(brevitas_qonnx, tmp_path):
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path / "build"
    hostile = 'top"; system("x"); //'
    assert main(["build", str(path), "--pixel-range", "unit", "--top-name", hostile, "--out", str(out), "--json"]) == 0
    sources = "".join((out / "hls" / f).read_text() for f in ("top.cpp", "top.h", "hls.tcl", "tb.cpp"))
    assert hostile not in sources and 'system("x")' not in sources
    meta = json.loads((out / "build.json").read_text())
    assert meta["top_name"].isidentifier() and meta["top_name"] in sources
