"""The models finn-plus's own flow refuses, taken to FINN's backend through fpgabnn's hand-off (and back).

For each model: finn-plus's own steps (QONNX -> folded, specialised hardware layers; where they stop), then
``fpgabnn build`` + ``fpgabnn export-finn`` (finn-plus loads the handed-off graph, runs its own step_hw_codegen
and executes it in Python on N random images: integers compared with qonnx execution of the source), and the
other direction: finn-plus's last graph before its failure -> ``fpgabnn build`` -> C simulation
(``fpgabnn verify``). Needs benchmarks/setup_finn_plus.sh and benchmarks/finn_plus_models.py first.

Usage: python benchmarks/finn_handoff.py [--only NAME,...] [--samples-mlp 20] [--samples-cnv 3]
Output: benchmarks/results/finn_handoff.json and .md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT = ("tfc_w1a1_always_on", "tfc_w1a1_zero_gamma", "cnv_w1a1_always_on", "cnv_w1a1_zero_gamma", "tfc_w1a1",
           "cnv_w1a1")


def fpgabnn(*args: str) -> tuple[int, dict | None, float]:
    """Run the fpgabnn CLI of this checkout in a fresh process; (exit code, JSON output, wall seconds)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t = time.time()
    proc = subprocess.run([sys.executable, "-m", "fpgabnn", *args], capture_output=True, text=True, env=env)
    wall = round(time.time() - t, 2)
    try:
        out = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
    except json.JSONDecodeError:
        out = None
    if proc.returncode not in (0, 1):
        print(proc.stderr, file=sys.stderr)
    return proc.returncode, out, wall


def one(name: str, target_fps: float, samples: int, work: Path) -> dict:
    sys.path.insert(0, str(REPO))
    from fpgabnn.finn.env import run_runner

    model = HERE / "models" / f"{name}.onnx"
    row = {"model": name, "target_fps": target_fps, "samples": samples}
    t = time.time()
    finn_graph = work / f"{name}_finn_hw.onnx"
    rec = run_runner("streamline", str(model), str(finn_graph), "--target-fps", str(target_fps))
    row["finn_plus_alone"] = "ok" if rec["ok"] else f"fails: {rec['failed_step']} ({rec['error']})"
    row["finn_plus_s"] = round(time.time() - t, 2)

    build = work / f"{name}_build"
    code, _, row["fpgabnn_build_s"] = fpgabnn("build", str(model), "--pixel-range", "unit", "--target-fps",
                                              str(target_fps), "--out", str(build), "--json")
    code, out, row["export_finn_s"] = fpgabnn("export-finn", str(build), "-o", str(work / f"{name}_finn.onnx"),
                                              "--check", str(samples), "--json")
    check = (out or {}).get("check") or {}
    row["handoff_written"] = bool(out and out["written"])
    row["handoff_layers"] = out and out["layers"]
    row["handoff_mismatches"] = check.get("mismatches")
    row["handoff_codegen_nodes"] = (check.get("codegen") or {}).get("with_sources")

    back = work / f"{name}_from_finn"
    code_b, _, row["import_build_s"] = fpgabnn("build", str(finn_graph), "--out", str(back), "--json")
    code_v, ver, row["import_verify_s"] = fpgabnn("verify", str(back), "--samples", str(samples), "--json")
    row["import_csim_bit_exact"] = bool(code_b == 0 and ver and ver["bit_exact"])
    row["import_mismatches"] = ver and ver["mismatch_count"]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(DEFAULT))
    ap.add_argument("--samples-mlp", type=int, default=20)
    ap.add_argument("--samples-cnv", type=int, default=3)
    args = ap.parse_args(argv)
    models = json.loads((HERE / "models" / "models.json").read_text())
    rows = []
    with tempfile.TemporaryDirectory(prefix="finn_handoff_") as tmp:
        for name in args.only.split(","):
            n = args.samples_cnv if name.startswith("cnv") else args.samples_mlp
            rows.append(one(name, models[name]["target_fps"], n, Path(tmp)))
            print(json.dumps(rows[-1]), file=sys.stderr)
    from importlib.metadata import version

    record = {"fpgabnn": "this checkout", "finn_plus": "1.6.1", "onnx": version("onnx"),
              "loadavg_1min": os.getloadavg()[0], "rows": rows}
    (HERE / "results" / "finn_handoff.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = ["| model | finn-plus alone | fpgabnn -> export-finn -> finn-plus (codegen + Python execution) | "
             "finn-plus graph -> fpgabnn build -> C sim | inputs | fpgabnn build s | export-finn s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        hand = (f"exact ({r['handoff_layers']} layers, {r['handoff_codegen_nodes']} code-generated)"
                if r["handoff_written"] and r["handoff_mismatches"] == 0 else f"MISMATCH {r['handoff_mismatches']}")
        back = "exact" if r["import_csim_bit_exact"] else f"MISMATCH {r['import_mismatches']}"
        alone = r["finn_plus_alone"].split(" (")[0]
        lines.append(f"| {r['model']} | {alone} | {hand} | {back} | {r['samples']} | {r['fpgabnn_build_s']} | "
                     f"{r['export_finn_s']} |")
    lines.append("")
    lines.append("finn-plus 1.6.1 in benchmarks/.finnenv; 'exact' = identical integers on every input (random UINT8 "
                 "images). Wall times include process start-up and, for export-finn, finn-plus's import, "
                 f"step_hw_codegen and Python execution (1-minute load average {record['loadavg_1min']:.1f}).")
    (HERE / "results" / "finn_handoff.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
