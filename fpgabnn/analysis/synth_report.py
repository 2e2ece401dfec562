"""Yosys resources of a build's RTL, per layer and for the top, beside the analytic estimates of report.json.

Every layer of ``rtl/manifest.json`` (CONTRACTS.md C) is synthesised out of context as its module with the
layer's HDL parameters and memory files; the top is synthesised with every layer module as a black box, so
its own logic is counted once. The sum is compared with the board's budget. Yosys ``synth_xilinx`` counts
run 10-30% above Vivado's (no cross-boundary optimisation, less LUT packing): an upper estimate.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from fpgabnn.analysis.synth import SynthRequest, family_for, sources_for, synthesize_many
from fpgabnn.core.fileio import atomic_write_bytes, jsonable
from fpgabnn.core.names import safe_identifier
from fpgabnn.errors import UserError

#: figures compared per layer (BRAM in 36 Kb tiles: BRAM36 + BRAM18 / 2, as the board budget counts them)
COMPARED = ("LUT", "FF", "BRAM36", "DSP")
ESTIMATE_FILES = ("estimate.json", "estimate.txt")
NOTE = ("Yosys synth_xilinx counts, each layer synthesised out of context; they run 10-30% above Vivado's "
        "(treat them as an upper estimate)")
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def load_manifest(build_dir: Path) -> dict:
    """rtl/manifest.json checked against Contract C; a damaged one is a one-line UserError."""
    rtl = Path(build_dir) / "rtl"
    fix = "rebuild with `fpgabnn build --backend rtl` (or both)"
    if not rtl.is_dir():
        raise UserError(f"{build_dir} has no rtl/ directory; {fix}")
    path = rtl / "manifest.json"
    try:
        man = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{rtl} has no manifest.json; {fix}") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise UserError(f"{path} is not valid JSON ({type(err).__name__}); {fix}") from None

    def bad(what: str) -> UserError:
        return UserError(f"{path} is damaged: {what}; {fix}")

    if not isinstance(man, dict):
        raise bad("not a JSON object")
    for key, kind in (("top", str), ("files", list), ("layers", list)):
        if not isinstance(man.get(key), kind):
            raise bad(f"'{key}' missing or not a {kind.__name__}")

    def file_list(items, what) -> list[Path]:
        if not isinstance(items, list):
            raise bad(f"{what} is not a list")
        out = []
        for f in items:
            if not isinstance(f, str) or not _NAME.fullmatch(Path(f).name) or ".." in Path(f).parts \
                    or Path(f).is_absolute():
                raise bad(f"{what} entry {f!r} is not a file name inside rtl/")
            if not (rtl / f).is_file():
                raise bad(f"{what} names {f}, which does not exist")
            out.append(rtl / f)
        return out

    files = file_list(man["files"], "files")
    if not files:
        raise bad("'files' is empty")
    layers = []
    for i, layer in enumerate(man["layers"]):
        if not isinstance(layer, dict):
            raise bad(f"layer {i} is not an object")
        for key in ("name", "module"):
            if not isinstance(layer.get(key), str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", layer[key]):
                raise bad(f"layer {i} has no valid '{key}'")
        params = layer.get("params", {})
        if not isinstance(params, dict) or not all(
                isinstance(v, (int, str)) and not isinstance(v, bool) and re.fullmatch(r"[A-Za-z_]\w*", k)
                and (not isinstance(v, str) or re.fullmatch(r"[A-Za-z0-9_.\-+/]*", v)) for k, v in params.items()):
            raise bad(f"layer {layer['name']} has parameters that are not name: int or plain string")
        layers.append({"name": layer["name"], "op": str(layer.get("op", "")), "module": layer["module"],
                       "params": params, "memory_files": file_list(layer.get("memory_files", []),
                                                                   f"layer {layer['name']} memory_files")})
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", man["top"]):
        raise bad(f"top {man['top']!r} is not a module name")
    defines = re.compile(rf"^\s*module\s+{re.escape(man['top'])}\b", re.M)
    top_files = [f for f in files if defines.search(f.read_text(errors="replace"))]
    if not top_files:
        raise bad(f"no file defines the top module {man['top']}")
    return {"top": man["top"], "files": files, "top_file": top_files[0], "layers": layers,
            "memory_files": file_list(man.get("memory_files", []), "memory_files")}


def _load_build(build_dir: Path) -> tuple[dict, dict | None]:
    from fpgabnn.builder import BUILD_MARKER

    marker = Path(build_dir) / BUILD_MARKER
    if not marker.is_file():
        raise UserError(f"{build_dir} is not an fpgabnn build directory (no {BUILD_MARKER}); run `fpgabnn build` first")
    try:
        meta = json.loads(marker.read_text())
        board = meta["board"]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{marker} is damaged; rebuild with `fpgabnn build`") from None
    report = None
    path = Path(build_dir) / "report.json"
    if path.is_file():
        try:
            report = json.loads(path.read_text())
        except ValueError:
            raise UserError(f"{path} is not valid JSON; rebuild with `fpgabnn build`") from None
    return {**meta, "board": board}, report


def _figures(res: dict) -> dict:
    """The compared figures of a synthesis result (BRAM as 36 Kb tiles)."""
    return {"LUT": res["LUT"], "LUTRAM": res["LUTRAM"], "FF": res["FF"], "BRAM18": res["BRAM18"],
            "BRAM36": res["BRAM36_tiles"], "DSP": res["DSP"], "URAM": res["URAM"]}


def _analytic_rows(report: dict | None) -> dict:
    """report.json's layer and glue rows by name (and by safe identifier, the RTL instance name)."""
    rows = {}
    for r in (report or {}).get("layers", []) + (report or {}).get("glue", []):
        fig = {"LUT": r.get("LUT", 0), "FF": r.get("FF", 0), "BRAM36": r.get("BRAM18", 0) / 2,
               "DSP": r.get("DSP", 0)}
        rows.setdefault(r["name"], fig)
        rows.setdefault(safe_identifier(r["name"]), fig)
    return rows


