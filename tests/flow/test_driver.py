"""The build's driver/ predicts exactly what qonnx execution of model_source.onnx returns, through the C
simulation, the RTL simulation, and the real pynq 4.0 package on a simulated Zynq whose AXI DMA model feeds
either simulator (tests/deploy/pynq_sim, run in the environment .ci/pynq-venv makes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from fpgabnn.cli import main
from fpgabnn.sim.reference import random_pixels

ROOT = Path(__file__).resolve().parents[2]
PYNQ_PY = ROOT / ".venv-pynq" / "bin" / "python"
PYNQ_SIM = ROOT / "tests" / "deploy" / "pynq_sim"


@pytest.fixture(scope="module")
def tfc_build(brevitas_qonnx, tmp_path_factory):
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path_factory.mktemp("driver") / "tfc"
    assert main(["build", str(path), "--pixel-range", "unit", "--target-fps", "100000", "--out", str(out)]) == 0
    return out


def qonnx_reference(build: Path, images: np.ndarray) -> np.ndarray:
    model = ModelWrapper(str(build / "model_source.onnx"))
    i, o = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {i: x[None]})[o] for x in images])


def load_driver(build: Path):
    """Import the build's own driver package (as a user would: build dir on sys.path)."""
    for name in [m for m in sys.modules if m == "driver" or m.startswith("driver.")]:
        del sys.modules[name]
    sys.path.insert(0, str(build))
    try:
        import driver
    finally:
        sys.path.remove(str(build))
    return driver


@pytest.mark.parametrize("backend", ["csim", "rtlsim"])
def test_driver_simulators_predict_what_qonnx_predicts(tfc_build, backend):
    driver = load_driver(tfc_build)
    images = random_pixels((1, 1, 28, 28), 100, seed=3)
    ref = qonnx_reference(tfc_build, images)
    assert len({tuple(r) for r in ref}) > 50  # outputs differ between images: the comparison can fail
    for batch in (100, 32):  # one transfer; four transfers with a short last batch
        accel = driver.Accelerator(backend=backend, batch_size=batch)
        y = accel.predict(images)
        assert y.dtype == ref.dtype and np.array_equal(y, ref)
        assert np.array_equal(y.argmax(1), ref.argmax(1))
    assert np.array_equal(accel.predict(images.astype(np.uint8)), ref)  # uint8 pixels work too
    assert "pynq" not in sys.modules
    tp = accel.throughput_test()
    assert tp["fps"] > 0 and tp["batch_size"] == 32 and tp["throughput[images/s]"] == tp["fps"]
    assert tp["dma_in_MBps"] > tp["dma_out_MBps"] > 0
    # FINN's execute: accelerator input -> accelerator output (integers before the host's float tail)
    hw = accel.execute(images[:4].reshape(4, 784))
    assert hw.shape == (4, 10) and hw.dtype == np.int64
    if backend == "rtlsim":  # the simulated cycles give the hardware's frame rate: the estimate's, here
        report = json.loads((tfc_build / "report.json").read_text())
        assert tp["hardware_fps_from_cycles"] == pytest.approx(report["fps"], rel=0.02)


def test_driver_config_holds_the_split_of_the_hardware_graph(tfc_build):
    cfg = json.loads((tfc_build / "driver" / "accel.json").read_text())
    assert [op["op"] for op in cfg["pre"]] == ["Reshape"]
    assert [op["op"] for op in cfg["post"]] == ["Sub", "Div", "Mul", "Add"]
    assert cfg["io"]["port_width"] == 64 and cfg["io"]["in_bits"] == 8 and cfg["io"]["in_elems"] == 784
    params = np.load(tfc_build / "driver" / "host_params.npz")
    assert all(name in params for op in cfg["post"] for name in op["inputs"][1:])


@pytest.mark.parametrize("bad, message", [
    (lambda x: x[:, :, :5], "has shape (2, 1, 5, 28); expected (N, 1, 28, 28)"),
    (lambda x: x[0], "has shape (1, 28, 28)"),
    (lambda x: x.astype(np.complex64), "dtype complex64"),
    (lambda x: x.astype(str), "dtype <U"),
    (lambda x: x + 0.5, "whole numbers"),
    (lambda x: x + 300, "do not fit the accelerator input"),
    (lambda x: x * np.nan, "NaN"),
])
def test_driver_refuses_bad_input_with_one_line(tfc_build, bad, message):
    driver = load_driver(tfc_build)
    accel = driver.Accelerator(backend="csim")
    with pytest.raises(driver.DriverError) as err:
        accel.predict(bad(random_pixels((1, 1, 28, 28), 2)))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_driver_refuses_bad_arguments(tfc_build):
    driver = load_driver(tfc_build)
    for kwargs, message in (({"backend": "fpga"}, "unknown backend"), ({"batch_size": 0}, "batch_size 0"),
                            ({"backend": "pynq"}, "no bitfile")):
        with pytest.raises(driver.DriverError, match=message):
            driver.Accelerator(**kwargs)


