"""qonnx DataTypes over the wire contract: range checks and the stream words of the kernel test harness.

The element encoding (bipolar v -> (v + 1) / 2, signed two's complement) and the frame layout on the DMA
port live in one place, ``fpgabnn/deploy/driver/frames.py``; this module only maps a qonnx ``DataType`` to
its (bits, kind) there and turns range errors into the one-line ``UserError`` the CLI prints. The per-kernel
HLS tests stream whole words of ``elems_per_word`` elements (a kernel's own stream, not the DMA's), which
``pack_words``/``unpack_words`` produce from the same encoding.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from fpgabnn.deploy.driver import frames
from fpgabnn.errors import UserError
from fpgabnn.hw.base import elem_kind


def _dtype(dt) -> DataType:
    return DataType[dt] if isinstance(dt, str) else dt


def to_raw(values: np.ndarray, dtype) -> np.ndarray:
    """Value domain -> raw element bits (uint64); values the datatype cannot hold are a UserError."""
    dt = _dtype(dtype)
    try:
        return frames.to_raw(values, dt.bitwidth(), elem_kind(dt))
    except ValueError as err:
        raise UserError(f"stream values do not fit {dt.name} ({err}); feed inputs in the accelerator's input "
                        "datatype") from None


def check_range(values: np.ndarray, dtype) -> None:
    """Refuse values that the datatype cannot represent (packing would silently wrap them)."""
    to_raw(values, dtype)


def from_raw(raw: np.ndarray, dtype) -> np.ndarray:
    """Raw element bits -> value domain (int64)."""
    dt = _dtype(dtype)
    return frames.from_raw(raw, dt.bitwidth(), elem_kind(dt))


def pack_words(values: np.ndarray, dtype, elems_per_word: int) -> list[int]:
    """Flattened ``values`` -> Python-int stream words (arbitrary width), first element lowest."""
    dt = _dtype(dtype)
    raw = to_raw(np.asarray(values).reshape(-1), dt)
    if raw.size % elems_per_word:
        raise ValueError(f"{raw.size} elements do not fill whole words of {elems_per_word}")
    ew = dt.bitwidth()
    return [sum(int(e) << (i * ew) for i, e in enumerate(chunk.tolist()))
            for chunk in raw.reshape(-1, elems_per_word)]


def unpack_words(words, dtype, elems_per_word: int) -> np.ndarray:
    """Stream words -> flat value-domain array (int64) of len(words) * elems_per_word elements."""
    dt = _dtype(dtype)
    ew = dt.bitwidth()
    mask = (1 << ew) - 1
    raw = [(int(w) >> (i * ew)) & mask for w in words for i in range(elems_per_word)]
    return from_raw(np.array(raw, dtype=np.uint64), dt)
