"""RTL simulation benchmarks (Verilator, measured, not estimated):

* TFC-W1A1 (Brevitas bnn_pynq definition, random weights, adversarial BatchNorm) on pynq-z2: one 64-bit DMA port
  at 100 MHz, 8-bit pixels (784 bytes = 98 beats per frame) and with --host-threshold (784 bits = 13 beats);
  the measured steady-state cycles per frame and fps.
* CNV-W1A1 at a 10,000 fps folding: frames simulated per second (simulation speed) and the measured fps.

Writes benchmarks/results/rtl_throughput.json and .md. Run: python benchmarks/rtl_throughput.py [--frames N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def export(name: str, out: Path) -> Path:
    import torch
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    sys.path.insert(0, str(HERE.parent / "tests" / "flow"))
    quick = os.environ.get("FPGABNN_QUICK_SIM")
    from conftest import _randomise_batchnorm

    # the test conftest asks for unoptimised simulator builds (short test runs); a benchmark measures the real ones
    if quick is None:
        os.environ.pop("FPGABNN_QUICK_SIM", None)

    torch.manual_seed(0)
    model, _ = model_with_cfg(name, pretrained=False)
    _randomise_batchnorm(model, seed=len(name))
    model.eval()
    shape = (1, 3, 32, 32) if name.startswith("cnv") else (1, 1, 28, 28)
    path = out / f"{name}.onnx"
    export_qonnx(model, torch.rand(shape), export_path=str(path))
    return path


def fpgabnn(*args) -> dict | None:
    res = subprocess.run([sys.executable, "-m", "fpgabnn", *args], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"fpgabnn {' '.join(args)} failed ({res.returncode}): {res.stderr.strip()[-800:]}")
    return json.loads(res.stdout) if "--json" in args else None


def run_case(label, model: Path, out: Path, samples: int, build_args: list[str]) -> dict:
    start = time.perf_counter()
    report = fpgabnn("build", str(model), "--pixel-range", "unit", "--backend", "rtl", "--out", str(out), "--json",
                     *build_args)
    build_s = time.perf_counter() - start
    res = fpgabnn("verify", str(out), "--sim", "rtl", "--samples", str(samples), "--json")
    return {
        "case": label, "build_args": build_args, "samples": samples, "bit_exact": res["bit_exact"],
        "estimated_fps": round(report["fps"]), "estimated_cycles_per_frame": report["ii_cycles"],
        "measured_cycles_per_frame": res["cycles_per_frame"], "measured_fps": round(res["fps"]),
        "latency_cycles": res["latency_cycles"], "port_width": res["in_port_width"], "clock_mhz": res["clock_mhz"],
        "fifo_kbit": (report.get("fifo_sizing") or {}).get("total_kbit"),
        "build_seconds": round(build_s, 1), "sim_build_seconds": res["sim_build_seconds"],
        "sim_run_seconds": res["sim_run_seconds"],
        "frames_simulated_per_second": round(samples / res["sim_run_seconds"], 1) if res["sim_run_seconds"] else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200, help="CNV frames for the simulation-speed run")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tfc = export("tfc_1w1a", tmp)
        rows.append(run_case("TFC-W1A1, 8-bit pixels, 64-bit port", tfc, tmp / "tfc", 1000,
                             ["--target-fps", "1000000"]))
        rows.append(run_case("TFC-W1A1, --host-threshold, 64-bit port", tfc, tmp / "tfc_ht", 1000,
                             ["--target-fps", "8000000", "--host-threshold"]))
        cnv = export("cnv_1w1a", tmp)
        rows.append(run_case("CNV-W1A1 at a 10,000 fps folding", cnv, tmp / "cnv", args.frames,
                             ["--target-fps", "10000"]))
    meta = {"machine": platform.platform(), "python": platform.python_version(),
            "note": "measured in Verilator (fpgabnn verify --sim rtl), frames back to back, no stalls"}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rtl_throughput.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    lines = ["| case | bit-exact | estimated fps | measured cycles/frame | measured fps | latency (cycles) | "
             "FIFO kbit | simulator build s | frames simulated/s |", "|" + "---|" * 9]
    for r in rows:
        lines.append(f"| {r['case']} | {r['bit_exact']} | {r['estimated_fps']:,} | {r['measured_cycles_per_frame']:g} | "
                     f"{r['measured_fps']:,} | {r['latency_cycles']} | {r['fifo_kbit']} | {r['sim_build_seconds']} | "
                     f"{r['frames_simulated_per_second']} |")
    (RESULTS / "rtl_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