@pytest.mark.parametrize("sim", ["csim", "rtlsim"])
def test_driver_pynq_backend_on_a_simulated_zynq(tfc_build, tmp_path, sim):
    assert PYNQ_PY.is_file(), "the pynq environment is missing: run .ci/pynq-venv (called by .ci/install)"
    flow = json.loads((tfc_build / "vivado" / "flow.json").read_text())
    bit = tfc_build / "vivado" / "output" / f"{flow['design']}.bit"
    bit.parent.mkdir(exist_ok=True)
    bit.write_text("placeholder: the simulated device never parses the bitstream\n")
    images = random_pixels((1, 1, 28, 28), 100, seed=4)
    np.save(tmp_path / "x.npy", images)
    out = tmp_path / "out.npz"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(FPGABNN_SIM_BUILD=str(tfc_build), FPGABNN_SIM_BACKEND=sim)
    load_driver(tfc_build).Accelerator(backend=sim)  # compiles the simulator (the pynq environment has no fpgabnn)
    res = subprocess.run([str(PYNQ_PY), str(PYNQ_SIM / "run_driver.py"), str(tfc_build), str(tmp_path / "x.npy"),
                          str(out), "32"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    got = np.load(out)
    assert np.array_equal(got["y"], qonnx_reference(tfc_build, images))
    assert str(got["dma_type"]) == "pynq.lib.dma.DMA"  # pynq's own AXI DMA driver moved the data
    assert got["transfers"].tolist() == [5, 5]  # 4 batches of <= 32 + one throughput_test batch, each way
    assert len(got["errors"]) == 3 and all("\n" not in e for e in got["errors"])
    assert json.loads(str(got["throughput"]))["backend"] == "pynq"


def test_verify_writes_junit_beside_json(tfc_build, tmp_path, capsys):
    import xml.etree.ElementTree as ET

    junit = tmp_path / "reports" / "verify.xml"
    assert main(["verify", str(tfc_build), "--samples", "5", "--json", "--junit", str(junit)]) == 0
    result = json.loads(capsys.readouterr().out)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert result["bit_exact"] and suite.get("failures") == "0" and int(suite.get("tests")) >= 2
    assert main(["verify", str(tfc_build), "--samples", "5", "--junit", str(junit / "x")]) == 2  # parent is a file
    rtl_junit = tmp_path / "rtl.xml"
    assert main(["verify", str(tfc_build), "--samples", "5", "--sim", "rtl", "--junit", str(rtl_junit)]) == 0
    suite = ET.parse(rtl_junit).getroot().find("testsuite")
    assert [c.get("name").split()[0] for c in suite.iter("testcase")] == ["lowered_graph", "rtlsim"]
    assert suite.get("failures") == "0"


def test_validate_script_prints_accuracy_and_fps(tfc_build, tmp_path):
    images = random_pixels((1, 1, 28, 28), 40, seed=5)
    labels = qonnx_reference(tfc_build, images).argmax(1)
    labels[:10] = (labels[:10] + 1) % 10  # a quarter wrong on purpose
    np.savez(tmp_path / "test.npz", x=images.astype(np.uint8), y=labels)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, str(tfc_build / "validate.py"), "--dataset", str(tmp_path / "test.npz"),
                          "--backend", "csim", "--batch-size", "16"], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "accuracy 75.00% on 40 images (csim)" in res.stdout and "fps" in res.stdout
    res = subprocess.run([sys.executable, str(tfc_build / "validate.py"), "--dataset", str(tmp_path / "none.npz"),
                          "--backend", "csim"], capture_output=True, text=True, env=env)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "does not exist" in res.stderr


def test_package_zip_and_its_refusals(tfc_build, tmp_path, capsys):
    import zipfile

    target = tmp_path / "tfc.zip"
    assert main(["package", str(tfc_build), "-o", str(target), "--json", "--test-set", "mnist", "--samples", "30"]) == 0
    result = json.loads(capsys.readouterr().out)
    names = set(zipfile.ZipFile(target).namelist())
    assert {"driver/__init__.py", "driver/accelerator.py", "driver/frames.py", "driver/host.py",
            "driver/transport.py", "driver/accel.json", "driver/host_params.npz", "validate.py",
            "README.md", "3_inference_on_the_board.ipynb", "test_set.npz"} <= names
    flow = json.loads((tfc_build / "vivado" / "flow.json").read_text())
    has_bit = (tfc_build / "vivado" / "output" / f"{flow['design']}.hwh").is_file()
    assert ({f"{flow['design']}.bit", f"{flow['design']}.hwh"} <= names) == has_bit == result["bitstream"]
    before = target.read_bytes()
    assert main(["package", str(tfc_build), "-o", str(target)]) == 2  # never overwritten
    assert "already exists" in capsys.readouterr().err and target.read_bytes() == before

    # a build of another fpgabnn version is refused by package and verify, naming both versions
    import shutil

    old = tmp_path / "old"
    shutil.copytree(tfc_build, old)
    meta = json.loads((old / "build.json").read_text())
    meta["fpgabnn_version"] = "0.0.1"
    (old / "build.json").write_text(json.dumps(meta))
    from fpgabnn import __version__

    for argv in (["package", str(old), "-o", str(tmp_path / "old.zip")], ["verify", str(old)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "0.0.1" in err and __version__ in err and "\n" not in err
    assert not (tmp_path / "old.zip").exists()
    assert main(["package", str(tfc_build), "-o", str(tmp_path / "c.zip"), "--test-set", "cifar10"]) == 2
    assert "cifar10" in capsys.readouterr().err and not (tmp_path / "c.zip").exists()

    # the unzipped driver runs as a package of its own (the bitfile it needs is the only thing missing)
    unz = tmp_path / "unz"
    zipfile.ZipFile(target).extractall(unz)
    test = np.load(unz / "test_set.npz")
    assert test["x"].shape == (30, 1, 28, 28) and test["x"].dtype == np.uint8 and test["y"].shape == (30,)
    driver = load_driver(unz)
    assert json.loads((unz / "driver" / "accel.json").read_text())["design"] == flow["design"]
    if not has_bit:
        with pytest.raises(driver.DriverError, match="no bitfile"):
            driver.Accelerator(backend="pynq")


@pytest.mark.slow
def test_driver_csim_on_cnv(brevitas_qonnx, tmp_path):
    """CNV (NCHW input: the host transposes to NHWC; C simulation ~2 frames/s) on a few images."""
    path, _ = brevitas_qonnx("cnv_1w1a")
    out = tmp_path / "cnv"
    assert main(["build", str(path), "--pixel-range", "unit", "--target-fps", "3000", "--out", str(out)]) == 0
    for name in ("hls/top.cpp", "rtl/manifest.json", "vivado/build.tcl", "driver/accel.json", "validate.py",
                 "report.json", "model_hw.onnx"):  # the complete build directory
        assert (out / name).is_file(), name
    cfg = json.loads((out / "driver" / "accel.json").read_text())
    assert [op["op"] for op in cfg["pre"]] == ["Transpose"] and cfg["io"]["in_shape"] == [1, 32, 32, 3]
    images = random_pixels((1, 3, 32, 32), 3, seed=6)
    driver = load_driver(out)
    y = driver.Accelerator(backend="csim", batch_size=3).predict(images)
    assert np.array_equal(y, qonnx_reference(out, images))


def test_driver_with_host_threshold_predicts_what_qonnx_predicts(brevitas_qonnx, tmp_path):
    """--host-threshold: the input quantiser runs in the driver from host_threshold.npz (the table verify uses);
    the stream carries its output bits."""
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path / "tfc_ht"
    assert main(["build", str(path), "--pixel-range", "unit", "--host-threshold", "--backend", "hls",
                 "--out", str(out)]) == 0
    cfg = json.loads((out / "driver" / "accel.json").read_text())
    assert [op["op"] for op in cfg["pre"]][-1] == "HostThreshold" and cfg["io"]["in_bits"] == 1
    assert (out / "driver" / "host_threshold.npz").is_file()
    driver = load_driver(out)
    accel = driver.Accelerator(backend="csim", batch_size=50)
    images = random_pixels((1, 1, 28, 28), 100, seed=7)
    assert np.array_equal(accel.predict(images), qonnx_reference(out, images))
    for bad, message in ((images[:2] + 0.5, "whole numbers"), (images[:2] + 300, "do not fit")):
        with pytest.raises(driver.DriverError, match=message):
            accel.predict(bad)
