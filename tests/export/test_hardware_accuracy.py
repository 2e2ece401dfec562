"""benchmarks/hardware_accuracy.py, the script behind accuracy.json's "hardware" rows: a checkpoint's test-set
labels on the RTL-simulated accelerator against PyTorch's, with the arg-max in hardware where the float tail
allows it and on the host (after the tail) where the build refuses --topk."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from test_cli_export import CONFIG, _checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import hardware_accuracy  # noqa: E402


def _run_dir(tmp_path, randomize, scaling, adversarial):
    """A run directory as the study writes it (<method>/seed0/last.pt) for an untrained TFC on digits."""
    run = tmp_path / "runs" / f"{scaling}-method" / "seed0"
    run.mkdir(parents=True)
    # adversarial: negative TensorNorm weight, learned scales with negative entries, so the tail is decreasing
    _checkpoint(run / "last.pt", randomize if adversarial else (lambda model: model),
                config={**CONFIG, "method": "baseline", "scaling": scaling})
    return run


@pytest.mark.parametrize("scaling, adversarial, argmax", [
    ("none", False, "hardware (--topk 1)"),
    ("learned", True, "host, after the build's float tail"),
], ids=["topk-in-hardware", "argmax-on-host"])
def test_hardware_rows_match_pytorch_image_by_image(tmp_path, capsys, randomize, scaling, adversarial, argmax):
    run = _run_dir(tmp_path, randomize, scaling, adversarial)
    results = tmp_path / "accuracy.json"
    results.write_text(json.dumps({"runs": [], "hardware": [
        {"model": "tfc", "dataset": "digits", "method": f"{scaling}-method", "images": 1, "hw_acc": 0.0},
        {"model": "sfc", "dataset": "mnist", "method": "baseline", "images": 10000, "hw_acc": 0.9},
    ]}))
    args = [str(run), "--study", "", "--results", str(results), "--images", "48", "--sim", "rtl",
            "--target-fps", "100000"]
    assert hardware_accuracy.main(args) == 0
    out = capsys.readouterr().out
    rows = json.loads(results.read_text())["hardware"]
    assert [(r["model"], r["method"]) for r in rows] == [("sfc", "baseline"), ("tfc", f"{scaling}-method")]
    row = rows[-1]  # the earlier row of the same model/dataset/method is replaced, others kept
    assert row["argmax"] == argmax and row["images"] == 48 and row["sim"] == "rtl"
    assert row["predictions_differing"] == 0 and row["hw_acc"] == row["torch_acc"]
    assert row["tlast_error"] == 0 and row["cycles_per_frame"] > 0
    if argmax.startswith("host"):  # the build's refusal, as one line, names why
        assert "no arg-max in hardware (--topk: " in out
    assert (run / "hw").is_dir() and (run / "hw_model.onnx").is_file()
