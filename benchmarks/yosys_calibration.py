"""Calibrate the analytic resource models (fpgabnn/hw/*.py ``resources()``) against Yosys ``synth_xilinx``.

Each hand-written module of hls_templates/rtllib is synthesised out of context for xc7 (the PYNQ-Z2's
Zynq-7000) over a grid of HDL parameters, with random memory contents (weights, tables, thresholds: the
worst case for LUT-ROM, since nothing constant-folds), and compared with the analytic estimate of the same
parameters. Output: results/yosys_calibration.json (every point) and .md (tables, error summary, fitted
coefficients) and yosys_calibration.png (Yosys vs analytic LUTs).

    python benchmarks/yosys_calibration.py                 # every module (cached per point)
    python benchmarks/yosys_calibration.py --only fifo,dwc --jobs 2

Yosys counts run 10-30% above Vivado's (out-of-context synthesis, less LUT packing): read them as an upper
estimate, and the fit as a fit to Yosys, not to Vivado.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpgabnn.analysis.synth import SynthesisFailed, SynthRequest, cached, find_yosys, sources_for, synthesize_many  # noqa: E402
from fpgabnn.codegen.memh import memh_text  # noqa: E402

RTLLIB = ROOT / "hls_templates" / "rtllib"
RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ("LUT", "FF", "BRAM36", "DSP")


def _base(op, in_width, out_width, in_bits=1, out_bits=1, cycles=1):
    return dict(name="cal", op=op, in_width=in_width, out_width=out_width, in_words=1, out_words=1, cycles=cycles,
                in_bits=in_bits, out_bits=out_bits, in_kind="unsigned", out_kind="unsigned")


class Point:
    """One grid point: the module's HDL parameters, its random memory files and the analytic parameters."""

    def __init__(self, module, group, params, analytic, memories=(), features=None):
        self.module, self.group, self.params, self.analytic = module, group, params, analytic
        self.memories = memories  # ((file name, values [depth, lanes], bits), ...)
        self.features = features or {}

    @property
    def label(self):
        return f"{self.module}(" + ", ".join(f"{k}={v}" for k, v in self.params.items() if not str(v).endswith(".memh")) + ")"


def fifo_points():
    from fpgabnn.hw.fifo import FIFOParams, fifo_impl

    impls = {"srl": 0, "lutram": 1, "bram": 2}
    out = []
    grid = [(w, d, "srl") for w, d in ((8, 2), (8, 8), (8, 33), (64, 2), (64, 3), (64, 17), (64, 33), (64, 65),
                                        (16, 128), (256, 8))]
    grid += [(w, d, "lutram") for w, d in ((8, 64), (64, 64), (64, 129), (16, 256))]
    grid += [(w, d, "bram") for w, d in ((8, 1024), (64, 512), (64, 1024), (256, 256))]
    for width, depth, impl in grid:
        if True:
            out.append(Point("fpgabnn_fifo", "fifo", {"DATA_WIDTH": width, "DEPTH": depth, "IMPL": impls[impl]},
                             FIFOParams(**_base("StreamFIFO", width, width), width=width, depth=depth, impl=impl),
                             features={"width": width, "depth": depth, "impl": impl}))
    return out


def dwc_points():
    from fpgabnn.hw.dwc import DWCParams

    out = []
    for a, b in ((8, 64), (64, 8), (16, 64), (64, 16), (64, 576), (576, 64), (32, 1152), (1152, 32)):
        out.append(Point("fpgabnn_dwc", "dwc", {"IN_WIDTH": a, "OUT_WIDTH": b},
                         DWCParams(**_base("DataWidthConverter", a, b)), features={"in_width": a, "out_width": b}))
    return out


