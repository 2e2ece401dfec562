"""Bad input to the FINN interop: one line naming the problem and the fix, exit 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from fpgabnn.cli import main


@pytest.fixture(scope="module")
def tfc_build(bnn_pynq, tmp_path_factory):
    out = tmp_path_factory.mktemp("bad_input") / "build"
    assert main(["build", str(bnn_pynq("tfc")), "--pixel-range", "unit", "--target-fps", "20000",
                 "--out", str(out), "--json"]) == 0
    return out


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_build_of_another_version_is_refused(tfc_build, tmp_path, capsys):
    import shutil

    old = tmp_path / "old_build"
    shutil.copytree(tfc_build, old)
    meta = json.loads((old / "build.json").read_text())
    meta["fpgabnn_version"] = "0.0.1"
    (old / "build.json").write_text(json.dumps(meta))
    out = tmp_path / "x.onnx"
    capsys.readouterr()
    assert main(["export-finn", str(old), "-o", str(out), "--check", "0"]) == 2
    err = _one_line_error(capsys)
    from fpgabnn import __version__

    assert "0.0.1" in err and __version__ in err and "fpgabnn build" in err
    assert not out.exists() and not (tmp_path / "x_folding.json").exists()
    assert main(["verify", str(old), "--samples", "1"]) == 2


def test_finn_plus_missing_names_the_fix(tfc_build, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FPGABNN_FINN_PYTHON", str(tmp_path / "no_such_python"))
    out = tmp_path / "x.onnx"
    capsys.readouterr()
    assert main(["export-finn", str(tfc_build), "-o", str(out)]) == 2
    err = _one_line_error(capsys)
    assert "finn-plus" in err and "setup_finn_plus.sh" in err and "--no-deps" in err
    assert not out.exists() and not list(tmp_path.glob("*.json"))
    # without the check the export needs no finn-plus
    assert main(["export-finn", str(tfc_build), "-o", str(out), "--check", "0"]) == 0
    assert out.is_file() and (tmp_path / "x_folding.json").is_file()


def _finn_graph(tmp_path, op_type="MVAU_hls", domain="finn.custom_op.fpgadataflow.hls"):
    """A one-layer FINN dataflow graph: UINT8 -> Thresholding_hls -> <op_type>."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    nodes = [
        helper.make_node("Thresholding_hls", ["x", "t"], ["b"], domain="finn.custom_op.fpgadataflow.hls",
                         name="Thresholding_hls_0", backend="fpgadataflow", PE=1, NumChannels=8, numSteps=1,
                         inputDataType="UINT8", weightDataType="UINT8", outputDataType="BINARY", ActVal=0),
        helper.make_node(op_type, ["b", "w"], ["y"], domain=domain, name=f"{op_type}_0", backend="fpgadataflow",
                         PE=1, SIMD=1, MW=8, MH=4, inputDataType="BINARY", weightDataType="BINARY",
                         outputDataType="INT5", binaryXnorMode=1, noActivation=1, numInputVectors=[1]),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], value_info=[
        helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 8])])
    model = ModelWrapper(helper.make_model(graph))
    model.set_initializer("t", np.full((8, 1), 128, dtype=np.float32))
    model.set_initializer("w", (np.arange(32).reshape(8, 4) % 2).astype(np.float32))
    model.set_tensor_datatype("x", DataType["UINT8"])
    model.set_tensor_datatype("b", DataType["BINARY"])
    path = tmp_path / "finn.onnx"
    onnx.save(model.model, str(path))
    return path


def test_unsupported_finn_op_names_the_op(tmp_path, capsys):
    path = _finn_graph(tmp_path, op_type="VVAU_hls")
    out = tmp_path / "build"
    capsys.readouterr()
    assert main(["build", str(path), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert "VVAU_hls" in err and "VVAU_hls_0" in err
    assert not out.exists()


def test_finn_parent_model_points_to_its_partition(tmp_path, capsys):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("StreamingDataflowPartition", ["x"], ["y"], domain="finn.custom_op.fpgadataflow",
                            name="GenericPartition_0", model="partition_0.onnx")
    path = tmp_path / "parent.onnx"
    onnx.save(helper.make_model(helper.make_graph([node], "g", [x], [y])), str(path))
    capsys.readouterr()
    assert main(["build", str(path), "--out", str(tmp_path / "b")]) == 2
    assert "dataflow partition" in _one_line_error(capsys)


def test_small_finn_graph_builds_and_verifies(tmp_path, capsys):
    """The hand-made one-layer graph (popcount output) builds and its C simulation equals the FINN reference."""
    path = _finn_graph(tmp_path)
    out = tmp_path / "build"
    assert main(["build", str(path), "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--samples", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bit_exact"]
    with pytest.raises(SystemExit):
        main(["build", str(path), "--out", str(out), "--pixel-range", "bogus"])
    capsys.readouterr()
    assert main(["build", str(path), "--out", str(tmp_path / "b2"), "--pixel-range", "unit"]) == 2
    assert "pixel-range" in _one_line_error(capsys)
