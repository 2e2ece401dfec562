"""write_report: report.json round-trips, the table has one row per layer, the charts are PNGs; and the
build command writes them and reports what limits the frame rate."""

from __future__ import annotations

import json

import pytest

from fpgabnn.analysis.estimates import estimate_dataflow
from fpgabnn.analysis.report import REPORT_FILES, markdown, render_text, table_rows, write_report
from fpgabnn.transforms.folding import SetFolding

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tfc_report(bnn_pynq_hw):
    _, tfc = bnn_pynq_hw("tfc_1w1a")
    return estimate_dataflow(tfc.transform(SetFolding(100_000, 100.0)), "pynq-z2", 100.0)


def test_report_files(tfc_report, tmp_path, capsys):
    paths = write_report(tfc_report, tmp_path / "out")
    assert sorted(paths) == sorted(REPORT_FILES)
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    assert json.loads(paths["report.json"].read_text()) == json.loads(json.dumps(tfc_report))
    for png in ("cycles.png", "resources.png"):
        data = paths[png].read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
    printed = capsys.readouterr().out
    assert all(r["name"] in printed for r in tfc_report["layers"])
    assert "estimated" in printed and "fits pynq-z2" in printed


def test_quiet_prints_nothing(tfc_report, tmp_path, capsys):
    write_report(tfc_report, tmp_path, quiet=True)
    assert capsys.readouterr().out == ""


def test_table_has_one_row_per_layer(tfc_report):
    names = [r["name"] for r in tfc_report["layers"]]
    rows = table_rows(tfc_report)
    assert [r[0].rstrip(" *") for r in rows[: len(names)]] == names
    assert [r[0] for r in rows[len(names):]][1:] == ["total, II", "pynq-z2 budget", "utilisation"]
    assert sum(r[0].endswith(" *") for r in rows) == 1  # the bottleneck is marked once
    md = markdown(tfc_report).splitlines()
    table = md[: md.index("")]  # the layer table; the FIFO table follows the summary
    body = [line for line in table if line.startswith("| ") and not line.startswith("| layer")]
    assert len(body) == len(names) + 4
    fifos = [g for g in tfc_report["glue"] if g["op"] == "StreamFIFO"]
    fifo_rows = [line for line in md if line.startswith("| StreamFIFO")]
    assert len(fifo_rows) == len(fifos) > 0
    total = sum(g["depth"] * g["in_width"] for g in fifos)
    assert f"| total | | | {total:,} |" in md and tfc_report["fifo_bits"] == total
    for name in names:
        assert sum(line.startswith(f"| {name} ") for line in body) == 1
    text = render_text(tfc_report)
    assert all(name in text for name in names) and "BRAM36" in text and "fps" in text


def test_build_writes_report_and_names_the_limit(bnn_pynq_hw, tmp_path, capsys):
    from fpgabnn.cli import main

    path, _ = bnn_pynq_hw("tfc_1w1a")  # 784 8-bit pixels are 98 beats of the 64-bit DMA: at most 1.02M fps
    out = tmp_path / "build"
    code = main(["build", str(path), "--pixel-range", "unit", "--target-fps", "2000000", "--out", str(out)])
    assert code == 0
    for name in REPORT_FILES + ("folding_config.json",):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text())
    assert not report["folding"]["met"]
    printed = capsys.readouterr().out
    assert "not reachable" in printed and report["bottleneck"] in printed and "64-bit input port" in printed
    assert report["ii_cycles"] == 98 and report["fps"] < 1.03e6
