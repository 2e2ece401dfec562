"""fpgabnn vs finn-plus, side by side in one run, on the same QONNX files, targets and board.

For each model: wall time from QONNX to a folded hardware graph with estimates (a fresh process each, imports
included; fpgabnn additionally writes the HLS sources), estimated fps / LUT / BRAM of both tools, whether each tool
succeeds, and fpgabnn's C-simulation frames per second. Repeats are interleaved so both tools see the same machine
load; the median is reported.

    bash benchmarks/setup_finn_plus.sh && python benchmarks/finn_plus_models.py
    python benchmarks/compiler_vs_finn_plus.py [--repeats 3] [--only tfc_w1a1,cnv_w1a1] [--csim-samples 200]

Writes benchmarks/results/compiler_vs_finn_plus.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
FINN_PY = HERE / ".finnenv" / "bin" / "python"
RESULTS = HERE / "results"


def run_fpgabnn(model: Path, target_fps: float, pixel_range: str, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fpgabnn", "build", str(model), "--board", "pynq-z2", "--target-fps", str(target_fps),
         "--pixel-range", pixel_range, "--out", str(out), "--json"],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"ok": False, "wall_time_s": wall, "error": proc.stderr.strip().splitlines()[-1:]}
    report = json.loads(proc.stdout)
    return {
        "ok": True,
        "wall_time_s": wall,
        "estimated_fps": report["fps"],
        "ii_cycles": report["ii_cycles"],
        "LUT": report["totals"]["LUT"],
        "BRAM36": report["totals"].get("BRAM36", report["totals"].get("BRAM18", 0) / 2),
        "step_seconds": report.get("step_seconds"),
    }


def run_finn_plus(model: Path, target_fps: float, pixel_range: str) -> dict:
    if not FINN_PY.exists():
        return {"ok": False, "error": "finn-plus environment missing: run benchmarks/setup_finn_plus.sh"}
    with tempfile.TemporaryDirectory() as build_dir:
        proc = subprocess.run(
            [str(FINN_PY), str(HERE / "finn_plus_flow.py"), str(model), "--target-fps", str(target_fps),
             "--board", "pynq-z2", "--pixel-range", pixel_range, "--build-dir", build_dir],
            capture_output=True, text=True,
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"ok": False, "error": proc.stderr.strip().splitlines()[-1:]}
    r = json.loads(lines[-1])
    out = {"ok": r.get("ok", False), "wall_time_s": r.get("wall_time_s")}
    if out["ok"]:
        out.update(estimated_fps=r["estimated_fps"], ii_cycles=r["max_cycles"], LUT=r["LUT"], BRAM36=r["BRAM36"])
    else:
        out.update(failed_step=r.get("failed_step"), error=(r.get("error") or "")[:200])
    return out


def csim_fps(build_dir: Path, samples: int) -> dict:
    """C-simulation throughput of the generated accelerator (compiled once; the timed run is the simulation)."""
    import numpy as np
    from qonnx.core.modelwrapper import ModelWrapper

    from fpgabnn.sim.csim import run_csim
    from fpgabnn.transforms.pipeline import split_dataflow

    model = ModelWrapper(str(build_dir / "model_hw.onnx"))
    split = split_dataflow(model)
    n_in = int(np.prod(model.get_tensor_shape(split.hw_input)))
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 256, size=(samples, n_in))
    run_csim(build_dir / "hls", inputs[:1])  # compile (cached afterwards)
    start = time.perf_counter()
    run_csim(build_dir / "hls", inputs)
    seconds = time.perf_counter() - start
    return {"samples": samples, "seconds": round(seconds, 3), "fps": round(samples / seconds, 1)}


def median_of(runs: list[dict], key: str):
    values = [r[key] for r in runs if r.get("ok") and r.get(key) is not None]
    return statistics.median(values) if values else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", help="comma-separated model names from benchmarks/models/models.json")
    ap.add_argument("--csim-samples", type=int, default=200)
    args = ap.parse_args()
    index = MODELS / "models.json"
    if not index.is_file():
        print("benchmarks/models/models.json missing: run `python benchmarks/finn_plus_models.py` first", file=sys.stderr)
        return 2
    models = json.loads(index.read_text())
    names = args.only.split(",") if args.only else list(models)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            spec = models[name]
            path = MODELS / spec["file"]
            ours, theirs = [], []
            for _ in range(args.repeats):
                ours.append(run_fpgabnn(path, spec["target_fps"], spec["pixel_range"], Path(tmp) / name))
                theirs.append(run_finn_plus(path, spec["target_fps"], spec["pixel_range"]))
            row = {"model": name, "target_fps": spec["target_fps"], "variant": spec.get("variant"),
                   "fpgabnn": {"ok": all(r["ok"] for r in ours), "runs": ours},
                   "finn_plus": {"ok": all(r["ok"] for r in theirs), "runs": theirs}}
            for tool, runs in (("fpgabnn", ours), ("finn_plus", theirs)):
                for key in ("wall_time_s", "estimated_fps", "LUT", "BRAM36", "ii_cycles"):
                    row[tool][key] = median_of(runs, key)
            if row["fpgabnn"]["ok"] and spec.get("variant") is None:
                row["fpgabnn"]["csim"] = csim_fps(Path(tmp) / name, args.csim_samples)
            if row["fpgabnn"]["wall_time_s"] and row["finn_plus"]["wall_time_s"]:
                row["speedup"] = round(row["finn_plus"]["wall_time_s"] / row["fpgabnn"]["wall_time_s"], 2)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("fpgabnn", "finn_plus")}), flush=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg()[0]},
        "board": "pynq-z2", "clock_mhz": 100, "repeats": args.repeats, "models": rows,
        "published_finn": {"cnv_w1a1": {"fps": 3039, "LUT": 26072, "BRAM36": 124, "source": "BNN-PYNQ, PYNQ-Z1/Z2 100 MHz"},
                           "tfc_w1a1": {"fps": 958413, "source": "BNN-PYNQ, Pynq-Z1"}},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compiler_vs_finn_plus.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| model | target fps | fpgabnn s | finn-plus s | speed-up | fpgabnn fps | finn-plus fps | fpgabnn LUT | finn-plus LUT | fpgabnn BRAM36 | finn-plus BRAM36 | fpgabnn C-sim fps |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def f(x, fmt="{:,.0f}"):
        return "fails" if x is None else fmt.format(x)

    for r in rows:
        a, b = r["fpgabnn"], r["finn_plus"]
        lines.append(f"| {r['model']} | {r['target_fps']:,} | {f(a['wall_time_s'], '{:.2f}')} | "
                     f"{f(b['wall_time_s'], '{:.2f}') if b['ok'] else 'fails: ' + str(b['runs'][0].get('failed_step'))} | "
                     f"{r.get('speedup', '-')} | {f(a['estimated_fps'])} | {f(b['estimated_fps'])} | {f(a['LUT'])} | {f(b['LUT'])} | "
                     f"{f(a['BRAM36'], '{:.1f}')} | {f(b['BRAM36'], '{:.1f}')} | {a.get('csim', {}).get('fps', '-')} |")
    lines.append("")
    lines.append("Published FINN (BNN-PYNQ): CNV-W1A1 3,039 fps, 26,072 LUT, 124 BRAM36 on PYNQ-Z1/Z2 at 100 MHz; "
                 "TFC-W1A1 958,413 fps on Pynq-Z1. Wall times include Python start-up and imports; fpgabnn's also "
                 "include writing the HLS and RTL sources (the default `--backend both`). Estimates cover the "
                 "accelerator only (no PYNQ shell). C simulation streams the DMA byte stream through the C++ "
                 f"kernels. {os.cpu_count()} CPUs, 1-minute load average {result['machine']['loadavg_at_end']:.1f} "
                 "at the end of the run (the tools ran interleaved, so both saw the same load).")
    (RESULTS / "compiler_vs_finn_plus.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
