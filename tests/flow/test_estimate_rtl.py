"""`fpgabnn estimate` on a generated TFC build: every layer of rtl/manifest.json synthesised by the real Yosys,
matched with its analytic estimate, memories where the build's memory style puts them."""

from __future__ import annotations

import json

import pytest

from fpgabnn.cli import main


@pytest.mark.slow
def test_estimate_of_a_generated_tfc_build(brevitas_qonnx, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FPGABNN_CACHE_DIR", str(tmp_path / "cache"))
    path, _ = brevitas_qonnx("tfc_1w1a")
    out = tmp_path / "tfc"
    # a low rate keeps every layer small (synthesis in seconds); MVAU_0 (784 x 64, SIMD small) gets block RAM
    assert main(["build", str(path), "--pixel-range", "unit", "--target-fps", "20000", "--out", str(out),
                 "--json"]) == 0
    capsys.readouterr()
    assert main(["estimate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    manifest = json.loads((out / "rtl" / "manifest.json").read_text())
    report = json.loads((out / "report.json").read_text())

    assert [r["name"] for r in result["layers"]] == [layer["name"] for layer in manifest["layers"]]
    assert all(r["analytic"] is not None for r in result["layers"])  # every RTL instance has its estimate
    for k in ("LUT", "FF", "BRAM36"):
        parts = sum(r["yosys"][k] for r in result["layers"]) + result["top_logic"]["yosys"][k]
        assert result["totals"][k] == pytest.approx(parts)
    assert result["analytic_totals"]["LUT"] == report["totals"]["LUT"]
    assert result["fits"] and (out / "estimate.txt").read_text().count("MVAU_") >= 4
    by_name = {r["name"]: r for r in result["layers"]}
    mvaus = [layer for layer in manifest["layers"] if layer["module"] == "fpgabnn_mvau"]
    assert any(layer["params"]["RAM_STYLE"] == 1 for layer in mvaus)
    for layer in mvaus:  # the weight memory lands where the memory style says (Yosys honours the attributes)
        y = by_name[layer["name"]]["yosys"]
        assert (y["BRAM36"] > 0) == (layer["params"]["RAM_STYLE"] == 1), layer
        assert y["LUT"] > 50 and y["FF"] > 20
        assert by_name[layer["name"]]["unmapped"] == {}
    # a second run is served from the cache
    assert main(["estimate", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert all(r["cached"] for r in again["layers"]) and again["totals"] == result["totals"]
