"""`fpgabnn export`: checkpoint -> checked QONNX file; bad inputs give one line, exit 2, nothing overwritten."""

from __future__ import annotations

import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper

from fpgabnn.cli import main
from fpgabnn.train.checkpoint import save_checkpoint
from fpgabnn.train.models import build_model

CONFIG = {"name": "tfc", "method": "svd", "scaling": "learned", "weight_grad": "ste", "act_grad": "ste",
          "input_bits": 8, "in_channels": 1, "num_classes": 10, "image_size": 28, "method_options": {}, "aux": False}


def _checkpoint(path, randomize, config=CONFIG, dataset="digits", state_of=None):
    kwargs = dict(config)
    name = kwargs.pop("name")
    torch.manual_seed(0)
    model = randomize(build_model(state_of or name, **kwargs))
    save_checkpoint(path, {
        "model_config": config, "model_state": model.state_dict(), "epoch": 1, "global_step": 10,
        "train_config": {"model": name, "dataset": dataset, "seed": 0, "data_dir": None},
        "dataset": {"name": dataset, "data_dir": None, "val_fraction": 0.1,
                                                     "split_seed": 0},
    })
    return path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize("dataset, source", [("digits", "digits test images"), ("cifar10", "random images")])
def test_export_checkpoint(tmp_path, capsys, randomize, dataset, source):
    """Samples from the checkpoint's data set; random pixels when it is not available (cifar10 has no --data-dir)."""
    ckpt = _checkpoint(tmp_path / "last.pt", randomize, dataset=dataset)
    out = tmp_path / "out" / "tfc.onnx"
    assert main(["export", str(ckpt), "-o", str(out), "--samples", "6"]) == 0
    text = capsys.readouterr().out
    assert f"checked on 6 {source}" in text and "4/4 layers bit-exact" in text and "0 class mismatches" in text
    wrapper = ModelWrapper(str(out))
    assert sum(n.op_type == "BipolarQuant" for n in wrapper.graph.node) == 4 + 3  # weights + activations


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["export", "--help"])
    assert info.value.code == 0 and "examples:" in capsys.readouterr().out


@pytest.mark.parametrize("problem", ["corrupt", "missing", "other-model", "unwritable", "samples", "directory"])
def test_bad_input_one_line_exit_2_nothing_overwritten(tmp_path, capsys, randomize, problem):
    ckpt = tmp_path / "last.pt"
    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous")
    args = ["export", str(ckpt), "-o", str(out)]
    if problem == "corrupt":
        ckpt.write_bytes(b"\x00not a checkpoint" * 10)
    elif problem == "other-model":  # config says sfc, weights are tfc's
        _checkpoint(ckpt, randomize, config={**CONFIG, "name": "sfc"}, state_of="tfc")
    else:
        _checkpoint(ckpt, randomize)
    if problem == "missing":
        args[1] = str(tmp_path / "nope.pt")
    elif problem == "unwritable":  # the output's parent is a file
        args[3] = str(tmp_path / "model.onnx" / "x.onnx")
    elif problem == "samples":
        args += ["--samples", "0"]
    elif problem == "directory":
        args[3] = str(tmp_path)
    assert main(args) == 2
    _one_line_error(capsys)
    assert out.read_bytes() == b"previous"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