def port_points():
    from fpgabnn.hw.axis import PortParams

    out = []
    for width, words in ((24, 1024), (8, 3072), (784, 1), (64, 16), (192, 64)):
        beats = -(-width * words // 64)
        out.append(Point("fpgabnn_axis_input", "ports", {"PORT_WIDTH": 64, "DATA_WIDTH": width, "FRAME_WORDS": words},
                         PortParams(**_base("AxisInput", 64, width, in_bits=width), port_width=64, beats=beats,
                                    words=words, epw=1, elems=words), features={"width": width}))
    for width, words in ((10, 1), (64, 1), (16, 4)):
        beats = -(-width * words // 64)
        out.append(Point("fpgabnn_axis_output", "ports", {"DATA_WIDTH": width, "PORT_WIDTH": 64, "FRAME_WORDS": words},
                         PortParams(**_base("AxisOutput", width, 64, in_bits=width), port_width=64, beats=beats,
                                    words=words, epw=1, elems=words), features={"width": width}))
    return out


def thresholding_points(rng):
    from fpgabnn.hw.thresholding import ThresholdingParams

    out = []
    # table mode (LUT-ROM of 2^IN_BITS entries per lane): the 8-bit input layer, and small multi-bit
    for ch, pe, ib, ob, shared in ((3, 1, 8, 1, False), (3, 3, 8, 1, False), (64, 4, 4, 2, False), (64, 16, 2, 1, True),
                                   (1, 1, 8, 1, True), (16, 4, 4, 1, False), (16, 2, 6, 1, False), (8, 8, 4, 2, True),
                                   (32, 4, 3, 2, False), (4, 1, 6, 2, False)):
        rows = 1 if shared else ch // pe
        depth = rows << ib
        table = rng.integers(0, 1 << ob, size=(depth, pe))
        name = f"thr_t_{ch}_{pe}_{ib}_{ob}.memh"
        params = {"CHANNELS": ch, "PE": pe, "IN_BITS": ib, "IN_SIGNED": 0, "OUT_BITS": ob, "MODE": 0,
                  "ROWS": rows, "NT": (1 << ob) - 1, "OUT_BASE": 0, "MEM_FILE": name}
        analytic = ThresholdingParams(**_base("Thresholding", pe * ib, pe * ob, ib, ob), channels=ch, pe=pe,
                                      mode="lut", rows=rows, nt=(1 << ob) - 1)
        out.append(Point("fpgabnn_thresholding", "thresholding", params, analytic, ((name, table, ob),),
                         {"mode": "lut", "pe": pe, "in_bits": ib, "out_bits": ob, "rows": rows}))
    # compare mode: NT comparators of IN_BITS + 2 bits per lane
    for ch, pe, ib, ob in ((64, 1, 12, 1), (64, 4, 12, 1), (64, 4, 10, 2), (16, 16, 16, 1)):
        nt = (1 << ob) - 1
        rows = ch // pe
        tw = ib + 2
        thr = np.sort(rng.integers(0, 1 << ib, size=(rows, pe, nt)), axis=2).reshape(rows, pe * nt)
        name = f"thr_c_{ch}_{pe}_{ib}_{ob}.memh"
        params = {"CHANNELS": ch, "PE": pe, "IN_BITS": ib, "IN_SIGNED": 0, "OUT_BITS": ob, "MODE": 1,
                  "ROWS": rows, "NT": nt, "OUT_BASE": 0, "MEM_FILE": name}
        analytic = ThresholdingParams(**_base("Thresholding", pe * ib, pe * ob, ib, ob), channels=ch, pe=pe,
                                      mode="compare", rows=rows, nt=nt, thr_bits=tw)
        out.append(Point("fpgabnn_thresholding", "thresholding", params, analytic, ((name, thr, tw),),
                         {"mode": "compare", "pe": pe, "in_bits": ib, "nt": nt, "rows": rows}))
    return out


def mvau_points(rng, xnor: bool, cnv: bool = False):
    from fpgabnn.hw.mvau import MVAUParams, resolve_ram_style

    out = []
    if cnv:  # CNV's conv2/conv3 at ~15k fps: very wide SIMD, shallow LUT-ROM
        grid, in_bits = [(576, 64, 8, 576), (576, 128, 8, 288)], 1
    elif xnor:  # CNV conv2-like: 3x3x64 -> 64 channels; and a deeper fc-like shape for block RAM
        grid = [(576, 64, pe, simd) for pe in (2, 8, 32) for simd in (8, 32, 64)] + [(1152, 128, 4, 32), (256, 512, 8, 16)]
        in_bits = 1
    else:  # CNV conv1: 3x3x3 8-bit pixels -> 64 channels
        grid = [(27, 64, pe, simd) for pe in (4, 16, 32) for simd in (3, 9, 27)]
        in_bits = 8
    for mw, mh, pe, simd in grid:
        nf, sf = mh // pe, mw // simd
        acc = math.ceil(math.log2(mw + 1)) if xnor else in_bits + math.ceil(math.log2(mw + 1)) + 1
        thr_bits = math.ceil(math.log2(mw + 2)) if xnor else acc + 1
        style = resolve_ram_style("auto", nf * sf, simd)
        tag = f"{'x' if xnor else 'i'}_{mw}_{mh}_{pe}_{simd}"
        weights = rng.integers(0, 2, size=(nf * sf, pe * simd))
        lo, hi = (0, mw + 1) if xnor else (-(mw * 255), mw * 255)
        thr = rng.integers(lo, hi, size=(nf, pe))
        params = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "XNOR": int(xnor), "IN_BITS": in_bits,
                  "IN_SIGNED": 0, "ACT": 0, "OUT_BITS": 1, "THR_BITS": thr_bits,
                  "RAM_STYLE": 1 if style == "block" else 0,
                  "WEIGHT_FILE": f"w_{tag}.memh", "THRESH_FILE": f"t_{tag}.memh"}
        analytic = MVAUParams(**_base("MVAU", simd * in_bits, pe, in_bits, 1, nf * sf), mw=mw, mh=mh, pe=pe,
                              simd=simd, nf=nf, sf=sf, xnor=xnor, acc_bits=acc, act="threshold", thr_bits=thr_bits,
                              ram_style=style)
        out.append(Point("fpgabnn_mvau", "mvau_xnor_cnv" if cnv else "mvau_xnor" if xnor else "mvau_int8", params,
                         analytic,
                         ((params["WEIGHT_FILE"], weights, 1), (params["THRESH_FILE"], thr, thr_bits)),
                         {"pe": pe, "simd": simd, "lanes": pe * simd, "depth": nf * sf, "ram_style": style,
                          "mw": mw, "mh": mh}))
    return out


def swg_points():
    from fpgabnn.hw.base import bram18_for_memory
    from fpgabnn.hw.sliding_window import SlidingWindowParams

    out = []
    # CNV's windows: conv1 (32x32x3, 8-bit, parallel or SIMD 3), conv2 (30x30x64), conv4 (12x12x128), conv6 (3x3x256)
    for h, c, bits, simd, par in ((32, 3, 8, 3, 1), (32, 3, 8, 3, 0), (30, 64, 1, 16, 0), (30, 64, 1, 64, 0),
                                  (12, 128, 1, 32, 0), (3, 256, 1, 4, 0), (3, 256, 1, 32, 0),
                                  # parallel windows (SIMD = C): one word per output pixel
                                  (16, 3, 8, 3, 1), (32, 1, 8, 1, 1), (30, 8, 1, 8, 1), (12, 16, 1, 16, 1),
                                  (14, 32, 1, 32, 1)):
        k = 3
        oh = h - k + 1
        sw = SlidingWindowParams(**_base("SlidingWindow", simd * bits, (k * k * c if par else simd) * bits, bits, bits),
                                 h=h, w=h, c=c, simd=simd, kh=k, kw=k, oh=oh, ow=oh, parallel=bool(par))
        depth, width = sw.buffer_shape()
        style = 1 if bram18_for_memory(depth, width) > 0 else 0
        params = {"H": h, "W": h, "C": c, "SIMD": simd, "KH": k, "KW": k, "ELEM_BITS": bits, "PARALLEL": par,
                  "RAM_STYLE": style}
        out.append(Point("fpgabnn_swg", "sliding_window", params, sw,
                         features={"in_width": simd * bits, "depth": depth, "parallel": par, "ram_style": style}))
    return out


#: in this order: the memory contents come from one random stream, so a point's inputs (and its cache key)
#: do not depend on which groups a run selects
GROUPS = {
    "mvau_xnor": lambda rng: mvau_points(rng, True),
    "sliding_window": lambda rng: swg_points(),
    "mvau_int8": lambda rng: mvau_points(rng, False),
    "thresholding": thresholding_points,
    "dwc": lambda rng: dwc_points(),
    "fifo": lambda rng: fifo_points(),
    "ports": lambda rng: port_points(),
    "mvau_xnor_cnv": lambda rng: mvau_points(rng, True, cnv=True),
}


def _analytic(point) -> dict:
    r = point.analytic.resources()
    return {"LUT": r["LUT"], "FF": r["FF"], "BRAM36": r["BRAM18"] / 2, "DSP": r["DSP"]}


def run(groups, jobs, timeout, cached_only=False):
    rng = np.random.default_rng(2026)
    points = [p for g, make in GROUPS.items() for p in make(rng) if g in groups]
    sources = tuple(sorted(RTLLIB.glob("*.sv")) + sorted(RTLLIB.glob("*.v")))
    with tempfile.TemporaryDirectory(prefix="fpgabnn-cal-") as tmp:
        requests = []
        for p in points:
            files = []
            for name, values, bits in p.memories:
                path = Path(tmp) / name
                path.write_text(memh_text(np.asarray(values), bits))
                files.append(path)
            requests.append(SynthRequest(p.module, sources_for(p.module, sources), "xc7", tuple(p.params.items()), tuple(files), label=p.label))

        def progress(i, req, res):
            how = "cached" if res["cached"] else f"{res['seconds']:.0f} s"
            print(f"  [{i + 1}/{len(requests)}] {req.label}: {res['resources']['LUT']} LUT ({how})", file=sys.stderr)

        if cached_only:  # report what has been synthesised so far
            results = [cached(r) or SynthesisFailed("not synthesised yet (--cached-only)") for r in requests]
        else:
            results = synthesize_many(requests, jobs=jobs, timeout=timeout, progress=progress, keep_going=True)
    rows, failed = [], []
    for p, res in zip(points, results):
        if isinstance(res, Exception):
            failed.append({"group": p.group, "module": p.module, "params": {k: v for k, v in p.params.items()
                                                                            if not str(v).endswith(".memh")},
                           "error": str(res)})
            print(f"  FAILED {p.label}: {res}", file=sys.stderr)
            continue
        y = res["resources"]
        rows.append({"group": p.group, "module": p.module, "params": {k: v for k, v in p.params.items()
                                                                      if not str(v).endswith(".memh")},
                     "features": p.features, "analytic": _analytic(p),
                     "yosys": {"LUT": y["LUT"], "LUTRAM": y["LUTRAM"], "FF": y["FF"], "BRAM18": y["BRAM18"],
                               "BRAM36": y["BRAM36_tiles"], "DSP": y["DSP"], "CARRY4": y["slice_cells"].get("CARRY4", 0)},
                     "seconds": res["seconds"], "cached": res["cached"]})
    return rows, failed


def _err(a, y):
    return None if y == 0 else 100.0 * (a - y) / y


def summary(rows) -> dict:
    out = {}
    for g in dict.fromkeys(r["group"] for r in rows):
        rs = [r for r in rows if r["group"] == g]
        s = {}
        for k in ("LUT", "FF", "BRAM36"):
            errs = [e for e in (_err(r["analytic"][k], r["yosys"][k]) for r in rs) if e is not None]
            ratio = sum(r["yosys"][k] for r in rs) / max(1e-9, sum(r["analytic"][k] for r in rs))
            s[k] = {"mean_abs_err_pct": round(float(np.mean(np.abs(errs))), 1) if errs else None,
                    "max_abs_err_pct": round(float(np.max(np.abs(errs))), 1) if errs else None,
                    "yosys_over_analytic": round(ratio, 3)}
        out[g] = s
    return out


def _reestimate(rows) -> None:
    """Today's analytic estimate for points kept from an earlier run (same grid, same parameters)."""
    rng = np.random.default_rng(2026)
    points = {(p.group, json.dumps({k: v for k, v in p.params.items() if not str(v).endswith(".memh")},
                                   sort_keys=True)): p for make in GROUPS.values() for p in make(rng)}
    for r in rows:
        p = points.get((r["group"], json.dumps(r["params"], sort_keys=True)))
        if p is not None:
            r["analytic"] = _analytic(p)


def summary_before(before_points, rows) -> dict:
    """Per group and figure, the mean abs error of the earlier models on the points both runs share (the
    Yosys counts of today's run, so only the model differs)."""
    old = {(r["group"], json.dumps(r["params"], sort_keys=True)): r["analytic"] for r in before_points}
    out = {}
    for g in dict.fromkeys(r["group"] for r in rows):
        s = {}
        for k in ("LUT", "FF", "BRAM36"):
            errs = [e for r in rows if r["group"] == g and (r["group"], json.dumps(r["params"], sort_keys=True)) in old
                    for e in [_err(old[(r["group"], json.dumps(r["params"], sort_keys=True))][k], r["yosys"][k])]
                    if e is not None]
            s[k] = round(float(np.mean(np.abs(errs))), 1) if errs else None
        out[g] = s
    return out


def fit(rows) -> dict:
    """Least-squares coefficients of each model's own feature form to the Yosys counts."""
    fits = {}

    def lsq(name, X, y, cols):
        X, y = np.asarray(X, float), np.asarray(y, float)
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        pred = X @ coef
        rel = np.abs(pred - y) / np.maximum(y, 1)
        fits[name] = {"columns": cols, "coef": [round(float(c), 3) for c in coef],
                      "mean_abs_err_pct_after": round(100 * float(np.mean(rel)), 1), "points": len(y)}

    g = [r for r in rows if r["group"] in ("mvau_xnor", "mvau_xnor_cnv")]
    if g:  # LUT = a + b lanes + c PE*acc + d LUT-ROM lanes (log2(depth) - 3) / 3 (<= 64 words), ceil(depth/64) beyond
        def rom(f):
            if f["ram_style"] != "distributed":
                return 0
            d = f["depth"]
            return f["lanes"] * (math.ceil(d / 64) if d > 64 else max(0.0, (math.log2(d) - 3) / 3))

        def pe_acc(r):
            return r["features"]["pe"] * math.ceil(math.log2(r["features"]["mw"] + 1))

        X = [[1, r["features"]["lanes"], pe_acc(r), rom(r["features"])] for r in g]
        lsq("mvau_xnor.LUT", X, [r["yosys"]["LUT"] for r in g], ["const", "lanes", "pe_x_acc", "lutrom_lanes_x_depth_term"])
        X = [[1, r["features"]["lanes"], pe_acc(r)] for r in g]
        lsq("mvau_xnor.FF", X, [r["yosys"]["FF"] for r in g], ["const", "lanes", "pe_x_acc"])
    g = [r for r in rows if r["group"] == "mvau_int8"]
    if g:
        X = [[1, r["features"]["lanes"], r["features"]["pe"]] for r in g]
        lsq("mvau_int8.LUT", X, [r["yosys"]["LUT"] for r in g], ["const", "lanes", "pe"])
        lsq("mvau_int8.FF", X, [r["yosys"]["FF"] for r in g], ["const", "lanes", "pe"])
    def both(name, g, X, cols):
        lsq(f"{name}.LUT", X, [r["yosys"]["LUT"] for r in g], cols)
        lsq(f"{name}.FF", X, [r["yosys"]["FF"] for r in g], cols)

    def log2(x):
        return math.ceil(math.log2(max(2, x)))

    # FIFO of DEPTH words: DEPTH - 1 in the memory, one in the output register (hls_templates/rtllib/fpgabnn_fifo.sv)
    g = [r for r in rows if r["group"] == "fifo" and r["features"]["impl"] == "srl"]
    if g:  # SRL: one LUT per bit per 32 memory words, the output register and its input multiplexer per bit
        X = [[1, r["features"]["width"] * math.ceil((r["features"]["depth"] - 1) / 32), r["features"]["width"],
              log2(r["features"]["depth"])] for r in g]
        both("fifo_srl", g, X, ["const", "width_x_ceil((depth-1)/32)", "width", "log2_depth"])
    g = [r for r in rows if r["group"] == "fifo" and r["features"]["impl"] == "lutram"]
    if g:
        X = [[1, r["features"]["width"] * math.ceil((r["features"]["depth"] - 1) / 64), r["features"]["width"],
              log2(r["features"]["depth"])] for r in g]
        both("fifo_lutram", g, X, ["const", "width_x_ceil((depth-1)/64)", "width", "log2_depth"])
    g = [r for r in rows if r["group"] == "fifo" and r["features"]["impl"] == "bram"]
    if g:
        X = [[1, r["features"]["width"], log2(r["features"]["depth"])] for r in g]
        both("fifo_bram", g, X, ["const", "width", "log2_depth"])
    # Thresholding, table mode: ROWS * 2^IN_BITS entries of OUT_BITS per PE (random tables: the worst case)
    g = [r for r in rows if r["group"] == "thresholding" and r["features"]["mode"] == "lut"]
    if g:
        def entries(f):
            return f["rows"] << f["in_bits"]

        X = [[1, f["pe"] * f["out_bits"] * (1 if entries(f) <= 64 else 0),
              f["pe"] * f["out_bits"] * (entries(f) / 64 if entries(f) > 64 else 0), f["pe"] * f["out_bits"]]
             for f in (r["features"] for r in g)]
        both("thr_lut", g, X, ["const", "pe_x_ob (<= 64 entries)", "pe_x_ob_x_entries/64 (> 64)", "pe_x_ob"])
    g = [r for r in rows if r["group"] == "thresholding" and r["features"]["mode"] == "compare"]
    if g:  # NT comparators per PE; per-channel thresholds (ROWS > 1) read from a LUT-ROM into a register
        X = [[1, f["pe"] * f["nt"] * f["in_bits"],
              f["pe"] * f["nt"] * (f["in_bits"] + 2) * math.ceil(f["rows"] / 64) * (f["rows"] > 1)]
             for f in (r["features"] for r in g)]
        both("thr_compare", g, X, ["const", "pe_x_nt_x_in_bits", "pe_x_nt_x_thr_bits (rows > 1)"])
    for par in (0, 1):
        g = [r for r in rows if r["group"] == "sliding_window" and r["features"]["parallel"] == par]
        if g:
            X = [[1, r["features"]["in_width"], log2(r["features"]["depth"])] for r in g]
            both("swg_parallel" if par else "swg", g, X, ["const", "in_width", "log2_depth"])
    g = [r for r in rows if r["group"] == "ports"]
    if g:
        X = [[1, r["features"]["width"], 64 * math.ceil(r["features"]["width"] / 64)] for r in g]
        both("ports", g, X, ["const", "word_width", "ceil_to_port"])
    g = [r for r in rows if r["group"] == "dwc"]
    if g:
        X = [[1, max(r["features"]["in_width"], r["features"]["out_width"])] for r in g]
        lsq("dwc.LUT", X, [r["yosys"]["LUT"] for r in g], ["const", "wide_width"])
        lsq("dwc.FF", X, [r["yosys"]["FF"] for r in g], ["const", "wide_width"])
    return fits


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for ax, k in zip(axes, ("LUT", "FF")):
        for g in dict.fromkeys(r["group"] for r in rows):
            rs = [r for r in rows if r["group"] == g]
            ax.scatter([max(1, r["yosys"][k]) for r in rs], [max(1, r["analytic"][k]) for r in rs], label=g, s=18)
        lim = [1, max(max(r["yosys"][k], r["analytic"][k]) for r in rows) * 1.5]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"Yosys synth_xilinx (xc7) {k}")
        ax.set_ylabel(f"analytic estimate {k}")
        ax.set_title(f"{k}: points below the line are under-estimated")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(data) -> str:
    rows, summ, fits = data["points"], data["summary"], data["fits"]
    lines = ["# Yosys calibration of the analytic resource models", "",
             f"`python benchmarks/yosys_calibration.py` ({data['tool']}, `synth_xilinx -family xc7`, each module "
             "out of context, random memory contents). Yosys counts run 10-30% above Vivado's (no cross-boundary "
             "optimisation, less LUT packing): read the Yosys columns as an upper estimate. err = (analytic - "
             "Yosys) / Yosys; negative = the model counts less than Yosys. BRAM36 = RAMB36 + RAMB18 / 2.", "",
             "## Where the analytic models were wrong, and what was done", "",
             "- **MVAU, XNOR** (the bulk of every CNV build): the FINN-R-style model counted ~2 LUT per lane plus a "
             "LUT per 64 words per weight bit and over-estimated Yosys by 12-134% (mean 42%); FF were under-counted "
             "(the distributed weight ROM's output register is a flip-flop per lane). Re-fitted (fpgabnn/hw/mvau.py): "
             "2.6 LUT per lane (popcount with the XNOR folded in), 2.25 per PE x accumulator bit, and a LUT-ROM term "
             "that is zero for <= 8 words (the ROM folds into the XNOR's LUT) and grows with log2(depth): mean error "
             "9% over the grid, 1% on CNV's SIMD-288/576 layers.",
             "- **MVAU, 8-bit input**: over-estimated by up to 47%; re-fitted to 1.92 LUT per lane-bit.",
             "- **MVAU weight BRAM**: the model counted PE memories of SIMD-bit words (the HLS layout); the RTL keeps "
             "one memory of NF*SF words of PE x SIMD bits (fpgabnn_mvau.sv, codegen/rtl.py). The model now counts that "
             "memory (fpgabnn/hw/mvau.py): BRAM error 49% -> 0% on the grid (PE=32, SIMD=8: 4 BRAM36, was 16). The "
             "HLS kernel's PE partitions can take more RAMB18 when SIMD is narrow. (The MVAU and DWC points were "
             "synthesised before the FIFO change below; the MVAU's output queue changed by a few flip-flops.)",
             "- **DWC**: the split side (wide to narrow) was modelled as a multiplexer; the RTL holds and shifts the "
             "word (~2 LUT, 3 FF per input bit). Re-fitted (fpgabnn/hw/dwc.py): within ~10%.",
             "- **FIFO** (fpgabnn_fifo.sv now holds exactly DEPTH words: DEPTH - 1 in memory, one in the output "
             "register): the shift register is written per bit (`sr <= {sr[D-2:0], d}`, `q = sr[addr]`), so Yosys "
             "maps SRL16E/SRLC32E (before: flip-flops and multiplexers, ~16-19 LUT and ~33 FF per bit at depth 32). "
             "Re-fitted (fpgabnn/hw/fifo.py) per memory kind over 18 points: one SRL per bit per 32 words plus the "
             "output register's multiplexer (a 1-2 word memory stays in flip-flops), RAM64M for LUTRAM, RAMB18 plus "
             "read and bypass registers for BRAM; LUT error 48% -> 6%, FF 37% -> 2%.",
             "- **Thresholding**: with random tables (the worst case) Yosys/ABC needs ~10 LUT per output bit per 64 "
             "table entries beyond 64 (ROWS x 2^IN_BITS entries per PE; the old model ignored ROWS and counted one "
             "LUT6 per 64); up to 64 entries the LUT6s are shared (a third of a LUT per output bit). Compare mode: "
             "~0.5 LUT per threshold bit against constants, ~1.5 LUT and 0.9 FF per bit with per-channel thresholds "
             "read from a LUT-ROM. FF: no input register (the old model counted one). Re-fitted "
             "(fpgabnn/hw/thresholding.py): LUT error 79% -> 14%, FF 529% -> 21% over 14 points. Real tables are "
             "monotone steps and synthesise smaller than random ones.",
             "- **Sliding window**: the parallel-window mode cost ~6x fewer LUT than modelled (~3 LUT per input bit "
             "with its small LUTRAM line buffer; the window register ~1.6 FF per output bit); normal mode ~4.6 LUT "
             "and 1.2 FF per input bit plus address logic growing with log2(words per frame). Re-fitted "
             "(fpgabnn/hw/sliding_window.py) over 12 points (6 parallel): LUT 229% -> 6%, FF 46% -> 6%.",
             "- **AXI ports** (new points): the gearbox model (a multiplexer over bit offsets) counted 2-8x too few; "
             "fitted at P = 64 (fpgabnn/hw/axis.py): input ~3.6 LUT/3.3 FF per port bit and 1.9 LUT/2 FF per word "
             "bit, output ~1.9 LUT/2.2 FF per port bit and 6.4 LUT/1 FF per word bit; LUT 76% -> 6%, FF 49% -> 1% "
             "(the port terms are assumed to scale with P; no 128-bit points).",
             "- Before/after: the summary's parentheses are the models before this re-fit on the same Yosys counts; "
             "tests/analysis/test_resource_models.py checks the re-fitted FIFO and sliding-window models on Yosys "
             "points outside the grid. The least-squares table below is the script's own generic forms (what the "
             "coefficients were read from), not always the exact form the module uses.",
             "- Yosys needs two workarounds the synthesis script applies: a ROM marked `rom_style`/`ram_style` "
             "\"distributed\" (Vivado's LUT-ROM) has no Yosys mapping, so it is re-marked \"logic\"; a ROM filled "
             "in an initial block from another `$readmemh`'d array is read with `-mem2reg`.", "",
             "## Summary per module", "",
             "| group | points | LUT mean abs err (before re-fit) | LUT Yosys/analytic | FF mean abs err (before) | "
             "FF Yosys/analytic | BRAM36 mean abs err (before) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    before = data.get("summary_before", {})
    for g, s in summ.items():
        n = sum(1 for r in rows if r["group"] == g)
        b = before.get(g, {})

        def f(x, k):
            now = "-" if x is None else f"{x:.0f}%"
            return now if b.get(k) is None else f"{now} ({b[k]:.0f}%)"

        lines.append(f"| {g} | {n} | {f(s['LUT']['mean_abs_err_pct'], 'LUT')} | {s['LUT']['yosys_over_analytic']:.2f} | "
                     f"{f(s['FF']['mean_abs_err_pct'], 'FF')} | {s['FF']['yosys_over_analytic']:.2f} | "
                     f"{f(s['BRAM36']['mean_abs_err_pct'], 'BRAM36')} |")
    if fits:
        lines += ["", "## Least-squares fits to Yosys (the coefficients the models were re-fitted from)", "",
                  "| model | columns | coefficients | mean abs err after | points |", "|---|---|---|---:|---:|"]
        for name, f_ in fits.items():
            lines.append(f"| {name} | {', '.join(f_['columns'])} | {', '.join(map(str, f_['coef']))} | "
                         f"{f_['mean_abs_err_pct_after']:.0f}% | {f_['points']} |")
    lines += ["", "## Every point", "",
              "| group | parameters | LUT Yosys | LUT est | err | LUTRAM | FF Yosys | FF est | err | BRAM36 Yosys | BRAM36 est | DSP |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        y, a = r["yosys"], r["analytic"]

        def e(k):
            v = _err(a[k], y[k])
            return "-" if v is None else f"{v:+.0f}%"

        params = ", ".join(f"{k}={v}" for k, v in r["params"].items())
        lines.append(f"| {r['group']} | {params} | {y['LUT']:,} | {a['LUT']:,} | {e('LUT')} | {y['LUTRAM']:,} | "
                     f"{y['FF']:,} | {a['FF']:,} | {e('FF')} | {y['BRAM36']:g} | {a['BRAM36']:g} | {y['DSP']} |")
    if data.get("failed"):
        lines += ["", "## Points Yosys could not synthesise", ""]
        lines += [f"- {r['group']} {r['params']}: {r['error']}" for r in data["failed"]]
    lines += ["", "![Yosys vs analytic](yosys_calibration.png)", ""]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help=f"comma-separated groups ({', '.join(GROUPS)}); default all")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--out", default=str(RESULTS / "yosys_calibration"))
    ap.add_argument("--cached-only", action="store_true", help="report the points already synthesised, run none")
    ap.add_argument("--before", help="JSON of an earlier run (the models before a re-fit): its errors are reported "
                    "beside today's")
    args = ap.parse_args(argv)
    groups = args.only.split(",") if args.only else list(GROUPS)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        ap.error(f"unknown group {unknown[0]}; choose from {', '.join(GROUPS)}")
    start = time.time()
    rows, failed = run(groups, args.jobs, args.timeout, args.cached_only)
    out = Path(args.out)
    previous = {}
    if out.with_suffix(".json").is_file() and args.only:  # keep the other groups' points
        previous = json.loads(out.with_suffix(".json").read_text())
        kept = [r for r in previous.get("points", []) if r["group"] not in groups]
        _reestimate(kept)
        rows = kept + rows
        failed = [r for r in previous.get("failed", []) if r["group"] not in groups] + failed
    data = {"tool": find_yosys().version.split(" (")[0], "family": "xc7", "points": rows, "failed": failed,
            "summary": summary(rows), "fits": fit(rows), "wall_seconds": round(time.time() - start, 1)}
    if args.before:  # the per-group error of the models before a re-fit (a run of this script saved then)
        before = json.loads(Path(args.before).read_text())
        data["summary_before"] = summary_before(before["points"], rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    plot(rows, out.with_suffix(".png"))
    out.with_suffix(".md").write_text(markdown(data))
    print(json.dumps(data["summary"], indent=1))
    print(json.dumps(data["fits"], indent=1))


if __name__ == "__main__":
    main()
