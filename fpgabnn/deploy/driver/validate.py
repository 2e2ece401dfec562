"""Run a labelled test set through the accelerator and print accuracy and frames per second (numpy only).

usage (on the board, in the unzipped package):  python validate.py [--dataset test.npz] [--batch-size 100]
The dataset is an .npz with ``x`` (raw 0..255 pixels in the model's input shape) and ``y`` (labels), or
MNIST's t10k-images-idx3-ubyte[.gz] (labels found beside it as t10k-labels-idx1-ubyte[.gz]).
Off-board: --backend csim or rtlsim. Exit 0 on success, 2 on bad input (one line).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from driver import Accelerator, DriverError  # noqa: E402


def _idx(path: Path) -> np.ndarray:
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_dataset(path: Path, shape: list) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DriverError(f"dataset {path} does not exist; pass an .npz with x and y, or MNIST's idx files")
    if path.suffix == ".npz":
        data = np.load(path)
        keys = [("x", "y"), ("images", "labels"), ("x_test", "y_test")]
        found = next((k for k in keys if k[0] in data and k[1] in data), None)
        if found is None:
            raise DriverError(f"{path} has arrays {sorted(data)}; it needs x and y (or images and labels)")
        x, y = data[found[0]], data[found[1]]
    else:
        x = _idx(path)
        label_file = Path(str(path).replace("images-idx3", "labels-idx1"))
        if label_file == path or not label_file.is_file():
            raise DriverError(f"no labels file beside {path}; expected {label_file.name}")
        y = _idx(label_file)
    x = np.asarray(x).reshape(len(x), *shape[1:]) if np.prod(np.shape(x)[1:]) == np.prod(shape[1:]) else x
    return x, np.asarray(y).reshape(-1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="accuracy and fps of the accelerator on a labelled test set")
    here = Path(__file__).resolve().parent
    default = here / "test_set.npz"
    p.add_argument("--dataset", default=str(default) if default.is_file() else None, required=not default.is_file(),
                   help=".npz with x and y, or t10k-images-idx3-ubyte[.gz] (default: test_set.npz of the package)")
    p.add_argument("--backend", default="pynq", choices=["pynq", "rtlsim", "csim"])
    p.add_argument("--bitfile", help="bitstream (default: the one in this package)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--limit", type=int, default=0, help="use only the first N images (0 = all)")
    args = p.parse_args(argv)
    try:
        accel = Accelerator(bitfile=args.bitfile, backend=args.backend, batch_size=args.batch_size)
        x, y = load_dataset(Path(args.dataset), accel.config["model_input"]["shape"])
        if args.limit:
            x, y = x[: args.limit], y[: args.limit]
        start = time.perf_counter()
        out = accel.predict(x)
        seconds = time.perf_counter() - start
    except DriverError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    pred = out.reshape(len(out), -1).argmax(axis=1) if out.reshape(len(out), -1).shape[1] > 1 else out.reshape(-1)
    accuracy = float(np.mean(pred == y))
    tp = accel.throughput_test()
    print(f"accuracy {accuracy * 100:.2f}% on {len(y)} images ({args.backend}); "
          f"end-to-end {len(y) / seconds:.1f} fps; throughput_test {tp['fps']:.1f} fps at batch {tp['batch_size']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
