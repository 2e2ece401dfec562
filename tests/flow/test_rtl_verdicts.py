"""`fpgabnn verify --sim rtl` verdicts, one meaning per exit code: a build without rtl/ or with a damaged rtl/ is
bad input (2), a design that does not compile is an internal failure (3), a design that stops moving ends after
the watchdog with one line naming the stalled streams (1, never a hang), a trace is an FST file."""

from __future__ import annotations

import json
import shutil

import pytest

from fpgabnn.cli import main


@pytest.fixture(scope="module")
def tfc_rtl_build(brevitas_qonnx, tmp_path_factory):
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path_factory.mktemp("rtl_verdicts") / "build"
    assert main(["build", str(path), "--pixel-range", "unit", "--target-fps", "200000", "--backend", "rtl",
                 "--out", str(out), "--json"]) == 0
    return out


def _copy(build, tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(build, dst, ignore=shutil.ignore_patterns("sim"))
    return dst


def test_no_rtl_directory_is_bad_input(brevitas_qonnx, tmp_path, capsys):
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path / "hls_only"
    assert main(["build", str(path), "--pixel-range", "unit", "--backend", "hls", "--out", str(out), "--json"]) == 0
    assert not (out / "rtl").exists()
    capsys.readouterr()
    assert main(["verify", str(out), "--sim", "rtl", "--samples", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no rtl/" in err and "--backend rtl" in err and len(err.splitlines()) == 1


def test_damaged_rtl_is_bad_input(tfc_rtl_build, tmp_path, capsys):
    b = _copy(tfc_rtl_build, tmp_path)
    next((b / "rtl").glob("*_weights.memh")).unlink()
    assert main(["verify", str(b), "--sim", "rtl", "--samples", "2"]) == 2
    assert "missing" in capsys.readouterr().err
    (b / "rtl" / "manifest.json").write_text("{not json")
    assert main(["verify", str(b), "--sim", "rtl", "--samples", "2"]) == 2
    assert "damaged" in capsys.readouterr().err


def test_compile_error_is_an_internal_failure(tfc_rtl_build, tmp_path, capsys):
    b = _copy(tfc_rtl_build, tmp_path)
    top = b / "rtl" / "bnn_top.sv"
    top.write_text(top.read_text().replace("endmodule", "wire oops = ;\nendmodule"))
    assert main(["verify", str(b), "--sim", "rtl", "--samples", "2"]) == 3
    err = capsys.readouterr().err.strip()
    assert "internal failure" in err and len(err.splitlines()) == 1


def test_deadlock_ends_with_the_stalled_streams_named(tfc_rtl_build, tmp_path, capsys):
    b = _copy(tfc_rtl_build, tmp_path)
    top = b / "rtl" / "bnn_top.sv"
    text = top.read_text()
    assert ".s_axis_tvalid(flag_in_tvalid)" in text
    # the output port never receives a frame flag: it cannot end a frame, the pipeline fills and stops
    top.write_text(text.replace(".s_axis_tvalid(flag_in_tvalid)", ".s_axis_tvalid(1'b0)"))
    assert main(["verify", str(b), "--sim", "rtl", "--samples", "4"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: RTL simulation deadlock") and "StreamFIFO" in err and len(err.splitlines()) == 1


def test_trace_writes_an_fst(tfc_rtl_build, tmp_path, capsys):
    b = _copy(tfc_rtl_build, tmp_path)
    assert main(["verify", str(b), "--sim", "rtl", "--samples", "2", "--trace", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    fst = b / "rtl" / "sim" / "trace.fst"
    assert res["trace"] == str(fst) and fst.stat().st_size > 1000


def test_simulator_run_outside_rtl_fails_instead_of_computing_with_empty_memories(tfc_rtl_build, tmp_path, capsys):
    """Verilator only warns when a $readmemh file is missing; the design would then compute with zero weights."""
    import numpy as np

    from fpgabnn.deploy.driver import frames
    from fpgabnn.deploy.driver.transport import SimTransport

    b = _copy(tfc_rtl_build, tmp_path)
    assert main(["verify", str(b), "--sim", "rtl", "--samples", "2", "--json"]) == 0
    capsys.readouterr()
    binary = next(p for p in (b / "rtl" / "sim").rglob("sim_*") if p.is_file() and p.stat().st_mode & 0o111)
    io = json.loads((b / "rtl" / "manifest.json").read_text())
    x = np.zeros((2, frames.bytes_per_frame(io["in_elems"], io["in_bits"], io["port_width"])), dtype=np.uint8)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(RuntimeError, match="memory file"):
        SimTransport(binary, io, cwd=elsewhere).transfer(x)
    assert SimTransport(binary, io, cwd=b / "rtl").transfer(x).shape[0] == 2


def test_parallel_simulator_processes_give_the_single_process_result(tfc_rtl_build, tmp_path):
    """Frames split over two simulator processes: outputs, batch TLASTs and steady-state cycles per frame are
    those of one process streaming them all; verify reports the processes it used."""
    import numpy as np
    from qonnx.core.datatype import DataType

    from fpgabnn.sim.rtlsim import MIN_SHARD_FRAMES, run_rtlsim, shard_bounds

    assert shard_bounds(2 * MIN_SHARD_FRAMES - 1, 2) == [(0, 2 * MIN_SHARD_FRAMES - 1)]
    assert shard_bounds(101, 2) == [(0, 50), (50, 101)] and len(shard_bounds(1000, 3)) == 3
    b = _copy(tfc_rtl_build, tmp_path)
    m = json.loads((b / "rtl" / "manifest.json").read_text())
    dt = DataType[m["in_dtype"]]
    x = np.random.default_rng(3).integers(dt.min(), dt.max() + 1, size=(70, m["in_elems"]))
    one, s1 = run_rtlsim(b / "rtl", x, batch=9, jobs=1)
    two, s2 = run_rtlsim(b / "rtl", x, batch=9, jobs=2)
    assert (s1["sim_processes"], s2["sim_processes"]) == (1, 2)
    np.testing.assert_array_equal(one, two)
    assert s2["tlast_frames"] == s1["tlast_frames"] == [8, 17, 26, 35, 44, 53, 62, 69] and s2["tlast_misplaced"] == 0
    assert s2["cycles_per_frame"] == s1["cycles_per_frame"]
    assert [s["frames"] for s in s2["shards"]] == [35, 35] and s2["latency_cycles"] == s1["latency_cycles"]
    stalled, s3 = run_rtlsim(b / "rtl", x, stall_seed=5, jobs=2)
    np.testing.assert_array_equal(stalled, one)
    assert s3["sim_processes"] == 2


def test_verify_jobs(tfc_rtl_build, tmp_path, capsys):
    b = _copy(tfc_rtl_build, tmp_path)
    assert main(["verify", str(b), "--sim", "rtl", "--samples", "64", "--jobs", "2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["bit_exact"] and res["sim_processes"] == 2 and res["samples"] == 64
    assert main(["verify", str(b), "--sim", "rtl", "--samples", "64", "--jobs", "1", "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert single["sim_processes"] == 1 and single["cycles_per_frame"] == res["cycles_per_frame"]
    assert main(["verify", str(b), "--sim", "rtl", "--samples", "2", "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err
