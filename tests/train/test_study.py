"""fpgabnn experiment: plan, skip finished runs, resume interrupted ones, accuracy.json shape, tuning on val."""

from __future__ import annotations

import json

import pytest

from fpgabnn.cli import main
from fpgabnn.errors import UserError
from fpgabnn.train import study as S

TINY = {"max_train_samples": 100, "max_val_samples": 60, "batch_size": 50, "width_scale": 0.25}


def _write(tmp_path, **extra):
    doc = {"out": str(tmp_path / "runs"), "results": str(tmp_path / "res" / "accuracy"), "seeds": [0, 1], "epochs": 1,
           "common": TINY, "methods": ["baseline", "rotation"], "cells": [{"model": "tfc", "dataset": "digits"}]}
    doc.update(extra)
    path = tmp_path / "study.json.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def test_study_runs_skips_finished_and_writes_the_issue_shape(tmp_path, capsys):
    path = _write(tmp_path)
    assert main(["experiment", str(path), "--no-progress"]) == 0
    doc = json.loads((tmp_path / "res" / "accuracy.json").read_text())
    assert set(doc) == {"runs", "hardware"}
    assert [r["method"] for r in doc["runs"]] == ["baseline", "rotation"]
    for r in doc["runs"]:
        assert {"model", "dataset", "method", "epochs", "seeds", "test_acc", "mean", "std", "train_minutes"} <= set(r)
        assert r["seeds"] == [0, 1] and len(r["test_acc"]) == 2 and all(0 <= a <= 1 for a in r["test_acc"])
        assert r["mean"] == pytest.approx(sum(r["test_acc"]) / 2)
    md = (tmp_path / "res" / "accuracy.md").read_text()
    assert "tfc on digits" in md and "+-" in md
    assert (tmp_path / "res" / "accuracy_tfc_digits_curves.png").read_bytes()[:4] == b"\x89PNG"

    # Finished runs are not redone: their checkpoints stay byte-identical and the plan says "done".
    ckpt = tmp_path / "runs" / "tfc" / "digits" / "baseline" / "seed0" / "last.pt"
    before = ckpt.stat().st_mtime_ns, ckpt.read_bytes()
    assert all(state == "done" for _, state in S.plan(S.load_study(path)))
    assert main(["experiment", str(path), "--no-progress"]) == 0
    assert (ckpt.stat().st_mtime_ns, ckpt.read_bytes()) == before

    # The hardware list written by another tool survives a rewrite of the results.
    doc["hardware"] = [{"model": "tfc", "dataset": "digits", "method": "baseline", "images": 1, "torch_acc": 1.0,
                        "hw_acc": 1.0, "sim": "c"}]
    (tmp_path / "res" / "accuracy.json").write_text(json.dumps(doc))
    S.write_results(S.load_study(path))
    assert json.loads((tmp_path / "res" / "accuracy.json").read_text())["hardware"] == doc["hardware"]


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    from fpgabnn.train.config import TrainConfig
    from fpgabnn.train.trainer import Trainer

    path = _write(tmp_path, epochs=2, seeds=[0], methods=["baseline"])
    study = S.load_study(path)
    (run, state), = S.plan(study)
    assert state == "new"
    # A run killed after its first epoch: last.pt of epoch 1, no test result.
    Trainer(TrainConfig.from_dict(run.config_dict()), progress=False, plots=False, log=lambda m: None).fit(stop_after_epoch=1)
    assert S.run_state(run) == "partial"
    S.run_study(study, progress=False, log=lambda m: None)
    summary = json.loads((run.out / "metrics.json").read_text())
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2] and summary["test"]

    # Same result as an uninterrupted run (the trainer resumes bit for bit).
    other = tmp_path / "straight"
    Trainer(TrainConfig.from_dict({**run.config_dict(), "out": str(other)}), progress=False, plots=False,
            log=lambda m: None).fit()
    straight = json.loads((other / "metrics.json").read_text())
    assert straight["test"]["test_acc"] == summary["test"]["test_acc"]


def test_changed_options_are_an_error_not_a_silent_reuse(tmp_path):
    path = _write(tmp_path, seeds=[0], methods=["baseline"])
    S.run_study(S.load_study(path), progress=False, log=lambda m: None)
    changed = _write(tmp_path, seeds=[0], methods=["baseline"], common={**TINY, "lr": 0.001})
    with pytest.raises(UserError, match="other options"):
        S.plan(S.load_study(changed))


