"""CNV-W1A1 on the PYNQ-Z2 at 100 MHz: the highest rtlsim-measured frame rate whose Yosys report fits the
xc7z020 with room for the PYNQ shell, and FINN's published folding measured the same way.

For each target frame rate (highest first) the script builds Brevitas' cnv_1w1a (benchmarks/finn_plus_models.py
makes the QONNX file), synthesises every layer with Yosys (`fpgabnn estimate`, cached per layer), and, when the
Yosys totals fit the shell budget (<= 48,000 LUT, <= 140 BRAM36, <= 220 DSP: the xc7z020's 53,200 LUT less
~5k for the DMA and interconnect), measures cycles per frame in Verilator (`fpgabnn verify --sim rtl`). It
stops at the first target that fits. With ``--finn-folding`` it also builds FINN's published folding
(finn-examples build/bnn-pynq/folding_config/cnv-w1a1.json) and measures it. Yosys counts run 10-30% above
Vivado's, so "fits" here is conservative.

    python benchmarks/finn_plus_models.py --only cnv_w1a1
    python benchmarks/yosys_cnv.py --targets 16000,14000,12000,10000 --finn-folding tests/data/finn_folding/cnv-w1a1.json

Output: results/yosys_cnv.json and .md (builds go to benchmarks/builds/, git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BUILDS = ROOT / "benchmarks" / "builds"
MODEL = ROOT / "benchmarks" / "models" / "cnv_w1a1.onnx"
SHELL_BUDGET = {"LUT": 48_000, "BRAM36": 140, "DSP": 220}
PUBLISHED = {  # on-board figures the results are compared with
    "finn_fps": 3020,  # FINN's CNV-W1A1 on PYNQ-Z2 with its published folding (finn-examples)
    "bnn_pynq_fps": 9150, "bnn_pynq_lut": 26072, "bnn_pynq_bram": 124,  # Xilinx/BNN-PYNQ CNV-QNN notebook
}


def _fpgabnn(*args, timeout=None) -> tuple[int, str, str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "fpgabnn", *map(str, args)], capture_output=True, text=True,
                       env=env, timeout=timeout, cwd=ROOT)
    return p.returncode, p.stdout, p.stderr, time.perf_counter() - start


def _json(stdout: str):
    start = stdout.find("{")
    return json.loads(stdout[start:]) if start >= 0 else None


def evaluate(label: str, build_args: list, samples: int, jobs: int, always_sim: bool, reuse: bool = False) -> dict:
    out = BUILDS / label
    row = {"label": label, "build_args": build_args}
    if reuse and (out / "build.json").is_file():  # the build of an earlier run (its estimate is cached)
        rc, so, se, t = 0, "", "", 0.0
    else:
        rc, so, se, t = _fpgabnn("build", MODEL, "--pixel-range", "unit", "--board", "pynq-z2", "--out", out,
                                 "--json", *build_args)
    row["build_seconds"] = round(t, 1)
    if rc != 0:
        row["error"] = f"build failed (exit {rc}): {se.strip().splitlines()[-1] if se.strip() else ''}"
        return row
    report = json.loads((out / "report.json").read_text())
    row["analytic"] = {"fps": round(report["fps"], 1), "ii_cycles": report["ii_cycles"],
                       "bottleneck": report["bottleneck"], "LUT": report["totals"]["LUT"],
                       "FF": report["totals"]["FF"], "BRAM36": report["totals"]["BRAM18"] / 2,
                       "DSP": report["totals"]["DSP"]}
    rc, so, se, t = _fpgabnn("estimate", out, "--json", "--jobs", jobs)
    row["estimate_seconds"] = round(t, 1)
    if rc != 0:
        row["error"] = f"estimate failed (exit {rc}): {se.strip().splitlines()[-1] if se.strip() else ''}"
        return row
    est = _json(so)
    tot = est["totals"]
    row["yosys"] = {k: tot[k] for k in ("LUT", "LUTRAM", "FF", "BRAM18", "BRAM36", "DSP")}
    row["fits_shell"] = all(tot[k] <= v for k, v in SHELL_BUDGET.items())
    row["over_shell"] = {k: tot[k] - v for k, v in SHELL_BUDGET.items() if tot[k] > v}
    row["layers"] = [{"name": r["name"], "op": r["op"], "yosys": r["yosys"], "analytic": r["analytic"],
                      "diff_pct": r["diff_pct"]} for r in est["layers"]]
    row["top_logic"] = est["top_logic"]["yosys"]
    saved = out / "rtlsim.json"
    if reuse and saved.is_file():
        row["rtlsim"] = json.loads(saved.read_text())
    elif row["fits_shell"] or always_sim:
        rc, so, se, t = _fpgabnn("verify", out, "--sim", "rtl", "--samples", samples, "--json")
        row["rtlsim_seconds"] = round(t, 1)
        sim = _json(so) if so.strip() else None
        if sim is None or rc not in (0, 1):
            row["rtlsim_error"] = f"verify --sim rtl exit {rc}: {se.strip().splitlines()[-1] if se.strip() else ''}"
        else:
            row["rtlsim"] = {k: sim.get(k) for k in ("bit_exact", "samples", "cycles_per_frame", "latency_cycles",
                                                      "fps", "clock_mhz", "fifo_max_occupancy")}
            saved.write_text(json.dumps(row["rtlsim"], indent=1) + "\n")
    return row


#: finn-plus names CNV's sliding windows ConvolutionInputGenerator_rtl_0..7, two of which feed its max-pools
#: (left at finn-plus's default, fully parallel); the published file's six windows are the convolutions'
FINN_PLUS_SWG = [0, 1, 3, 4, 6, 7]


def finn_plus_folding(published: dict) -> dict:
    """FINN's published (pre-1.0 names) CNV-W1A1 folding in finn-plus 1.6's node names."""
    out = {"Defaults": {}}
    for name, cfg in published.items():
        kind, _, idx = name.rpartition("_")
        if kind == "MatrixVectorActivation":
            out[f"MVAU_hls_{idx}"] = dict(cfg)
        elif kind == "ConvolutionInputGenerator":
            out[f"ConvolutionInputGenerator_rtl_{FINN_PLUS_SWG[int(idx)]}"] = {"SIMD": cfg["SIMD"]}
        elif kind == "Thresholding_Batch":
            out[f"Thresholding_rtl_{idx}"] = {"PE": cfg["PE"]}
    return out


def run_finn_plus(python: str, published_path: Path) -> dict:
    """finn-plus's own estimates (benchmarks/finn_plus_flow.py in its venv) for the same folding."""
    translated = BUILDS / "finn_plus_cnv-w1a1_folding.json"
    translated.write_text(json.dumps(finn_plus_folding(json.loads(Path(published_path).read_text())), indent=1))
    p = subprocess.run([python, str(ROOT / "benchmarks" / "finn_plus_flow.py"), str(MODEL), "--folding",
                        str(translated), "--board", "pynq-z2"], capture_output=True, text=True, cwd=ROOT)
    rec = _json(p.stdout) or {"ok": False, "error": p.stderr.strip().splitlines()[-1:]}
    keep = ("ok", "tool_version", "estimated_fps", "max_cycles", "max_cycles_node", "LUT", "BRAM_18K", "BRAM36",
            "DSP", "error")
    return {**{k: rec.get(k) for k in keep},
            "layers": [{k: lay.get(k) for k in ("name", "PE", "SIMD", "cycles", "LUT", "BRAM_18K")}
                       for lay in rec.get("layers", [])]}


