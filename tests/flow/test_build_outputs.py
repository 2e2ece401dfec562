"""What a build directory holds for deployment: vivado/ (build.tcl for the board), driver/, validate.py; a
user's own board file drives all of it; bad boards are refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

from fpgabnn.cli import main
from fpgabnn.deploy.boards import boards_dir


def test_build_for_a_users_board_file(brevitas_qonnx, tmp_path, capsys):
    path, _ = brevitas_qonnx("tfc_1w1a")
    text = (Path(boards_dir()) / "aup-zu3.toml").read_text()
    board = tmp_path / "my-zu3.toml"
    board.write_text(text.replace('name = "aup-zu3"', 'name = "my-zu3"').replace("clock_mhz = 100.0", "clock_mhz = 150.0"))
    out = tmp_path / "build"
    assert main(["build", str(path), "--pixel-range", "unit", "--board", str(board), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "vivado -mode batch -source build.tcl" in printed  # no Vivado here: one line says what to run
    meta = json.loads((out / "build.json").read_text())
    assert meta["board"] == "my-zu3" and meta["board_file"] == str(board) and meta["clock_mhz"] == 150.0
    flow = json.loads((out / "vivado" / "flow.json").read_text())
    assert (flow["part"], flow["ps"], flow["port_width"], flow["clock_mhz"]) == ("xczu3eg-sfvc784-2-e", "ps8", 128, "150")
    tcl = (out / "vivado" / "build.tcl").read_text()
    assert "zynq_ultra_ps_e" in tcl and "set clock_mhz 150" in tcl and "set port_width 128" in tcl
    accel = json.loads((out / "driver" / "accel.json").read_text())
    assert accel["io"]["port_width"] == 128 and accel["bitfile"] == f"vivado/output/{flow['design']}.bit"
    assert (out / "validate.py").is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["vivado"]["ran"] is False and "build.tcl" in report["vivado"]["command"]

    # the real build's TCL in tclsh against the recording stand-ins: every rtl/ file goes into the IP
    import os
    import shutil
    import subprocess

    stub = Path(__file__).resolve().parents[1] / "deploy" / "vivado_stub.tcl"
    log = tmp_path / "tcl.log"
    env = {**os.environ, "FPGABNN_TCL_LOG": str(log), "FPGABNN_STUB_VERSION": "2024.1", "FPGABNN_STUB_BOARD_FILES": "1"}
    res = subprocess.run([shutil.which("tclsh") or "tclsh"], input=f"source {{{stub}}}\ncd {{{out / 'vivado'}}}\nsource build.tcl\n",
                         text=True, capture_output=True, env=env)
    assert res.returncode == 0, res.stderr
    calls = [line.split("\x1f") for line in log.read_text().splitlines()]
    added = " ".join(" ".join(c) for c in calls if c[0] == "add_files")
    manifest = json.loads((out / "rtl" / "manifest.json").read_text())
    assert flow["ip_source"] == "rtl" and manifest["files"] and manifest["memory_files"]
    assert all(f"../rtl/{f}" in added for f in manifest["files"] + manifest["memory_files"])
    assert any(c[0] == "ipx::package_project" for c in calls)
    assert (out / "vivado" / "output" / f"{flow['design']}.hwh").is_file()


def test_bad_boards_are_refused_before_anything_is_written(brevitas_qonnx, tmp_path, capsys):
    path, _ = brevitas_qonnx("tfc_1w1a")
    bad = tmp_path / "bad.toml"
    bad.write_text((Path(boards_dir()) / "pynq-z2.toml").read_text().replace("axi_port_width = 64", "axi_port_width = 48"))
    for board, needle in (("pynq-z9", "unknown board 'pynq-z9'"), (str(bad), "'axi_port_width'")):
        out = tmp_path / "never"
        assert main(["build", str(path), "--board", board, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and "\n" not in err
        assert not out.exists() and not list(tmp_path.glob(".never*"))



def test_a_host_op_the_driver_cannot_run_is_refused_at_build_time():
    """Host ops are serialised one by one; one outside the driver's numpy set (here Relu, which the lowering
    accepts) is refused with one line naming it, and the supported float tail is kept exactly (float32)."""
    import numpy as np
    import pytest
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    from fpgabnn.deploy.driver.host import run_ops
    from fpgabnn.deploy.driver_gen import host_ops
    from fpgabnn.errors import UserError

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "s"], ["m"], name="scale"),
                               helper.make_node("Relu", ["m"], ["y"], name="tail_relu")], "g", [x], [y])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("s", np.array([0.1, -0.3, 1e-3, 7.0], dtype=np.float32))
    params = {}
    ops = host_ops(model, list(model.graph.node)[:1], "post", params)
    v = np.array([[3, -5, 11, 2]], dtype=np.float32)
    assert np.array_equal(run_ops(ops, params, {"x": v})["m"], v * model.get_initializer("s"))
    with pytest.raises(UserError) as err:
        host_ops(model, list(model.graph.node), "post", {})
    assert "'tail_relu' (Relu)" in str(err.value) and "numpy driver" in str(err.value) and "\n" not in str(err.value)


def test_build_runs_vivado_when_given_and_collects_its_results(brevitas_qonnx, tmp_path, capsys):
    """`--vivado PATH`: the build runs vivado/build.tcl and reads back bitstream, .hwh, utilisation and WNS. The
    "Vivado" here is tclsh with the recording stand-ins (the numbers are the stand-ins' placeholders)."""
    import shutil
    import stat
    import zipfile

    stub = Path(__file__).resolve().parents[1] / "deploy" / "vivado_stub.tcl"
    fake = tmp_path / "vivado"
    fake.write_text("#!/bin/sh\n# stand-in for vivado -mode batch -source build.tcl: tclsh with recording procs\n"
                    f'[ "$4 $5" = "-source build.tcl" ] || exit 9\n'
                    "export FPGABNN_TCL_LOG=\"$PWD/tcl.log\" FPGABNN_STUB_VERSION=2023.2 FPGABNN_STUB_BOARD_FILES=1\n"
                    f"printf 'source {{{stub}}}\\nsource build.tcl\\n' | {shutil.which('tclsh') or 'tclsh'}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path / "build"
    assert main(["build", str(path), "--pixel-range", "unit", "--out", str(out), "--vivado", str(fake)]) == 0
    assert "WNS 0.412 ns" in capsys.readouterr().out
    v = json.loads((out / "report.json").read_text())["vivado"]
    assert v["ran"] and v["wns_ns"] == 0.412 and v["timing_met"] and v["utilization"]["LUT"] == 4321
    assert (out / v["bitfile"]).is_file() and (out / v["hwh"]).is_file() and (out / "vivado" / "vivado.log").is_file()
    assert main(["package", str(out), "-o", str(tmp_path / "p.zip")]) == 0
    names = zipfile.ZipFile(tmp_path / "p.zip").namelist()
    assert Path(v["bitfile"]).name in names and Path(v["hwh"]).name in names
    assert main(["build", str(path), "--out", str(tmp_path / "b2"), "--vivado", str(tmp_path / "nope")]) == 2
    assert "--vivado" in capsys.readouterr().err and not (tmp_path / "b2").exists()
