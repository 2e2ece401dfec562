"""RTL simulation speed (issue 6 goal: 10,000 CNV frames in under 5 minutes on 2 cores, >= 34 frames/s).

CNV-W1A1 (Brevitas bnn_pynq definition, random weights, adversarial BatchNorm) built as benchmarks/rtl_throughput.py
builds it (--target-fps 10000, RTL backend, pynq-z2); the same N random frames streamed through the Verilator
simulator:

* before: the model compiled with the previous C++ flags (OPT_FAST=-O2), one simulator process, and as
  benchmarks/rtl_throughput.py measured it until now: importing the test conftest (for the BatchNorm
  randomiser) set FPGABNN_QUICK_SIM=1, so its verify built an unoptimised (-O0) model;
* after:  the current flags (fpgabnn/sim/tools.py MAKE_FLAGS, OPT_FAST=-O3), one process and ``--jobs`` processes
  (consecutive shards of the frames, each streaming back to back).

Every run's output must be identical to the first run's, and one ``fpgabnn verify --sim rtl`` with the default
jobs checks bit-exactness against qonnx execution of the source. Wall-clock seconds and the simulators' CPU
seconds are both recorded: on a shared machine the wall clock depends on the other load (``load_average``).

Writes benchmarks/results/rtl_sim_speed.json and .md. Run: python benchmarks/rtl_sim_speed.py [--frames N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from rtl_throughput import export, fpgabnn  # noqa: E402  (one CNV export and build recipe)

OLD_MAKE_FLAGS = ["OPT_FAST=-O2", "OPT_SLOW=-O1", "OPT_GLOBAL=-O1", "CFG_CXXFLAGS_PCH_I=-include"]


def timed_run(rtl_dir: Path, x: np.ndarray, jobs: int) -> tuple[np.ndarray, dict, float, float]:
    from fpgabnn.sim.rtlsim import run_rtlsim

    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    y, st = run_rtlsim(rtl_dir, x, jobs=jobs)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return y, st, st["sim_seconds"], cpu


def main() -> int:
    from qonnx.core.datatype import DataType

    from fpgabnn.sim import rtlsim, tools

    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=400, help="CNV frames per timed run")
    ap.add_argument("--jobs", type=int, default=2, help="simulator processes of the parallel run")
    ap.add_argument("--verify-samples", type=int, default=64, help="frames of the fpgabnn verify check")
    ap.add_argument("--after-only", action="store_true",
                    help="time only the current flags (1 and --jobs processes), e.g. for a 10,000-frame run")
    ap.add_argument("--name", default="rtl_sim_speed", help="results file name (default rtl_sim_speed)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cnv = export("cnv_1w1a", tmp)
        out = tmp / "cnv"
        fpgabnn("build", str(cnv), "--pixel-range", "unit", "--backend", "rtl", "--out", str(out), "--json",
                "--target-fps", "10000")
        rtl_dir = out / "rtl"
        m = json.loads((rtl_dir / "manifest.json").read_text())
        dt = DataType[m["in_dtype"]]  # random accelerator inputs over the input type's range
        x = np.random.default_rng(0).integers(dt.min(), dt.max() + 1, size=(args.frames, m["in_elems"]))
        new_flags = list(tools.MAKE_FLAGS)
        reference = None
        assert os.environ.get("FPGABNN_QUICK_SIM") is None, "unset FPGABNN_QUICK_SIM: it builds unoptimised models"
        runs = [("before, as rtl_throughput.py measured it: OPT_FAST=-O0, 1 process",
                 OLD_MAKE_FLAGS + ["OPT_FAST=-O0", "OPT_SLOW=-O0"], 1),
                ("before: OPT_FAST=-O2, 1 process", OLD_MAKE_FLAGS, 1),
                ("after: OPT_FAST=-O3, 1 process", new_flags, 1),
                (f"after: OPT_FAST=-O3, {args.jobs} processes", new_flags, args.jobs)]
        for label, flags, jobs in runs[2:] if args.after_only else runs:
            tools.MAKE_FLAGS = flags
            try:
                for f in (rtl_dir / "sim").glob("sim_*"):  # one simulator binary per flag set
                    f.unlink()
                start = time.perf_counter()
                rtlsim.compile_rtlsim(rtl_dir)
                build_s = time.perf_counter() - start
                y, st, wall, cpu = timed_run(rtl_dir, x, jobs)
            finally:
                tools.MAKE_FLAGS = new_flags
            if reference is None:
                reference = y
            rows.append({
                "run": label, "make_flags": " ".join(f for f in flags if f.startswith("OPT_FAST")), "jobs": jobs, "sim_processes": st["sim_processes"],
                "frames": args.frames, "identical_to_first_run": bool(np.array_equal(y, reference)),
                "cycles_per_frame": st["cycles_per_frame"], "latency_cycles": st["latency_cycles"],
                "sim_build_seconds": round(build_s, 1), "wall_seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2), "frames_per_second": round(args.frames / wall, 1),
                "frames_per_cpu_second": round(args.frames / cpu, 1),
                "load_average": [round(v, 2) for v in os.getloadavg()],
                "shards": st.get("shards"),
            })
            print(json.dumps(rows[-1]), flush=True)
        ver = fpgabnn("verify", str(out), "--sim", "rtl", "--samples", str(args.verify_samples), "--json")
        check = {k: ver[k] for k in ("bit_exact", "samples", "mismatch_count", "cycles_per_frame", "sim_processes",
                                     "sim_run_seconds", "reference_seconds")}
    cpus = os.cpu_count()
    meta = {"machine": platform.platform(), "python": platform.python_version(), "cpus": cpus,
            "note": "CNV-W1A1 at a 10,000 fps folding (rtl_throughput.py's build), frames back to back, no stalls; "
                    "the machine is shared (load_average), so frames_per_cpu_second is the figure that does not "
                    "depend on the other load; the goal is >= 34 frames/s on 2 free cores",
            "verify_check": check}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    lines = ["| run | processes | frames | identical | cycles/frame | simulator build s | wall s | CPU s | "
             "frames/s (wall) | frames per CPU-second | load average |", "|" + "---|" * 11]
    for r in rows:
        lines.append(f"| {r['run']} | {r['sim_processes']} | {r['frames']} | {r['identical_to_first_run']} | "
                     f"{r['cycles_per_frame']:g} | {r['sim_build_seconds']} | {r['wall_seconds']} | {r['cpu_seconds']} | "
                     f"{r['frames_per_second']} | {r['frames_per_cpu_second']} | {r['load_average'][0]} |")
    best = max(r["frames_per_cpu_second"] for r in rows if r["sim_processes"] == 1)
    ref_per_frame = check["reference_seconds"] / check["samples"]
    lines += ["", f"Reading: one simulator process runs {best} frames per CPU-second, so 2 free cores would simulate "
              f"~{2 * best:.0f} frames/s (10,000 frames in ~{10000 / (2 * best) / 60:.1f} min; the goal is >= 34/s): a projection from CPU time, not measured on free cores. "
              f"The wall-clock columns were measured at the load averages shown ({cpus} cores). "
              f"verify's qonnx reference costs {ref_per_frame:.2f} s per CNV frame (single process, "
              f"~{10000 * ref_per_frame / 60:.0f} min for 10,000 frames): it, not the RTL simulation, bounds a "
              "CIFAR-10-sized verify; the driver's rtlsim backend (Accelerator(..., backend='rtlsim')) runs the "
              "simulator alone."]
    multi = [r for r in rows if r["sim_processes"] > 1]
    if multi:
        r = multi[-1]
        lines += ["", f"Measured: {r['frames']:,} frames in {r['wall_seconds']} s wall with {r['sim_processes']} "
                  f"simulator processes ({r['frames_per_second']} frames/s at load average {r['load_average'][0]})."]
    lines += ["", f"fpgabnn verify --sim rtl --samples {check['samples']} (default jobs): bit_exact={check['bit_exact']}, "
              f"{check['sim_processes']} simulator processes, cycles/frame {check['cycles_per_frame']:g}, "
              f"simulation {check['sim_run_seconds']} s, qonnx reference {check['reference_seconds']} s.",
              "", meta["note"] + "."]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