def why_below(row: dict, goal: float) -> str | None:
    """Which layer and which resource keep a design below ``goal`` fps."""
    if "analytic" not in row:
        return None
    a = row["analytic"]
    msg = [f"II {a['ii_cycles']:,} cycles set by {a['bottleneck']} ({a['fps']:,.0f} fps analytic)"]
    if row.get("over_shell"):
        msg.append("over the shell budget in " + ", ".join(f"{k} by {v:,.0f}" for k, v in row["over_shell"].items()))
    if row.get("layers"):
        top = sorted(row["layers"], key=lambda r: -r["yosys"]["LUT"])[:3]
        msg.append("largest LUT users: " + ", ".join(f"{r['name']} {r['yosys']['LUT']:,}" for r in top))
        topb = sorted(row["layers"], key=lambda r: -r["yosys"]["BRAM36"])[:3]
        msg.append("largest BRAM36 users: " + ", ".join(f"{r['name']} {r['yosys']['BRAM36']:g}" for r in topb))
    fps = (row.get("rtlsim") or {}).get("fps")
    if fps is not None and fps < goal:
        msg.insert(0, f"measured {fps:,.0f} fps < {goal:,.0f}")
    return "; ".join(msg)


def markdown(data: dict) -> str:
    L = ["# CNV-W1A1 on PYNQ-Z2 at 100 MHz: Yosys resources and rtlsim-measured frame rate", "",
         "`python benchmarks/yosys_cnv.py` (Brevitas cnv_1w1a, random weights; Yosys synth_xilinx -family xc7 per "
         "layer, out of context; Verilator rtlsim). Shell budget: <= 48,000 LUT, <= 140 BRAM36, <= 220 DSP. Yosys "
         "counts run 10-30% above Vivado's, so a design that fits here should fit after Vivado.", "",
         "| build | target fps | analytic fps | rtlsim fps | cycles/frame | bit-exact | Yosys LUT | Yosys FF | "
         "Yosys BRAM36 | DSP | analytic LUT | analytic BRAM36 | fits shell |",
         "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in data["runs"]:
        a, y, s = r.get("analytic", {}), r.get("yosys", {}), r.get("rtlsim", {})

        def f(v, fmt="{:,.0f}"):
            return "-" if v is None else fmt.format(v)

        L.append(f"| {r['label']} | {f(r.get('target_fps'))} | {f(a.get('fps'))} | {f(s.get('fps'))} | "
                 f"{f(s.get('cycles_per_frame'))} | {s.get('bit_exact', '-')} | {f(y.get('LUT'))} | {f(y.get('FF'))} | "
                 f"{f(y.get('BRAM36'), '{:g}')} | {f(y.get('DSP'))} | {f(a.get('LUT'))} | {f(a.get('BRAM36'), '{:g}')} | "
                 f"{r.get('fits_shell', '-')} |")
    for r in data["runs"]:
        if r.get("error") or r.get("rtlsim_error"):
            L.append(f"\n- {r['label']}: {r.get('error') or r.get('rtlsim_error')}")
        if r.get("diagnosis"):
            L.append(f"\n- {r['label']}: {r['diagnosis']}")
    for r in data["runs"]:
        fp = r.get("finn_plus")
        if not fp:
            continue
        L += ["", f"finn-plus {fp.get('tool_version')} estimates for the same folding (its analytic models, "
                  f"HLS MVAUs): {fp.get('estimated_fps') or 0:,.0f} fps (II {fp.get('max_cycles') or 0:,} cycles at "
                  f"{fp.get('max_cycles_node')}), {fp.get('LUT') or 0:,.0f} LUT, {fp.get('BRAM36')} BRAM36, "
                  f"{fp.get('DSP')} DSP." if fp.get("ok") else f"finn-plus failed: {fp.get('error')}"]
    p = PUBLISHED
    L += ["", f"Published on the board: FINN (its folding) {p['finn_fps']:,} fps; BNN-PYNQ {p['bnn_pynq_fps']:,} fps "
              f"with {p['bnn_pynq_lut']:,} LUT and {p['bnn_pynq_bram']} BRAM tiles (Vivado).", ""]
    for r in data["runs"]:
        if not r.get("layers"):
            continue
        L += [f"## Per layer: {r['label']} (Yosys vs analytic; diff = (analytic - Yosys) / Yosys)", "",
              "| layer | op | LUT Yosys | LUT est | diff | FF Yosys | FF est | diff | BRAM36 Yosys | BRAM36 est |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for x in r["layers"]:
            y, a, d = x["yosys"], x["analytic"] or {}, x["diff_pct"] or {}

            def pc(k):
                return "-" if d.get(k) is None else f"{d[k]:+.0f}%"

            L.append(f"| {x['name']} | {x['op']} | {y['LUT']:,} | {a.get('LUT', '-')} | {pc('LUT')} | {y['FF']:,} | "
                     f"{a.get('FF', '-')} | {pc('FF')} | {y['BRAM36']:g} | {a.get('BRAM36', '-')} |")
        L.append("")
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default="16000,14000,12000,10000", help="target fps, tried highest first ('' for none)")
    ap.add_argument("--out", default=str(RESULTS / "yosys_cnv"), help="results file stem (.json and .md are written)")
    ap.add_argument("--finn-folding", help="FINN's published folding JSON for CNV-W1A1")
    ap.add_argument("--samples", type=int, default=20, help="frames streamed through rtlsim per build")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reuse", action="store_true", help="reuse build directories (and rtlsim.json) of an earlier run")
    ap.add_argument("--all", action="store_true", help="try every target, not only down to the first that fits")
    ap.add_argument("--finn-plus-python", help="python of the finn-plus venv (benchmarks/setup_finn_plus.sh), to run "
                                               "finn-plus's estimates for the FINN folding too")
    args = ap.parse_args(argv)
    if not MODEL.is_file():
        sys.exit(f"{MODEL} is missing; run python benchmarks/finn_plus_models.py --only cnv_w1a1 first")
    runs = []
    for target in [float(t) for t in args.targets.split(",") if t.strip()]:
        row = evaluate(f"target_{int(target)}", ["--target-fps", target], args.samples, args.jobs, False, args.reuse)
        row["target_fps"] = target
        row["diagnosis"] = why_below(row, 10_000)
        runs.append(row)
        print(json.dumps({k: row.get(k) for k in ("label", "analytic", "yosys", "fits_shell", "rtlsim", "error")}),
              file=sys.stderr)
        if row.get("fits_shell") and row.get("rtlsim") and not args.all:
            break
    if args.finn_folding:
        row = evaluate("finn_folding", ["--folding", str(Path(args.finn_folding).resolve())], args.samples, args.jobs, True,
                       args.reuse)
        if args.finn_plus_python:
            row["finn_plus"] = run_finn_plus(args.finn_plus_python, Path(args.finn_folding))
        runs.append(row)
    fitting = [r for r in runs if r.get("fits_shell") and (r.get("rtlsim") or {}).get("bit_exact")]
    best = max(fitting, key=lambda r: r["rtlsim"]["fps"], default=None)
    data = {"board": "pynq-z2", "clock_mhz": 100.0, "shell_budget": SHELL_BUDGET, "published": PUBLISHED,
            "runs": runs, "best": best and {"label": best["label"], "fps": best["rtlsim"]["fps"], **best["yosys"]}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(data))
    print(markdown(data))


if __name__ == "__main__":
    main()
