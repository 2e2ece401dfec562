"""`fpgabnn train` and `fpgabnn inspect` from the command line: help, config files, one-line errors."""

from __future__ import annotations

import json

import pytest
import torch

from fpgabnn.cli import main

TINY = ["--model", "tfc", "--dataset", "mnist", "--max-train-samples", "256", "--no-progress"]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize("command", ["train", "inspect"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text
    if command == "train":
        for flag in ("--method-option", "--resume", "--config", "--act-grad", "--warmup-epochs", "--workers"):
            assert flag in text


def test_help_lists_match_the_code():
    from fpgabnn.commands import train as cmd
    from fpgabnn.train.data import DATASETS
    from fpgabnn.train.models import MODELS
    from fpgabnn.train.parametrize import METHODS
    from fpgabnn.train.sign import GRAD_APPROXIMATIONS

    assert cmd.MODEL_NAMES == tuple(MODELS) and cmd.METHOD_NAMES == tuple(METHODS)
    assert cmd.DATASET_NAMES == DATASETS and cmd.GRAD_NAMES == tuple(GRAD_APPROXIMATIONS)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--model", "vgg16", "--dataset", "mnist"], "unknown model"),
        (["--model", "tfc", "--method", "prune", "--dataset", "mnist"], "unknown method"),
        (["--model", "tfc", "--dataset", "imagenet"], "unknown dataset"),
        (["--model", "tfc", "--dataset", "cifar10"], "--data-dir"),
        (["--model", "tfc", "--dataset", "svhn", "--data-dir", "/nonexistent/svhn"], "train_32x32.mat"),
        (["--model", "tfc", "--dataset", "mnist", "--lr", "fast"], "must be a number"),
        (["--model", "tfc", "--dataset", "mnist", "--weight-grad", "magic"], "unknown weight grad"),
        (["--model", "tfc", "--dataset", "mnist", "--optimizer", "rmsprop"], "unknown optimizer"),
        (["--model", "tfc", "--dataset", "mnist", "--method", "svd", "--method-option", "rank=0"], "svd rank"),
        (["--model", "tfc", "--dataset", "mnist", "--method-option", "rank_ratio"], "KEY=VALUE"),
        (["--model", "tfc", "--dataset", "mnist", "--config", "/nonexistent.yaml"], "not found"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, args, needle):
    out = tmp_path / "run"
    assert main(["train", *args, "--epochs", "1", "--out", str(out)]) == 2
    assert needle in _one_line_error(capsys)
    assert not out.exists()


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", *TINY, "--epochs", "1", "--out", str(blocker / "run")]) == 2
    assert "--out" in _one_line_error(capsys)
    assert blocker.read_text() == "x"


def test_config_file_cli_override_resume_and_inspect(tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: tfc\ndataset: mnist\nepochs: 1\nlr: 1e-2\nmax-train-samples: 256\nmethod_options: {}\n")
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--lr", "0.002", "--out", str(out), "--no-progress"]) == 0
    assert "best val acc" in capsys.readouterr().out
    saved = json.loads((out / "metrics.json").read_text())["config"]
    assert saved["lr"] == 0.002 and saved["epochs"] == 1 and saved["optimizer"] == "adam"

    # An existing run is not overwritten without --resume; --resume with another model is refused.
    before = (out / "last.pt").read_bytes()
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 2
    assert "--resume" in _one_line_error(capsys)
    assert main(["train", "--model", "lfc", "--out", str(out), "--resume"]) == 2
    assert "model='tfc'" in _one_line_error(capsys)
    assert (out / "last.pt").read_bytes() == before

    # Extending the run by one epoch.
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 0
    capsys.readouterr()
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 2
    assert len((out / "metrics.csv").read_text().splitlines()) == 3

    assert main(["inspect", str(out / "last.pt")]) == 0
    table = capsys.readouterr().out
    assert "flip rate" in table
    report = json.loads((out / "inspect" / "inspect.json").read_text())
    assert report["layers"] and all(0 <= la["flip_rate"] <= 1 for la in report["layers"])
    assert all(0 <= la["angle_deg"] <= 90 for la in report["layers"])
    for png in ("layers.png", "latent_hist.png"):
        assert (out / "inspect" / png).read_bytes()[:4] == b"\x89PNG"


def test_inspect_rejects_non_checkpoints(tmp_path, capsys):
    bogus = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(3)}, bogus)
    assert main(["inspect", str(bogus)]) == 2
    assert "not an fpgabnn checkpoint" in _one_line_error(capsys)
    assert main(["inspect", str(tmp_path / "missing.pt")]) == 2
    assert "not found" in _one_line_error(capsys)
    assert not (tmp_path / "inspect").exists()