def _diff_pct(yosys: dict, analytic: dict | None) -> dict:
    """(analytic - yosys) / yosys in %, None where Yosys counts zero (so: negative = the model counts less)."""
    if analytic is None:
        return {}
    return {k: (round(100.0 * (analytic[k] - yosys[k]) / yosys[k], 1) if yosys[k] else None) for k in COMPARED}


def estimate_build(build_dir: Path, jobs: int = 2, timeout: float = 3600.0, progress=None) -> dict:
    """Synthesise every layer and the top of ``build_dir``/rtl; the result that estimate.json holds."""
    from fpgabnn.deploy.boards import load_board

    build_dir = Path(build_dir)
    meta, report = _load_build(build_dir)
    man = load_manifest(build_dir)
    board = load_board(meta["board"])
    family = family_for(board)
    others = tuple(f for f in man["files"] if f != man["top_file"])
    requests = [SynthRequest(layer["module"], sources_for(layer["module"], man["files"]), family, tuple(sorted(layer["params"].items())),
                             tuple(layer["memory_files"]), label=f"layer {layer['name']}")
                for layer in man["layers"]]
    # black boxes are derived with their parameters, which opens their memory files: the top needs them all
    memories = tuple(dict.fromkeys([*man["memory_files"], *(m for layer in man["layers"] for m in layer["memory_files"])]))
    requests.append(SynthRequest(man["top"], (man["top_file"],), family, (), memories, others, label=f"top {man['top']}"))
    results = synthesize_many(requests, jobs=jobs, timeout=timeout, progress=progress)

    analytic = _analytic_rows(report)
    rows = []
    for layer, res in zip(man["layers"], results[:-1]):
        fig = _figures(res["resources"])
        est = analytic.get(layer["name"])
        rows.append({"name": layer["name"], "op": layer["op"], "module": layer["module"], "yosys": fig,
                     "analytic": est, "diff_pct": _diff_pct(fig, est), "unmapped": res["resources"]["unmapped"],
                     "seconds": res["seconds"], "cached": res["cached"]})
    top = results[-1]
    top_fig = _figures(top["resources"])
    totals = {k: sum(r["yosys"][k] for r in rows) + top_fig[k] for k in top_fig}
    budget = {"LUT": board.resources["LUT"], "FF": board.resources["FF"], "BRAM36": board.resources["BRAM18"] / 2,
              "DSP": board.resources["DSP"], "URAM": board.resources["URAM"]}
    analytic_total = None
    if report and "totals" in report:
        t = report["totals"]
        analytic_total = {"LUT": t["LUT"], "FF": t["FF"], "BRAM36": t["BRAM18"] / 2, "DSP": t["DSP"]}
    overflows = [{"resource": k, "used": totals[k], "available": budget[k], "excess": totals[k] - budget[k]}
                 for k in budget if totals[k] > budget[k]]
    return jsonable({
        "build_dir": str(build_dir),
        "board": board.name, "part": board.part, "family": family, "tool": top["tool"], "top": man["top"],
        "layers": rows,
        "top_logic": {"name": man["top"], "yosys": top_fig, "seconds": top["seconds"], "cached": top["cached"]},
        "totals": totals,
        "analytic_totals": analytic_total,
        "diff_pct": _diff_pct(totals, analytic_total),
        "budget": budget,
        "utilisation_pct": {k: (round(100.0 * totals[k] / budget[k], 1) if budget[k] else None) for k in budget},
        "fits": not overflows,
        "overflows": overflows,
        "synth_seconds": round(sum(r["seconds"] for r in results if not r["cached"]), 1),
        "note": NOTE,
    })


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}"


