"""Training options: one dataclass, filled from defaults < config file < command line.

Option names are the same everywhere: ``--weight-decay`` on the command line, ``weight-decay``
or ``weight_decay`` in a YAML/TOML file, ``TrainConfig.weight_decay`` in Python. Options left
unset (``None``) get defaults that depend on the model (see ``resolve``), so a file or a flag
only has to say what differs.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, packaged as tomli
    import tomli as tomllib

from fpgabnn.errors import UserError

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "step", "none")
SCALINGS = ("none", "analytic", "learned")
AUX_STOP_GRADS = ("none", "real", "binary")
# Names listed in help text without importing torch (tests check they match the code).
MODEL_NAMES = ("tfc", "sfc", "lfc", "cnv", "cnv28", "resnet20", "resnet20-bireal", "resnet20-preact")
METHOD_NAMES = ("baseline", "svd", "tucker", "holistic-tucker", "rotation", "tucker-rotation")
DATASET_NAMES = ("mnist", "fashion-mnist", "digits", "cifar10", "svhn", "imagefolder", "npz")
GRAD_NAMES = ("ste", "poly", "ede", "rbnn")
# BNN-PYNQ's models start from W ~ U(-1, 1): with SGD at lr 0.1 their weight gradients (~1e-4) flip
# no sign in two MNIST epochs (TFC/LFC/CNV28 stay at chance); Adam moves every weight at the same rate.
ADAM_MODELS = ("tfc", "sfc", "lfc", "cnv", "cnv28")

# Options that may change when a run is resumed: where/how it runs, and how long.
RESUMABLE_OVERRIDES = ("epochs", "out", "data_dir", "device", "workers")


def option(default=None, help: str = "", **kwargs):
    """A TrainConfig field with its command-line help (``fpgabnn train`` builds its options from these)."""
    if "default_factory" in kwargs:
        return field(metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything that defines a training run. ``None`` means "the model's default"."""

    model: str | None = option(help=f"network: {', '.join(MODEL_NAMES)}")
    dataset: str | None = option(help=f"data set: {', '.join(DATASET_NAMES)}")
    epochs: int | None = option(help="number of epochs")
    out: str | None = option(help="run directory (checkpoints, metrics, plots)")
    method: str = option("baseline", f"weight parametrisation (default baseline): {', '.join(METHOD_NAMES)}")
    seed: int = option(0, "random seed (default 0); runs with one seed are identical on CPU")
    max_train_samples: int | None = option(help="use only the first N training samples (quick runs)")
    max_val_samples: int | None = option(help="cap validation/test samples (default: --max-train-samples)")
    val_fraction: float = option(0.1, "fraction of the training data held out for validation (default 0.1)")
    batch_size: int | None = option(help="mini-batch size (default 256 with SGD, 100 with Adam)")
    optimizer: str | None = option(help="sgd or adam (default: adam for tfc/sfc/lfc/cnv/cnv28, sgd for the ResNets)")
    lr: float | None = option(help="peak learning rate (default 0.1 SGD, 0.02 Adam)")
    momentum: float = option(0.9, "SGD momentum (default 0.9)")
    weight_decay: float | None = option(help="weight decay (default 1e-4 SGD, 0 Adam)")
    schedule: str = option("cosine", "cosine (default), step (x0.1 at 50%% and 75%%) or none")
    warmup_epochs: float | None = option(
        help="linear warm-up length in epochs, may be fractional (SGD default: min(5, 5%% of epochs))")
    scaling: str = option("none", "weight scale: none (default), analytic (XNOR-Net) or learned "
                          "(cancelled by a BatchNorm right after it: it acts only in resnet20-preact)")
    weight_grad: str = option("ste", f"sign gradient for weights: {', '.join(GRAD_NAMES)} (default ste)")
    act_grad: str = option("ste", f"sign gradient for activations: {', '.join(GRAD_NAMES)} (default ste)")
    input_bits: int = option(8, "bits of the input pixels seen by the first layer (default 8)")
    aux: bool = option(False, "add the latent-weight auxiliary branch during training (our reading of Xu et al. 2021)")
    aux_weight: float = option(1.0, "weight lambda of the auxiliary loss (default 1)")
    aux_stop_grad: str = option("none", "auxiliary loss gradient: none (both paths), real (stop it on the "
                                "real path: binary follows real) or binary (latent follows binary)")
    real_ends: bool | None = option(help="real-valued first conv and last FC (ResNets only; default on, as in "
                                    "the papers; --no-real-ends gives the binary ends a compiler needs)")
    act_standardise: bool = option(False, "RBNN's per-sample activation standardisation before each sign "
                                   "(ResNets only: it cannot stream, so such a model is never compiled)")
    width_scale: float = option(1.0, "multiply channel/unit counts (1 = the published topology)")
    factor_lr_scale: bool = option(False, "Adam: scale each SVD/Tucker/holistic-Tucker factor's lr by its initial "
                                   "RMS over the latent weight's, so factors move at a plain weight's relative rate")
    clip_weights: bool = option(False, "clip plain latent weights to [-1, 1] after every step (BinaryNet, "
                                "BNN-PYNQ): the clipped STE then never leaves a weight without gradient")
    method_options: dict = option(help="option of the parametrisation, repeatable (e.g. rank_ratio=0.5)",
                                  default_factory=dict)
    data_dir: str | None = option(
        help="where the data set files are (cifar10, svhn, imagefolder, npz; optional for mnist, fashion-mnist)")
    augment: bool | None = option(help="random crop + horizontal flip for 32x32 RGB data (default: on for cifar10)")
    pad_to: int | None = option(help="zero-pad the images to NxN, centred (e.g. 32: 28x28 Fashion-MNIST at "
                                "ResNet-20's CIFAR size); default: the data set's own size")
    device: str = option("cpu", "cpu (default) or cuda[:N]")
    workers: int = option(0, "background processes preparing batches (default 0; results do not depend on it)")

    # ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "configuration") -> "TrainConfig":
        return cls(**normalise_keys(values, source))

    def resolve(self) -> "TrainConfig":
        """A copy with every default filled in and every value checked (raises ``UserError``)."""
        c = dataclasses.replace(self, method_options=dict(self.method_options))
        for name in ("model", "dataset", "epochs", "out"):
            if getattr(c, name) in (None, ""):
                raise UserError(f"--{name.replace('_', '-')} is required (on the command line or in --config)")
        if c.optimizer is None:
            c.optimizer = "adam" if c.model in ADAM_MODELS else "sgd"
        if c.optimizer not in OPTIMIZERS:
            raise UserError(f"unknown optimizer {c.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        d = DEFAULTS[c.optimizer]
        c.lr = d["lr"] if c.lr is None else c.lr
        c.weight_decay = d["weight_decay"] if c.weight_decay is None else c.weight_decay
        c.batch_size = d["batch_size"] if c.batch_size is None else c.batch_size
        if c.warmup_epochs is None:
            # docs/methods.md: 5 warm-up epochs (of 200); short runs warm up for 5% of their length.
            c.warmup_epochs = min(5.0, 0.05 * c.epochs) if c.optimizer == "sgd" else 0.0
        if c.max_val_samples is None:
            c.max_val_samples = c.max_train_samples
        if c.augment is None:
            c.augment = c.dataset == "cifar10"
        if c.real_ends is None:
            c.real_ends = str(c.model).startswith("resnet")
        c._check()
        return c

    def _check(self) -> None:
        from fpgabnn.train.data import DATASETS
        from fpgabnn.train.models import MODELS
        from fpgabnn.train.parametrize import METHODS
        from fpgabnn.train.sign import GRAD_APPROXIMATIONS

        choices = {
            "model": MODELS,
            "method": METHODS,
            "dataset": DATASETS,
            "optimizer": OPTIMIZERS,
            "schedule": SCHEDULES,
            "scaling": SCALINGS,
            "weight_grad": GRAD_APPROXIMATIONS,
            "act_grad": GRAD_APPROXIMATIONS,
            "aux_stop_grad": AUX_STOP_GRADS,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise UserError(f"unknown {name.replace('_', ' ')} {value!r}; choose one of {', '.join(allowed)}")
        positive_ints = ("epochs", "batch_size", "input_bits")
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        for name in ("max_train_samples", "max_val_samples", "pad_to"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise UserError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        for name in ("lr", "momentum", "weight_decay", "warmup_epochs", "aux_weight", "width_scale"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise UserError(f"--{name.replace('_', '-')} must be a non-negative number, got {value!r}")
        if self.lr == 0 or self.width_scale == 0:
            raise UserError("--lr and --width-scale must be positive")
        resnet = str(self.model).startswith("resnet")
        if (self.real_ends or self.act_standardise) and not resnet:
            raise UserError(f"--real-ends and --act-standardise apply to the ResNets only, not {self.model}")
        if not 0 <= self.val_fraction < 1:
            raise UserError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise UserError(f"unknown device {self.device!r}; use cpu (or cuda[:N] where available)")
        if self.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise UserError(f"device {self.device} requested but no CUDA device is available; use --device cpu")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise UserError(f"--workers must be a non-negative integer, got {self.workers!r}")
        if not isinstance(self.method_options, dict):
            raise UserError("method options must be KEY=VALUE pairs (a mapping in a config file)")


# Per optimiser. SGD: docs/methods.md section 3 (RBNN's CIFAR recipe for the Kaiming-initialised ResNets, meant
# for hundreds of epochs: over 2 short MNIST epochs ResNet-20 stays at chance with it, 0.77 with Adam 0.02).
# Adam: BNN-PYNQ's lr 0.02 without weight decay, batch 100; measured best on MNIST over 2 epochs
# (val acc TFC 0.90 / LFC 0.96 at 0.02, vs 0.89 / 0.94 at 0.01 and 0.61 / 0.86 at 1e-3; SGD 0.12 / 0.15;
# CNV28 on 5000 images: 0.90 at 0.02, 0.79 at 0.005, SGD 0.12).
DEFAULTS = {
    "sgd": {"lr": 0.1, "weight_decay": 1e-4, "batch_size": 256},
    "adam": {"lr": 0.02, "weight_decay": 0.0, "batch_size": 100},
}

_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def normalise_keys(values: dict, source: str) -> dict:
    """Accept ``weight-decay`` and ``weight_decay``; reject unknown keys; parse method options."""
    out = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name == "method_option":
            name = "method_options"
        if name not in _FIELDS:
            raise UserError(f"unknown option {key!r} in {source}; valid: {', '.join(sorted(k.replace('_', '-') for k in _FIELDS))}")
        if name == "method_options":
            value = parse_method_options(value, source)
        elif value is not None:
            value = _coerce(name, value, source)
        out[name] = value
    return out


def _kind(name: str) -> type:
    """int, float, bool or str: the field's annotation without its ``| None``."""
    hint = typing.get_type_hints(TrainConfig)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return args[0]


def _coerce(name: str, value, source: str):
    """Typed values from files and the command line (YAML reads ``1e-3`` as a string, TOML has no None)."""
    kind = _kind(name)
    try:
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is bool:
            if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
                return value.lower() in ("true", "yes")
            if not isinstance(value, bool):
                raise ValueError
            return value
        return str(value)
    except (TypeError, ValueError):
        what = {int: "an integer", float: "a number", bool: "true or false"}[kind]
        raise UserError(f"option {name.replace('_', '-')} in {source} must be {what}, got {value!r}") from None


def parse_method_options(value, source: str = "--method-option") -> dict:
    """``["rank_ratio=0.5", "ranks=[4,4]"]`` or a mapping -> dict; values parsed as YAML scalars."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k).replace("-", "_"): v for k, v in value.items()}
    if isinstance(value, str):
        value = [value]
    result = {}
    for item in value:
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise UserError(f"method option {item!r} in {source} is not KEY=VALUE; write e.g. rank_ratio=0.5")
        try:
            parsed = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            parsed = raw
        result[key.strip().replace("-", "_")] = parsed
    return result


def _read_mapping(path: str | os.PathLike) -> dict:
    """The mapping in a ``.yaml``/``.yml`` or ``.toml`` file (raises ``UserError`` naming the problem)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} not found; pass an existing .yaml or .toml file")
    try:
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise UserError(f"config file {path} must end in .yaml, .yml or .toml")
    except (OSError, UnicodeDecodeError, yaml.YAMLError, tomllib.TOMLDecodeError, ValueError) as err:
        raise UserError(f"cannot parse config file {path}: {str(err).splitlines()[0]}; fix its syntax") from None
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of option: value")
    return data


def load_config_file(path: str | os.PathLike) -> dict:
    """Options from a ``.yaml``/``.yml`` or ``.toml`` file, as a normalised dict."""
    data = _read_mapping(path)
    if "train" in data and isinstance(data["train"], dict) and len(data) == 1:
        data = data["train"]  # allow a [train] table / train: section
    return normalise_keys(data, str(path))
