"""verify's verdicts mean one thing each (0 bit-exact, 1 mismatch, 2 bad input, 3 internal failure), a layer
without provenance fails verification, another version's build is refused, and --host-threshold builds stream the
host table's output bits (TFC: 13 beats of 64 bits) and verify bit-exactly with the driver's own function."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from fpgabnn.cli import main


@pytest.fixture(scope="module")
def tfc_build(brevitas_qonnx, tmp_path_factory):
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path_factory.mktemp("verdicts") / "build"
    assert main(["build", str(path), "--pixel-range", "unit", "--target-fps", "20000", "--out", str(out),
                 "--json"]) == 0
    return out


def copy_build(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_build_records_version_and_infrastructure(tfc_build):
    import fpgabnn

    meta = json.loads((tfc_build / "build.json").read_text())
    assert meta["fpgabnn_version"] == fpgabnn.__version__ and meta["port_width"] == 64
    model = onnx.load(str(tfc_build / "model_hw.onnx"))
    ops = [n.op_type for n in model.graph.node if n.domain == "fpgabnn.hw"]
    assert ops[0] == "AxisInput" and ops[-1] == "AxisOutput" and "StreamFIFO" in ops
    iface = json.loads((tfc_build / "hls" / "interface.json").read_text())
    assert iface["port_width"] == 64 and iface["in_beats"] == 98  # 784 raw pixels of 8 bits
    report = json.loads((tfc_build / "report.json").read_text())
    assert report["fps"] <= 100e6 / 98 and report["port_width"] == 64


def test_another_versions_build_is_refused(tfc_build, tmp_path, capsys):
    build = copy_build(tfc_build, tmp_path / "old")
    meta = json.loads((build / "build.json").read_text())
    meta["fpgabnn_version"] = "0.0.1"
    (build / "build.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["verify", str(build), "--samples", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "0.0.1" in err[0] and "rebuild" in err[0]


def test_simulator_crash_is_exit_3_not_a_mismatch(tfc_build, tmp_path, capsys):
    build = copy_build(tfc_build, tmp_path / "broken")
    top = build / "hls" / "top.cpp"
    top.write_text(top.read_text().replace("#pragma HLS DATAFLOW", "this does not compile;"))
    capsys.readouterr()
    assert main(["verify", str(build), "--samples", "2", "--json"]) == 3
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "internal failure" in err[0] and "compile failed" in err[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_layer_without_provenance_fails_verification(tfc_build, tmp_path, capsys):
    build = copy_build(tfc_build, tmp_path / "noprov")
    model = onnx.load(str(build / "model_hw.onnx"))
    last = [n for n in model.graph.node if n.op_type == "MVAU"][-1]
    for attr in last.attribute:
        if attr.name == "source_tensor":
            attr.s = b""
    onnx.save(model, str(build / "model_hw.onnx"))
    capsys.readouterr()
    assert main(["verify", str(build), "--samples", "3", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert not result["bit_exact"] and last.name in result["unverifiable"]
    assert any(m["layer"] == last.name and "provenance" in m["reason"] for m in result["mismatches"])


def test_batches_raise_tlast_per_batch(tfc_build, capsys):
    capsys.readouterr()
    assert main(["verify", str(tfc_build), "--samples", "7", "--batch", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bit_exact"] and result["sim_stats"]["tlast_frames"] == [2, 5, 6]


def test_host_threshold_build(brevitas_qonnx, tmp_path, capsys):
    """The input quantiser on the host: the accelerator takes 784 bits (13 beats) instead of 784 bytes (98)."""
    from fpgabnn.deploy.driver.host_threshold import TABLE_FILE, apply_table, load_table

    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path / "build"
    assert main(["build", str(path), "--pixel-range", "unit", "--target-fps", "2000000", "--host-threshold",
                 "--out", str(out), "--json"]) == 0
    iface = json.loads((out / "hls" / "interface.json").read_text())
    assert iface["in_kind"] == "bipolar" and iface["in_beats"] == 13 and iface["in_elems"] == 784
    report = json.loads((out / "report.json").read_text())
    assert report["ii_cycles"] >= 13 and not any(r["op"] == "Thresholding" for r in report["layers"])
    assert report["fps"] > 1.1e6  # beyond the 1.02M ceiling of 8-bit pixels on a 64-bit port
    table = load_table(out / TABLE_FILE)
    assert table["out_kind"] == "bipolar" and table["channels"] == 784
    pixels = np.random.default_rng(0).integers(0, 256, size=(4, 784))
    bits = apply_table(pixels, table)
    assert set(np.unique(bits)) <= {-1, 1}
    capsys.readouterr()
    assert main(["verify", str(out), "--samples", "40", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bit_exact"] and result["host_threshold"] and result["in_beats"] == 13
    (out / TABLE_FILE).write_bytes(b"damaged")
    assert main(["verify", str(out), "--samples", "2"]) == 2
    assert TABLE_FILE in capsys.readouterr().err


def test_host_threshold_table_is_the_thresholding(rng):
    """apply_table equals the Thresholding layer's reference on every raw input value (shared and per-channel
    rows, bipolar and integer outputs)."""
    from fpgabnn.deploy.driver.host_threshold import apply_table
    from fpgabnn.hw.thresholding import thresholding_reference

    x = np.tile(np.arange(256), (3, 1)).T.reshape(1, 256, 3)  # every value in each of 3 channels
    t = np.sort(rng.integers(0, 256, size=(3, 5)), axis=1) - 0.5
    table = {"thresholds": np.ceil(t).astype(np.int64), "channels": 3, "out_base": -2, "out_kind": "signed"}
    np.testing.assert_array_equal(apply_table(x, table).reshape(x.shape), thresholding_reference(x, t, -2, False))
    t1 = np.array([[100.5]])
    table = {"thresholds": np.ceil(t1).astype(np.int64), "channels": 3, "out_base": 0, "out_kind": "bipolar"}
    np.testing.assert_array_equal(apply_table(x, table).reshape(x.shape), thresholding_reference(x, t1, 0, True))