def _pct(v) -> str:
    return "-" if v is None else f"{v:+.0f}%"


def table_rows(result: dict) -> list[list[str]]:
    rows = []
    for r in result["layers"]:
        y, a, d = r["yosys"], r["analytic"] or {}, r["diff_pct"]
        rows.append([r["name"], r["op"], *(x for k in COMPARED for x in (_fmt(y[k]), _fmt(a.get(k)), _pct(d.get(k))))])
    t = result["top_logic"]["yosys"]
    rows.append([f"top {result['top']}", "glue", *(x for k in COMPARED for x in (_fmt(t[k]), "", ""))])
    at = result["analytic_totals"] or {}
    rows.append(["total", "", *(x for k in COMPARED for x in (_fmt(result["totals"][k]), _fmt(at.get(k)),
                                                               _pct(result["diff_pct"].get(k))))])
    rows.append([f"{result['board']} budget", "", *(x for k in COMPARED for x in (_fmt(result["budget"][k]), "", ""))])
    u = result["utilisation_pct"]
    rows.append(["utilisation", "", *(x for k in COMPARED for x in ("-" if u[k] is None else f"{u[k]:.1f}%", "", ""))])
    return rows


def verdict(result: dict) -> str:
    if result["fits"]:
        worst = max((v for v in result["utilisation_pct"].values() if v is not None), default=0.0)
        return f"fits {result['board']} ({result['part']}): highest utilisation {worst:.1f}% (Yosys)"
    over = ", ".join(f"{o['resource']} {_fmt(o['used'])} of {_fmt(o['available'])} (+{_fmt(o['excess'])})"
                     for o in result["overflows"])
    return f"OVER BUDGET: does NOT fit {result['board']} ({result['part']}): {over} (Yosys)"


def render_text(result: dict, width: int = 160) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Yosys synth_xilinx -family {result['family']} (Y) vs analytic estimate (est); "
                        "diff = (est - Y) / Y; BRAM36 in 36 Kb tiles", box=box.SIMPLE_HEAD)
    table.add_column("layer", no_wrap=True)
    table.add_column("op", no_wrap=True)
    for k in COMPARED:
        short = "BRAM" if k == "BRAM36" else k
        for sub in ("Y", "est", "diff"):
            table.add_column(f"{short} {sub}" if sub == "Y" else sub, justify="right", no_wrap=True)
    rows = table_rows(result)
    n = len(result["layers"])
    for i, row in enumerate(rows):
        table.add_row(*row, end_section=i in (n, n + 1))
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(table)
    for line in (verdict(result), result["note"], f"tool: {result['tool']}"):
        console.print(line, highlight=False, markup=False)
    return console.export_text()


def write_estimate(result: dict, build_dir: Path) -> None:
    text = render_text(result)
    atomic_write_bytes(Path(build_dir) / "estimate.json", (json.dumps(result, indent=2) + "\n").encode())
    atomic_write_bytes(Path(build_dir) / "estimate.txt", text.encode())
