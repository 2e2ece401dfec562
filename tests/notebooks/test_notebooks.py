"""The user-flow notebooks run top to bottom (with the CI-sized settings of their parameters cells), in order,
sharing one work directory: train/export/inspect, build/simulate/estimate, inference with the driver."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ORDER = ("1_train_export_inspect.ipynb", "2_build_simulate_estimate.ipynb", "3_inference_on_the_board.ipynb")


def test_notebooks_are_the_three_user_flows():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(ORDER)
    for name in ORDER:
        book = nbformat.read(NOTEBOOKS / name, as_version=4)
        tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name} needs exactly one parameters cell"
        assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), f"{name} is committed with outputs"


def test_notebooks_run_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("FPGABNN_NOTEBOOK_WORK", str(tmp_path / "work"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for name in ORDER:
        book = nbformat.read(NOTEBOOKS / name, as_version=4)
        NotebookClient(book, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        errors = [o for c in book.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors}"
    work = tmp_path / "work"
    assert (work / "tfc.onnx").is_file() and (work / "build_pynq-z2" / "driver" / "accel.json").is_file()
    text = " ".join(o.get("text", "") for c in book.cells for o in c.get("outputs", []))
    assert "driver == qonnx on the first 10 images" in text and "accuracy" in text