def test_tuning_uses_validation_and_records_the_choice(tmp_path):
    cell = {"model": "tfc", "dataset": "digits", "tune": {"lr": [1e-4, 0.02]}}
    path = _write(tmp_path, seeds=[0], methods=["baseline"], cells=[cell])
    S.run_study(S.load_study(path), progress=False, log=lambda m: None)
    tune_dirs = sorted(p.name for p in (tmp_path / "runs" / "tfc" / "digits" / "baseline").iterdir())
    assert any(d.startswith("tune-lr=0.0001") for d in tune_dirs) and any(d.startswith("tune-lr=0.02") for d in tune_dirs)
    runs = json.loads((tmp_path / "res" / "accuracy.json").read_text())["runs"]
    vals = {}
    for lr in (1e-4, 0.02):
        d = next(p for p in (tmp_path / "runs" / "tfc" / "digits" / "baseline").iterdir() if p.name.startswith(f"tune-lr={lr}"))
        vals[lr] = json.loads((d / "metrics.json").read_text())["epochs"][-1]["val_acc"]
    assert runs[0]["chosen_on_validation"] == {"lr": max(vals, key=vals.get)}


def test_tune_with_one_method_gives_its_choice_to_every_method(tmp_path):
    cell = {"model": "tfc", "dataset": "digits", "tune": {"lr": [1e-4, 0.02]}, "tune_with": "baseline"}
    path = _write(tmp_path, seeds=[0], methods=["baseline", "xnor"], cells=[cell])
    study = S.load_study(path)
    assert [r.method for r, _ in S.plan(study)] == ["baseline", "baseline"]  # only baseline's tuning runs
    S.run_study(study, progress=False, log=lambda m: None)
    assert not any(p.name.startswith("tune-") for p in (tmp_path / "runs" / "tfc" / "digits" / "xnor").iterdir())
    rows = {r["method"]: r for r in json.loads((tmp_path / "res" / "accuracy.json").read_text())["runs"]}
    assert set(rows) == {"baseline", "xnor"}
    assert rows["xnor"]["chosen_on_validation"] == rows["baseline"]["chosen_on_validation"]
    lr = rows["xnor"]["chosen_on_validation"]["lr"]
    xnor_run = next((tmp_path / "runs" / "tfc" / "digits" / "xnor").iterdir())
    assert json.loads((xnor_run / "metrics.json").read_text())["config"]["lr"] == lr
    bad = _write(tmp_path, cells=[{**cell, "tune_with": "svd"}])
    with pytest.raises(UserError, match="tune_with 'svd' is not one of the cell's methods"):
        S.load_study(bad)


