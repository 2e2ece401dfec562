"""The training loop: deterministic on CPU, checkpointed every epoch, resumable bit for bit.

Why it is exactly resumable: all randomness that depends on the position in training is derived
from (seed, epoch, batch index) -- the epoch's sample order and each batch's augmentation -- and
the learning rate is a pure function of the global step. A checkpoint at an epoch boundary
therefore holds everything the rest of the run depends on: model (incl. rotation buffers),
optimiser, step counter and the global RNG states. ``fit(stop_after_epoch=N)`` followed by a
resumed ``fit()`` gives the same weights as one uninterrupted ``fit()``.

Ctrl-C: the first SIGINT lets the running optimiser step finish, then writes ``last.pt`` with the
state after that step, marked ``epoch_complete=False``, and raises ``KeyboardInterrupt``. Resuming
from it restarts the interrupted epoch from its first batch (with the weights reached so far and
the learning-rate schedule rewound to the epoch's start): usable, but no longer bit-identical to
an uninterrupted run. A second Ctrl-C aborts at once (the last epoch-boundary checkpoint stays).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fpgabnn.core.fileio import atomic_write_bytes, jsonable
from fpgabnn.errors import UserError
from fpgabnn.train import checkpoint as ckpt_io
from fpgabnn.train.config import RESUMABLE_OVERRIDES, TrainConfig
from fpgabnn.train.data import ArrayDataset, load_dataset

METRIC_COLUMNS = (
    "epoch", "global_step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "sign_t", "sign_k",
    "flip_rate", "quant_error", "epoch_time", "rotation_time", "loadavg",
)
EVAL_BATCH = 1000


# --------------------------------------------------------------------------------------------
# Learning-rate schedule: a pure function of the step, so it needs no state to resume.


@dataclass(frozen=True)
class LRSchedule:
    """Linear warm-up, then cosine to 0, steps (x0.1 at 50% and 75%) or constant."""

    name: str
    base_lr: float
    warmup_steps: int
    total_steps: int

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        if self.name == "cosine":
            return self.base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
        if self.name == "step":
            return self.base_lr * (0.1 ** ((progress >= 0.5) + (progress >= 0.75)))
        return self.base_lr

    def to_dict(self) -> dict:
        return {"name": self.name, "base_lr": self.base_lr, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}


# --------------------------------------------------------------------------------------------
# Batches: a Dataset of whole batches, each fully determined by (seed, epoch, batch index).


def _mix(*values: int) -> int:
    return int(np.random.SeedSequence([int(v) for v in values]).generate_state(1, dtype=np.uint64)[0] >> 1)


class EpochBatches(torch.utils.data.Dataset):
    """Batch ``b`` of epoch ``epoch``: shuffled indices and augmentation from seeded generators.

    Served through a ``DataLoader(batch_size=None)``, the batches are identical for any number of
    worker processes, and do not touch the global RNG.
    """

    def __init__(self, data: ArrayDataset, batch_size: int, seed: int, epoch: int):
        self.data, self.batch_size, self.seed, self.epoch = data, batch_size, seed, epoch
        gen = torch.Generator().manual_seed(_mix(seed, epoch, 0xDA7A))
        self.order = torch.randperm(len(data), generator=gen)
        # Drop a ragged last batch when there is more than one batch: BatchNorm needs >1 sample.
        n = len(data)
        self.count = n // batch_size if n >= batch_size else 1

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, b: int):
        if not 0 <= b < self.count:
            raise IndexError(b)
        idx = self.order[b * self.batch_size : (b + 1) * self.batch_size]
        gen = torch.Generator().manual_seed(_mix(self.seed, self.epoch, b, 0xA06))
        return self.data.batch(idx, gen)


# --------------------------------------------------------------------------------------------
# The trainer


@dataclass
class TrainResult:
    out: Path
    history: list = field(default_factory=list)
    best_val_acc: float = float("nan")
    test: dict | None = None


class Trainer:
    """One training run: ``Trainer(config).fit()``; ``Trainer(config, resume=True).fit()`` continues it."""

    def __init__(
        self,
        config: TrainConfig,
        resume: bool = False,
        explicit: set[str] | None = None,
        progress: bool | None = None,
        log=None,
        plots: bool = True,
    ):
        """``explicit``: option names the user gave (for ``resume``: they must match the stored run).

        Without it, every option that differs from ``TrainConfig()``'s default counts as given.
        ``progress``: None shows a bar only on a terminal. ``plots``: write curves.png each epoch.
        """
        self.resume = resume
        self.progress = progress
        self.plots = plots
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        if not config.out:
            raise UserError("--out is required (on the command line or in --config)")
        self.out = Path(config.out)
        self._interrupted = False
        if resume:
            self._check_out_dir()
            self._resume_state = self._load_resume_state(config, explicit)
        else:
            self.config = config.resolve()
            self._check_out_dir()
            self._resume_state = None
        self.device = torch.device(self.config.device)

    # ---- validation before anything is written -------------------------------------------------
    def _check_out_dir(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise UserError(f"--out {out} is a file; choose a directory")
        if not self.resume and out.is_dir() and any((out / n).exists() for n in ("last.pt", "metrics.csv", "metrics.json")):
            raise UserError(f"{out} already holds a training run; add --resume to continue it or choose another --out")
        probe = out
        while not probe.exists():
            probe = probe.parent
        if not os.access(probe, os.W_OK | os.X_OK):
            raise UserError(f"output directory {out} is not writable; choose a writable --out")

    def _load_resume_state(self, given: TrainConfig, explicit: set[str] | None) -> dict:
        path = self.out / "last.pt"
        if not path.is_file():
            raise UserError(f"--resume: {path} not found; train into {self.out} first, or drop --resume")
        state = ckpt_io.load_checkpoint(path)
        try:
            saved = TrainConfig.from_dict(state["train_config"], str(path))
        except TypeError:
            raise UserError(f"--resume: {path} holds an unreadable training configuration; use another --out") from None
        if explicit is None:
            default = TrainConfig()
            explicit = {k for k, v in given.to_dict().items() if v != getattr(default, k)}
        # The stored run decides; only where/how-long options may change.
        for k in sorted(explicit):
            if k in RESUMABLE_OVERRIDES:
                if getattr(given, k) is not None:
                    setattr(saved, k, getattr(given, k))
            elif getattr(given, k) != getattr(saved, k):
                raise UserError(
                    f"--resume: {path} was trained with {k.replace('_', '-')}={getattr(saved, k)!r}, "
                    f"not {getattr(given, k)!r}; drop that option or use another --out"
                )
        saved.out = str(self.out)
        self.config = saved.resolve()
        if self.config.epochs < state["epoch"]:
            raise UserError(f"--resume: {path} has already trained {state['epoch']} epochs, more than --epochs {self.config.epochs}")
        return state

    # ---- building blocks ---------------------------------------------------------------------
    def model_config(self, info) -> dict:
        c = self.config
        return {
            "name": c.model,
            "method": c.method,
            "scaling": c.scaling,
            "weight_grad": c.weight_grad,
            "act_grad": c.act_grad,
            "input_bits": c.input_bits,
            "in_channels": info.channels,
            "num_classes": info.classes,
            "image_size": info.size,
            "method_options": dict(c.method_options),
            "aux": c.aux,
            "aux_stop_grad": c.aux_stop_grad,
            "real_ends": bool(c.real_ends),
            "act_standardise": c.act_standardise,
            "width_scale": c.width_scale,
        }

    def dataset_config(self) -> dict:
        c = self.config
        return {
            "name": c.dataset,
            "data_dir": c.data_dir,
            "val_fraction": c.val_fraction,
            "split_seed": 0,
            "max_train_samples": c.max_train_samples,
            "max_val_samples": c.max_val_samples,
            "augment": c.augment,
            "pad_to": c.pad_to,
        }

    def _load_data(self):
        c = self.config
        common = {"data_dir": c.data_dir, "val_fraction": c.val_fraction, "seed": 0, "pad_to": c.pad_to}
        train = load_dataset(c.dataset, split="train", max_samples=c.max_train_samples, augment=c.augment, **common)
        val = None
        if c.val_fraction > 0:
            val = load_dataset(c.dataset, split="val", max_samples=c.max_val_samples, **common)
        return train, val

    def _build_model(self, model_config: dict):
        from fpgabnn.train.models import build_model

        kwargs = dict(model_config)
        name = kwargs.pop("name")
        try:
            return build_model(name, **kwargs)
        except UserError:
            raise
        except (ValueError, TypeError, KeyError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"cannot build model {name!r} with method {kwargs.get('method')!r}: {first}") from None

    def _optimizer(self, model) -> torch.optim.Optimizer:
        c = self.config
        params = [p for p in model.parameters() if p.requires_grad]
        if c.optimizer == "sgd":
            return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
        if c.factor_lr_scale:
            return torch.optim.Adam(_factor_groups(model, params), lr=c.lr, weight_decay=c.weight_decay)
        return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)

    # ---- the run -------------------------------------------------------------------------------
    def fit(self, stop_after_epoch: int | None = None) -> TrainResult:
        """Train to ``config.epochs`` (or stop after epoch ``stop_after_epoch``, resumable)."""
        c = self.config
        train_data, val_data = self._load_data()
        info = train_data.info

        random.seed(c.seed)
        np.random.seed(c.seed)
        torch.manual_seed(c.seed)
        model_config = self.model_config(info)
        if self._resume_state is not None:
            model_config = dict(self._resume_state["model_config"])
        model = self._build_model(model_config).to(self.device)
        optimizer = self._optimizer(model)
        steps_per_epoch = len(EpochBatches(train_data, c.batch_size, c.seed, 0))
        schedule = LRSchedule(
            c.schedule, c.lr, int(round(c.warmup_epochs * steps_per_epoch)), c.epochs * steps_per_epoch
        )

        from fpgabnn.train.inspect import binary_snapshot, weight_statistics

        if self._resume_state is None:
            start_epoch, global_step, history, best = 0, 0, [], float("-inf")
            initial = binary_snapshot(model)
        else:
            s = self._resume_state
            try:
                model.load_state_dict(s["model_state"])
                optimizer.load_state_dict(s["optimizer"])
            except (RuntimeError, KeyError, ValueError) as err:
                first = str(err).strip().splitlines()[0]
                raise UserError(f"--resume: {self.out / 'last.pt'} does not fit this model ({first[:160]}); use another --out") from None
            start_epoch, history = int(s["epoch"]), list(s.get("history", []))
            best = float(s.get("best_val_acc", float("-inf")))
            initial = s["initial_binary_weights"]
            # A mid-epoch (Ctrl-C) checkpoint restarts its epoch: rewind the schedule to its start.
            if s.get("epoch_complete", True):
                global_step = int(s["global_step"])
            else:
                global_step = int(s.get("epoch_start_step", start_epoch * steps_per_epoch))
            ckpt_io.set_rng_state(s["rng"])

        _make_writable_dir(self.out)
        state = {"model": model, "optimizer": optimizer, "schedule": schedule, "model_config": model_config,
                 "initial": initial, "history": history, "best": best}

        end_epoch = c.epochs if stop_after_epoch is None else min(c.epochs, stop_after_epoch)
        with self._sigint_guard(), _deterministic():
            for epoch in range(start_epoch, end_epoch):
                row, global_step = self._train_epoch(state, train_data, val_data, epoch, global_step)
                row.update(weight_statistics(model, initial))
                history.append(row)
                improved = val_data is None or row["val_acc"] > state["best"]
                if improved:
                    state["best"] = row["val_acc"] if val_data is not None else row["train_acc"]
                data = ckpt_io.checkpoint_bytes(self._payload(state, epoch + 1, global_step, True))
                ckpt_io.save_checkpoint(self.out / "last.pt", data)
                if improved:
                    ckpt_io.save_checkpoint(self.out / "best.pt", data)
                self._write_metrics(history, state["best"], None)
                self.log(_epoch_line(row, c.epochs))
                if self._interrupted:  # Ctrl-C during evaluation or saving: the epoch is complete and saved
                    self.log(f"interrupted after epoch {epoch + 1}; --resume continues exactly from {self.out / 'last.pt'}")
                    raise KeyboardInterrupt

        result = TrainResult(self.out, history, state["best"])
        if end_epoch == c.epochs and start_epoch <= end_epoch:
            result.test = self._test(model)
            self._write_metrics(history, state["best"], result.test, plot=False)
        return result

    def _train_epoch(self, state, train_data, val_data, epoch: int, global_step: int):
        from fpgabnn.train.parametrize import rotation_update
        from fpgabnn.train.sign import schedule as sign_schedule
        from fpgabnn.train.sign import set_sign_progress

        c, model, optimizer, schedule = self.config, state["model"], state["optimizer"], state["schedule"]
        set_sign_progress(model, epoch, c.epochs)
        t, k = sign_schedule(c.weight_grad, "weight", epoch, c.epochs)  # logged: the weights' (t, k)

        batches = EpochBatches(train_data, c.batch_size, c.seed, epoch)
        # Its own generator: creating the loader's iterator must not draw from the global RNG.
        loader = torch.utils.data.DataLoader(
            batches, batch_size=None, shuffle=False, num_workers=c.workers,
            generator=torch.Generator().manual_seed(_mix(c.seed, epoch, 0x10AD)),
        )
        model.train()
        start = time.perf_counter()
        rotation_time = 0.0
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = seen = 0
        lr = schedule(global_step)
        bar = _progress(loader, f"epoch {epoch + 1}/{c.epochs}", self.progress)
        epoch_start_step = global_step
        try:
            for b, (x, y) in enumerate(bar):
                x, y = x.to(self.device), y.to(self.device)
                if b == 0:
                    r0 = time.perf_counter()
                    rotation_update(model)
                    rotation_time = time.perf_counter() - r0
                lr = schedule(global_step)
                for group in optimizer.param_groups:
                    group["lr"] = lr * group.get("lr_scale", 1.0)
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                total = loss + c.aux_weight * _aux_loss(model, logits, y) if c.aux else loss
                optimizer.zero_grad(set_to_none=True)
                total.backward()
                optimizer.step()
                if c.clip_weights:
                    _clip_latent_weights(model)
                global_step += 1
                with torch.no_grad():
                    loss_sum += loss.detach().double() * len(y)
                    correct += int((logits.argmax(1) == y).sum())
                    seen += len(y)
                if hasattr(bar, "set_postfix") and b % 10 == 0:
                    bar.set_postfix(loss=f"{float(loss.detach()):.3f}", lr=f"{lr:.2e}")
                if self._interrupted:
                    self._save_interrupted(state, epoch, epoch_start_step, global_step)
        except RuntimeError:
            # With --workers, Ctrl-C also ends the loader's worker processes: stop cleanly all the same.
            if self._interrupted:
                self._save_interrupted(state, epoch, epoch_start_step, global_step)
            raise
        train_time = time.perf_counter() - start
        val_loss, val_acc = self.evaluate(model, val_data) if val_data is not None else (float("nan"), float("nan"))
        row = {
            "epoch": epoch + 1,
            "global_step": global_step,
            "train_loss": float(loss_sum) / max(seen, 1),
            "train_acc": correct / max(seen, 1),
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
            "sign_t": t,
            "sign_k": k,
            "epoch_time": train_time,
            "rotation_time": rotation_time,
            # the machine's 1-minute load average at the epoch's end: epoch_time is wall time, inflated by load
            "loadavg": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
        }
        return row, global_step

    @torch.no_grad()
    def evaluate(self, model, data: ArrayDataset) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) in eval mode."""
        model.eval()
        loss_sum, correct = 0.0, 0
        for i in range(0, len(data), EVAL_BATCH):
            idx = torch.arange(i, min(i + EVAL_BATCH, len(data)))
            x, y = data.images[idx].float().to(self.device), data.labels[idx].to(self.device)
            logits = model(x)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
        model.train()
        return loss_sum / len(data), correct / len(data)

    def _test(self, model) -> dict | None:
        c = self.config
        try:
            test = load_dataset(c.dataset, data_dir=c.data_dir, split="test", max_samples=c.max_val_samples,
                                pad_to=c.pad_to)
        except UserError as err:
            self.log(f"no test evaluation: {err}")
            return None
        loss, acc = self.evaluate(model, test)
        self.log(f"test: loss {loss:.4f} acc {acc:.4f} ({len(test)} samples, last epoch's weights)")
        return {"test_loss": loss, "test_acc": acc, "samples": len(test)}

    # ---- outputs -----------------------------------------------------------------------------
    def _payload(self, state, epoch: int, global_step: int, complete: bool) -> dict:
        return {
            "model_config": state["model_config"],
            "model_state": state["model"].state_dict(),
            "optimizer": state["optimizer"].state_dict(),
            "scheduler": {**state["schedule"].to_dict(), "step": global_step},
            "epoch": epoch,
            "global_step": global_step,
            "epoch_complete": complete,
            "rng": ckpt_io.rng_state(),
            "dataset": self.dataset_config(),
            "train_config": self.config.to_dict(),
            "initial_binary_weights": state["initial"],
            "history": [dict(r) for r in state["history"]],
            "best_val_acc": float(state["best"]),
        }

    def _save_interrupted(self, state, epoch: int, epoch_start_step: int, global_step: int):
        payload = self._payload(state, epoch, global_step, False)
        payload["epoch_start_step"] = epoch_start_step
        ckpt_io.save_checkpoint(self.out / "last.pt", payload)
        self.log(f"interrupted in epoch {epoch + 1} after step {global_step}; saved {self.out / 'last.pt'} "
                 f"(--resume restarts epoch {epoch + 1})")
        raise KeyboardInterrupt

    def _write_metrics(self, history: list, best: float, test: dict | None, plot: bool = True) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow({k: row.get(k, "") for k in METRIC_COLUMNS})
        atomic_write_bytes(self.out / "metrics.csv", text.getvalue().encode())
        summary = {
            "config": self.config.to_dict(),
            "dataset": self.dataset_config(),
            "epochs": history,
            "best_val_acc": None if not math.isfinite(best) else best,
            "test": test,
        }
        atomic_write_bytes(self.out / "metrics.json", (json.dumps(jsonable(summary), indent=1) + "\n").encode())
        if not (plot and self.plots):
            return
        from fpgabnn.train.plots import plot_curves

        atomic_write_bytes(self.out / "curves.png", plot_curves(history, title=f"{self.config.model} / {self.config.method}"))

    @contextlib.contextmanager
    def _sigint_guard(self):
        """First Ctrl-C: finish the step, save, stop. Second: the default behaviour."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            self._interrupted = True
            signal.signal(signal.SIGINT, signal.default_int_handler)

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def request_stop(self) -> None:
        """What Ctrl-C does: stop after the current step, saving a mid-epoch checkpoint."""
        self._interrupted = True


def train(config: TrainConfig, resume: bool = False, stop_after_epoch: int | None = None, **trainer_kwargs) -> TrainResult:
    """Convenience wrapper: ``Trainer(config, resume, ...).fit(stop_after_epoch)``."""
    return Trainer(config, resume=resume, **trainer_kwargs).fit(stop_after_epoch)


def _make_writable_dir(path: Path) -> None:
    """Create the run directory and prove it writable (os.access says yes to root everywhere)."""
    import tempfile

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise UserError(f"cannot write to --out {path}: {err.strerror or err}; choose a writable directory") from None


@contextlib.contextmanager
def _deterministic():
    """Deterministic kernels during training only; the process-wide flag is restored afterwards."""
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


@torch.no_grad()
def _factor_groups(model, params) -> list[dict]:
    """Adam moves every entry by about lr per step whatever its size: SVD/Tucker factors (entries ~ 1/sqrt(n))
    would be rewritten within a few steps at a plain weight's lr. Each factor gets lr * rms(factor) / rms(latent),
    the relative rate of a plain weight."""
    from torch.nn.utils import parametrize as P

    from fpgabnn.train.parametrize import HolisticTuckerWeight, SVDWeight, TuckerWeight

    def rms(t) -> float:
        return float(t.detach().square().mean().sqrt())

    scaled: dict[int, float] = {}
    groups: dict[int, tuple] = {}  # holistic Tucker: shared core and factors, referenced by every layer of a group
    for layer in model.binary_layers():
        if not P.is_parametrized(layer, "weight"):
            continue
        chain = layer.parametrizations.weight
        if not isinstance(chain[0], (SVDWeight, TuckerWeight, HolisticTuckerWeight)):
            continue
        ref = rms(layer.weight) or 1.0
        originals = [chain.original] if chain.is_tensor else [getattr(chain, f"original{i}") for i in range(chain.ntensors)]
        for t in originals:  # SVD's U, s, V; Tucker's core and factors; a holistic layer's row of U_L
            scaled[id(t)] = rms(t) / ref
        if isinstance(chain[0], HolisticTuckerWeight):
            group = chain[0].group
            groups.setdefault(id(group), (group, []))[1].append(float(layer.weight.detach().square().mean()))
    for group, mean_squares in groups.values():
        # the shared tensors move every layer of the group: the reference is the group's latent RMS
        ref = (sum(mean_squares) / len(mean_squares)) ** 0.5 or 1.0
        for t in [group.core, *group.factors]:
            scaled[id(t)] = rms(t) / ref
    groups = [{"params": [p for p in params if id(p) not in scaled], "lr_scale": 1.0}]
    groups += [{"params": [p], "lr_scale": scaled[id(p)]} for p in params if id(p) in scaled]
    return groups


@torch.no_grad()
def _clip_latent_weights(model) -> None:
    """BinaryNet's clip: plain latent weights back into [-1, 1] (re-parametrised layers' tensors are not weights)."""
    from torch.nn.utils import parametrize as P

    for layer in model.binary_layers():
        if not P.is_parametrized(layer, "weight"):
            layer.weight.clamp_(-1.0, 1.0)


def _aux_loss(model, logits, targets):
    """The optional latent-weight branch's loss (docs/methods.md section 5), if the model has one."""
    if not hasattr(model, "aux_loss"):
        return torch.zeros((), device=logits.device)
    return model.aux_loss(logits, targets)


def _progress(iterable, desc: str, enabled: bool | None):
    from tqdm.auto import tqdm

    # disable=None: shown only on a terminal, so logs and tests stay clean.
    return tqdm(iterable, desc=desc, leave=False, disable=None if enabled is None else not enabled, file=sys.stderr)


def _epoch_line(row: dict, epochs: int) -> str:
    return (
        f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | "
        f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f} | lr {row['lr']:.3g} | "
        f"flips {row.get('flip_rate', float('nan')):.3f} | {row['epoch_time']:.1f}s"
    )
