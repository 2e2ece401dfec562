"""Checkpoints: plain dicts of tensors and Python values, written atomically, read with weights_only.

Layout (``CHECKPOINT_VERSION`` 1)::

    format, version          "fpgabnn-checkpoint", 1
    model_config             build_model(**model_config) rebuilds the network (export relies on it)
    model_state              model.state_dict()
    optimizer, scheduler     optimizer.state_dict(); {"name", "base_lr", "warmup_steps", "total_steps"}
    epoch, global_step       epochs completed and optimiser steps taken when the file was written
    epoch_complete           False for a Ctrl-C checkpoint written mid-epoch
    rng                      torch / numpy / python generator states, as tensors
    dataset                  name, data_dir, val_fraction, split seed, sample caps, augment
    train_config             TrainConfig.to_dict() (what ``--resume`` continues)
    initial_binary_weights   {layer: int8 tensor of +-1} at step 0, for flip-rate analysis
    history, best_val_acc    per-epoch metrics so far

Everything is a tensor or a plain container of str/int/float/bool/None, so ``torch.load(...,
weights_only=True)`` can read it: a checkpoint cannot execute code when it is opened.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import torch

from fpgabnn.core.fileio import atomic_write_bytes
from fpgabnn.errors import UserError

CHECKPOINT_FORMAT = "fpgabnn-checkpoint"
CHECKPOINT_VERSION = 1
REQUIRED_KEYS = ("model_config", "model_state", "epoch", "global_step", "train_config")


def rng_state() -> dict:
    """The three global generators' states, as tensors."""
    _, mt, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "mt": torch.from_numpy(np.asarray(mt, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {
            "version": int(version),
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss": py_gauss,
        },
    }


def set_rng_state(state: dict) -> None:
    """Restore what ``rng_state`` captured."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["mt"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))


def checkpoint_bytes(payload: dict) -> bytes:
    """Serialise once, so last.pt and best.pt can share the same bytes."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **payload}, buffer)
    return buffer.getvalue()


def save_checkpoint(path: str | Path, payload: dict | bytes) -> None:
    """Write through a temporary file and ``os.replace``: a crash leaves the previous file intact."""
    data = payload if isinstance(payload, bytes) else checkpoint_bytes(payload)
    atomic_write_bytes(Path(path), data)


def load_checkpoint(path: str | Path) -> dict:
    """Read and validate a checkpoint; any problem becomes a one-line ``UserError``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} not found; pass a last.pt/best.pt written by fpgabnn train")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a damaged/foreign file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot read checkpoint {path} ({first[:160]}); it is damaged or not an fpgabnn checkpoint") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path} is not an fpgabnn checkpoint; pass a last.pt/best.pt written by fpgabnn train")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise UserError(f"{path} has checkpoint version {ckpt.get('version')}, this fpgabnn reads {CHECKPOINT_VERSION}")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise UserError(f"checkpoint {path} lacks {', '.join(missing)}; it is incomplete, use another checkpoint")
    return ckpt


def model_from_checkpoint(ckpt: dict, path: str | Path = "checkpoint"):
    """Rebuild the network of ``ckpt`` and load its weights (eval mode)."""
    from fpgabnn.train.models import build_model

    config = dict(ckpt["model_config"])
    name = config.pop("name")
    try:
        model = build_model(name, **config)
        model.load_state_dict(ckpt["model_state"])
    except (RuntimeError, KeyError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"the weights in {path} do not fit model {name!r} ({first[:160]}); the checkpoint is damaged") from None
    return model.eval()