@pytest.mark.parametrize("doc, needle", [
    ({"cells": []}, "no cells"),
    ({"cells": [{"model": "tfc"}]}, "model and dataset"),
    ({"methods": ["magic"]}, "unknown method"),
    ({"common": {"lr": "fast"}}, "must be a number"),
    ({"cells": [{"model": "vgg", "dataset": "digits"}]}, "unknown model"),
    ({"colour": 1}, "unknown key"),
])
def test_bad_study_files_are_one_line_errors(tmp_path, capsys, doc, needle):
    path = _write(tmp_path, **doc)
    assert main(["experiment", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err
    assert not (tmp_path / "runs").exists()


def test_the_committed_study_files_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "benchmarks"
    for name in ("accuracy_study.yaml", "accuracy_smoke.yaml"):
        study = S.load_study(root / name)
        assert study.cells and all(len(c.seeds) >= 2 for c in study.cells)
    full = S.load_study(root / "accuracy_study.yaml")
    assert all(len(c.seeds) >= 3 for c in full.cells)


def test_the_committed_run_archive_is_what_the_study_would_train(tmp_path, monkeypatch):
    """Every archived run is one of the study's runs with the study's options (run_state raises otherwise), so
    a fresh clone resumes from it; and the committed results' rows come from it or are marked kept."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(tmp_path)  # no run directories here: only the archive can make a run finished
    study = S.load_study(root / "benchmarks" / "accuracy_study.yaml")
    study.archive = root / "benchmarks" / "results" / "accuracy_runs"
    covered = set()
    for c in study.cells:
        for m in c.methods:
            choice = S._choice_from_disk(study, c, m) if c.tune else None
            for r in S.tuning_runs(study, c, m) + (S.main_runs(study, c, m, choice) if choice or not c.tune else []):
                if S.run_state(r) == "done":
                    covered.add(r.archive)
    archived = {p.parent for p in study.archive.rglob("metrics.json")}
    assert archived and archived == covered
    rows = json.loads((root / "benchmarks" / "results" / "accuracy.json").read_text())["runs"]
    fresh = {(r["model"], r["dataset"], r["method"]): r for r in S.collect(study)}
    for row in rows:
        if not row.get("kept"):
            assert fresh[(row["model"], row["dataset"], row["method"])]["test_acc"] == row["test_acc"]


def test_rows_say_the_load_their_minutes_were_measured_under(tmp_path):
    path = _write(tmp_path, seeds=[0], methods=["baseline"])
    S.run_study(S.load_study(path), progress=False, log=lambda m: None)
    run = next((tmp_path / "runs" / "tfc" / "digits" / "baseline").iterdir())
    epochs = json.loads((run / "metrics.json").read_text())["epochs"]
    assert all(e["loadavg"] >= 0 for e in epochs)
    row = json.loads((tmp_path / "res" / "accuracy.json").read_text())["runs"][0]
    assert row["loadavg"] == pytest.approx(sum(e["loadavg"] for e in epochs) / len(epochs))
    md = (tmp_path / "res" / "accuracy.md").read_text()
    assert "| minutes/run | load |" in md and f"| {row['loadavg']:.1f} |" in md


def test_archived_runs_count_as_finished_on_a_fresh_machine(tmp_path):
    import shutil

    path = _write(tmp_path, seeds=[0], methods=["baseline"], cells=[
        {"model": "tfc", "dataset": "digits", "tune": {"lr": [0.001, 0.02]}, "tune_epochs": 1}])
    S.run_study(S.load_study(path), progress=False, log=lambda m: None)
    first = json.loads((tmp_path / "res" / "accuracy.json").read_text())
    archive = tmp_path / "res" / "accuracy_runs"
    archived = sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*.json"))
    assert "tfc/digits/baseline/seed0-lr=0.02/metrics.json" in archived or \
        "tfc/digits/baseline/seed0-lr=0.001/metrics.json" in archived
    assert len([a for a in archived if a.endswith("metrics.json")]) == 3  # two tuning runs and the main run
    assert all("out" not in json.loads((archive / a).read_text())["config"] for a in archived if a.endswith("metrics.json"))
    assert not list(archive.rglob("*.pt"))

    shutil.rmtree(tmp_path / "runs")  # a fresh clone: no run directories, only the committed archive
    study = S.load_study(path)
    assert all(state == "done" for _, state in S.plan(study))
    assert S.run_study(study, progress=False, log=lambda m: None)["errors"] == []
    assert not (tmp_path / "runs").exists()  # nothing was retrained
    again = json.loads((tmp_path / "res" / "accuracy.json").read_text())
    assert again["runs"] == first["runs"]
    assert (tmp_path / "res" / "accuracy_tfc_digits_curves.png").is_file()

    # The plan counts them as done too, at their measured minutes, with nothing left to estimate.
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import study_plan

    assert study_plan.main([str(path), "--out", str(tmp_path / "plan")]) == 0
    (row,) = json.loads((tmp_path / "plan" / "study_plan.json").read_text())["cells"][0]["methods"]
    assert row["runs"] == 3 and row["epochs_done"] == row["epochs_total"] == 3
    assert row["remaining_core_min_idle"] == 0

    # The archive holds the options: a changed study is still refused, not silently reused.
    changed = _write(tmp_path, seeds=[0], methods=["baseline"], cells=[
        {"model": "tfc", "dataset": "digits", "tune": {"lr": [0.001, 0.02]}, "tune_epochs": 1,
         "common": {"batch_size": 25}}])
    with pytest.raises(UserError, match="other options"):
        S.plan(S.load_study(changed))


def test_rows_whose_runs_are_elsewhere_are_kept_and_marked(tmp_path):
    path = _write(tmp_path, seeds=[0], methods=["baseline", "rotation"])
    res = tmp_path / "res"
    res.mkdir()
    kept = {"model": "tfc", "dataset": "digits", "method": "rotation", "epochs": 1, "seeds": [0, 1, 2],
            "test_acc": [0.5, 0.6, 0.7], "mean": 0.6, "std": 0.1, "train_minutes": 1.0}
    gone = {**kept, "method": "tucker"}  # no longer in the study: dropped
    (res / "accuracy.json").write_text(json.dumps({"runs": [kept, gone], "hardware": []}))
    S.run_study(S.load_study(path), progress=False, log=lambda m: None, only=["tfc/digits/baseline/*"])
    rows = json.loads((res / "accuracy.json").read_text())["runs"]
    assert [(r["method"], r.get("kept", False)) for r in rows] == [("baseline", False), ("rotation", True)]
    assert rows[1]["test_acc"] == kept["test_acc"]
    assert "rotation (kept)" in (res / "accuracy.md").read_text()
    # Once this machine has as many seeds, its own row replaces the kept one.
    S.run_study(S.load_study(_write(tmp_path, seeds=[0, 1, 2], methods=["baseline", "rotation"])),
                progress=False, log=lambda m: None, only=["tfc/digits/rotation/*"])
    rows = json.loads((res / "accuracy.json").read_text())["runs"]
    assert not any(r.get("kept") for r in rows if r["method"] == "rotation")


def test_tuned_cells_train_seed_by_seed(tmp_path, monkeypatch):
    """A study stopped early has every method's first seed: main runs of a tuned cell go seed by seed too."""
    order = []
    real = S._execute_quiet

    def recording(run, threads):
        order.append((run.method, "tune" if run.tune else run.seed))
        return real(run, threads)

    monkeypatch.setattr(S, "_execute_quiet", recording)
    path = _write(tmp_path, seeds=[0, 1], methods=["baseline", "rotation"], cells=[
        {"model": "tfc", "dataset": "digits", "tune": {"lr": [0.02]}, "tune_with": "baseline"}])
    S.run_study(S.load_study(path), progress=False, log=lambda m: None)
    assert order == [("baseline", "tune"), ("baseline", 0), ("rotation", 0), ("baseline", 1), ("rotation", 1)]
