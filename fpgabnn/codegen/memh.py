"""``$readmemh`` memory files for the RTL: one line per memory word, lanes packed little-endian (lane i at bits
[i*bits, (i+1)*bits)), signed values as two's complement. Vivado and Verilator read the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpgabnn.core.fileio import atomic_write_bytes

_HEX = np.array(list("0123456789abcdef"))


def memh_text(values: np.ndarray, bits: int) -> str:
    """values [depth, lanes] (integers; negative ones taken as two's complement in ``bits``) -> file text."""
    v = np.asarray(values)
    if v.ndim == 1:
        v = v[:, None]
    depth, lanes = v.shape
    raw = (v.astype(np.int64) & ((1 << bits) - 1)).astype(np.uint64)
    b = ((raw[..., None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    b = b.reshape(depth, lanes * bits)
    width = lanes * bits
    digits = -(-width // 4)
    padded = np.zeros((depth, digits * 4), dtype=np.uint8)
    padded[:, :width] = b
    nib = padded.reshape(depth, digits, 4) @ np.array([1, 2, 4, 8], dtype=np.uint8)
    chars = _HEX[nib[:, ::-1]]
    return "".join("".join(row) + "\n" for row in chars)


def write_memh(path: Path, values: np.ndarray, bits: int) -> None:
    atomic_write_bytes(Path(path), memh_text(values, bits).encode())
