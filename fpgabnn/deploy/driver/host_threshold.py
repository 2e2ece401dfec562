"""The input quantiser run on the host (``fpgabnn build --host-threshold``), numpy only: copied into a build's
driver, used by ``fpgabnn verify``, so both apply the same table.

The table (``host_threshold.npz`` in the build) holds integer thresholds T [C or 1, NT], ascending per row.
For a frame in stream order (NHWC, flattened), element i belongs to channel i % C and becomes
out_base + #{j : x >= T[c, j]} (for a bipolar output: 2 * count - 1, i.e. +1 when x >= T[c, 0]). The
accelerator then receives these values packed by frames.py (TFC: 784 bits = 13 beats of 64 bits instead of
784 bytes = 98 beats).
"""

from __future__ import annotations

import numpy as np

TABLE_FILE = "host_threshold.npz"
KEYS = ("thresholds", "channels", "out_base", "in_bits", "in_kind", "out_bits", "out_kind")


def save_table(path, thresholds: np.ndarray, channels: int, out_base: int, in_bits: int, in_kind: str,
               out_bits: int, out_kind: str, **extra) -> None:
    """Write a table (``extra``: further string/number fields, e.g. provenance)."""
    np.savez(path, thresholds=np.asarray(thresholds, dtype=np.int64), channels=int(channels),
             out_base=int(out_base), in_bits=int(in_bits), in_kind=str(in_kind), out_bits=int(out_bits),
             out_kind=str(out_kind), **{k: np.asarray(v) for k, v in extra.items()})


def load_table(path) -> dict:
    """The table as a dict of plain values; ValueError when the file lacks a field."""
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in KEYS if k not in data]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(missing)}")
        table = {k: data[k] for k in data.files}
    for k in table:
        if table[k].ndim == 0:
            table[k] = table[k].item()
    return table


def apply_table(values: np.ndarray, table: dict) -> np.ndarray:
    """Frames [N, ...] (stream order, the raw input values) -> the thresholded values [N, elements] (int64)."""
    v = np.asarray(values)
    x = v.reshape(v.shape[0], -1).astype(np.int64)
    t = np.asarray(table["thresholds"], dtype=np.int64)
    channels = int(table["channels"])
    if x.shape[1] % channels:
        raise ValueError(f"{x.shape[1]} elements per frame are not whole pixels of {channels} channels")
    rows = t[np.arange(x.shape[1]) % channels] if t.shape[0] > 1 else np.broadcast_to(t[0], (x.shape[1], t.shape[1]))
    count = (x[..., None] >= rows[None]).sum(axis=-1)
    if table["out_kind"] == "bipolar":
        return 2 * count - 1
    return count + int(table["out_base"])
