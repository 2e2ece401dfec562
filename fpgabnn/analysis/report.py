"""Writing an estimate report (see estimates.py): report.json, the same table as text and markdown, and charts."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from fpgabnn.analysis.charts import cycles_chart, resources_chart
from fpgabnn.core.fileio import atomic_write_bytes

COLUMNS = ("layer", "op", "PE", "SIMD", "cycles", "LUT", "FF", "BRAM18", "DSP")
REPORT_FILES = ("report.json", "report.txt", "report.md", "cycles.png", "resources.png")


#: short names of the infrastructure nodes in the table's glue row
GLUE_LABELS = {"DataWidthConverter": "dwc", "StreamFIFO": "fifo", "AxisInput": "ports", "AxisOutput": "ports"}


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def table_rows(report: dict) -> list[list[str]]:
    """One row per hardware layer, then the glue (converters, resizers, FIFOs) as one row, the totals,
    the board budget and the utilisation."""
    rows = []
    for r in report["layers"]:
        f = r["folding"]
        name = f"{r['name']} *" if r["name"] == report["bottleneck"] else r["name"]
        rows.append([name, r["op"], str(f.get("pe", "")), str(f.get("simd", "")), f"{r['cycles']:,}",
                     f"{r['LUT']:,}", f"{r['FF']:,}", f"{r['BRAM18']:,}", f"{r['DSP']:,}"])
    glue = report["glue"]
    kinds = sorted({GLUE_LABELS.get(g["op"], g["op"]) for g in glue})
    rows.append([f"glue ({len(glue)})", "+".join(kinds), "", "", "",
                 *(f"{sum(g[k] for g in glue):,}" for k in ("LUT", "FF", "BRAM18", "DSP"))])
    t, b, u = report["totals"], report["budget"], report["utilisation_pct"]
    rows.append(["total, II", "", "", "", f"{report['ii_cycles']:,}",
                 *(f"{t[k]:,}" for k in ("LUT", "FF", "BRAM18", "DSP"))])
    rows.append([f"{report['board']} budget", "", "", "", "", *(f"{b[k]:,}" for k in ("LUT", "FF", "BRAM18", "DSP"))])
    rows.append(["utilisation", "", "", "", "", *(_pct(u[k]) for k in ("LUT", "FF", "BRAM18", "DSP"))])
    return rows


def summary_lines(report: dict) -> list[str]:
    t = report["totals"]
    lines = [
        f"{report['board']} ({report['part']}) at {report['clock_mhz']:g} MHz: II {report['ii_cycles']:,} cycles "
        f"({report.get('ii_source', 'slowest layer')}; slowest layer {report['bottleneck']} "
        f"{report.get('slowest_layer_cycles', report['ii_cycles']):,}), estimated {report['fps']:,.0f} fps, "
        f"latency <= {report['latency_us']:,.1f} us",
        f"resources: {t['LUT']:,} LUT, {t['FF']:,} FF, {t['BRAM18']:,} BRAM18 (= {t['BRAM36']:g} BRAM36), "
        f"{t['DSP']:,} DSP; accelerator only, without the PYNQ shell",
    ]
    lines.append(report["folding"]["message"])
    fifos = [g for g in report["glue"] if g["op"] == "StreamFIFO"]
    if fifos:
        big = sorted(fifos, key=lambda g: -g["depth"] * g["in_width"])
        shown = ", ".join(f"{g['name']} {g['depth']} x {g['in_width']} b" for g in big[:4] if g["depth"] > 2)
        lines.append(f"FIFOs: {len(fifos)}, {sum(g['depth'] * g['in_width'] for g in fifos) / 1000:,.1f} kbit in all"
                     + (f"; deepest: {shown}" if shown else "; all of depth 2"))
    if report["fits"]:
        lines.append(f"fits {report['board']}: highest utilisation "
                     f"{max(v for v in report['utilisation_pct'].values() if v is not None):.1f}%")
    else:
        over = ", ".join(f"{o['resource']} +{o['excess']:,}" for o in report["overflows"])
        lines.append(f"does NOT fit {report['board']}: {over}")
    return lines


def rich_table(report: dict, with_op: bool = True) -> Table:
    """The table of ``table_rows``; without the op column it fits an 80-column terminal (names carry the op)."""
    table = Table(title=f"fpgabnn estimate: {report['board']} at {report['clock_mhz']:g} MHz (* = bottleneck)",
                  box=box.SIMPLE_HEAD)
    keep = [i for i, c in enumerate(COLUMNS) if with_op or c != "op"]
    for i in keep:
        table.add_column(COLUMNS[i], justify="left" if i < 2 else "right", no_wrap=True)
    n_layers = len(report["layers"])
    for i, row in enumerate(table_rows(report)):
        table.add_row(*(row[j] for j in keep), end_section=i in (n_layers - 1, n_layers))  # rules after layers, glue
    return table


def markdown(report: dict) -> str:
    align = ["---" if i < 2 else "---:" for i in range(len(COLUMNS))]  # names left, numbers right
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(report)]
    lines += [""] + [f"- {s}" for s in summary_lines(report)]
    fifos = [g for g in report["glue"] if g["op"] == "StreamFIFO"]
    if fifos:  # every FIFO: the depth SizeFIFOs chose and its memory
        lines += ["", "| FIFO | depth | width | bits |", "|---|---:|---:|---:|"]
        lines += [f"| {g['name']} | {g['depth']:,} | {g['in_width']:,} | {g['depth'] * g['in_width']:,} |" for g in fifos]
        lines.append(f"| total | | | {sum(g['depth'] * g['in_width'] for g in fifos):,} |")
    return "\n".join(lines) + "\n"


def render_text(report: dict, width: int = 120) -> str:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(rich_table(report))
    for line in summary_lines(report):
        console.print(line, highlight=False, markup=False)
    return console.export_text()


def write_report(report: dict, out_dir: Path, quiet: bool = False) -> dict:
    """Write report.json, report.txt, report.md, cycles.png and resources.png into ``out_dir``; print the
    table unless ``quiet``. Returns {file name: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    blobs = {
        "report.json": (json.dumps(report, indent=2) + "\n").encode(),
        "report.txt": render_text(report).encode(),
        "report.md": markdown(report).encode(),
        "cycles.png": cycles_chart(report),
        "resources.png": resources_chart(report),
    }
    paths = {}
    for name, data in blobs.items():
        atomic_write_bytes(out_dir / name, data)
        paths[name] = out_dir / name
    if not quiet:
        console = Console()
        console.print(rich_table(report, with_op=console.width >= 100))
        for line in summary_lines(report):
            console.print(line, highlight=False, markup=False)
        console.print(f"wrote {', '.join(paths)}", highlight=False, markup=False)
    return paths
