"""Packing value-domain tensors into accelerator stream words and back.

A stream word packs ``elems_per_word`` elements little-endian: element i occupies bits
[i*EW, (i+1)*EW) where EW is the datatype's bit width; signed elements are two's complement and a
bipolar value v in {-1, +1} is the bit (v + 1) / 2. Elements are taken in NHWC order (the order of the
flattened array). Words of ``word_bits`` > elems*EW bits are zero-padded at the top, and words travel
as little-endian bytes (what an AXI DMA moves). The generated C testbench and the PYNQ driver use the
same convention, so both sides agree by construction.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType

from fpgabnn.errors import UserError


def _dtype(dt) -> DataType:
    return DataType[dt] if isinstance(dt, str) else dt


def check_range(values: np.ndarray, dtype) -> None:
    """Refuse values that the datatype cannot represent (packing would silently wrap them)."""
    dt = _dtype(dtype)
    v = np.asarray(values)
    if v.size == 0:
        return
    if not np.all(np.equal(np.mod(v, 1), 0)):
        raise UserError(f"stream values must be integers for {dt.name}; round or quantise the input first")
    if dt == DataType["BIPOLAR"]:
        ok = np.all((v == 1) | (v == -1))
    else:
        ok = v.min() >= dt.min() and v.max() <= dt.max()
    if not ok:
        raise UserError(
            f"stream values in [{v.min()}, {v.max()}] do not fit {dt.name} [{dt.min()}, {dt.max()}]; "
            "feed inputs in the accelerator's input datatype"
        )


def to_raw(values: np.ndarray, dtype) -> np.ndarray:
    """Value domain -> raw element bits (uint64): bipolar (v+1)/2, signed two's complement."""
    dt = _dtype(dtype)
    check_range(values, dt)
    v = np.asarray(values).astype(np.int64)
    if dt == DataType["BIPOLAR"]:
        return ((v + 1) // 2).astype(np.uint64)
    bits = dt.bitwidth()
    return (v & ((1 << bits) - 1)).astype(np.uint64)


def from_raw(raw: np.ndarray, dtype) -> np.ndarray:
    """Raw element bits -> value domain (int64)."""
    dt = _dtype(dtype)
    r = np.asarray(raw).astype(np.int64)
    if dt == DataType["BIPOLAR"]:
        return 2 * (r & 1) - 1
    bits = dt.bitwidth()
    r = r & ((1 << bits) - 1)
    if dt.signed():
        r = np.where(r >= (1 << (bits - 1)), r - (1 << bits), r)
    return r


def pack_words(values: np.ndarray, dtype, elems_per_word: int) -> list[int]:
    """Flattened ``values`` -> Python-int stream words (arbitrary width), first element lowest."""
    dt = _dtype(dtype)
    raw = to_raw(np.asarray(values).reshape(-1), dt)
    if raw.size % elems_per_word:
        raise ValueError(f"{raw.size} elements do not fill whole words of {elems_per_word}")
    ew = dt.bitwidth()
    words = []
    for chunk in raw.reshape(-1, elems_per_word):
        w = 0
        for i, e in enumerate(chunk.tolist()):
            w |= int(e) << (i * ew)
        words.append(w)
    return words


def unpack_words(words, dtype, elems_per_word: int) -> np.ndarray:
    """Stream words -> flat value-domain array (int64) of len(words) * elems_per_word elements."""
    dt = _dtype(dtype)
    ew = dt.bitwidth()
    mask = (1 << ew) - 1
    raw = [(int(w) >> (i * ew)) & mask for w in words for i in range(elems_per_word)]
    return from_raw(np.array(raw, dtype=np.uint64), dt)


def word_bytes(word_bits: int) -> int:
    return (word_bits + 7) // 8


def pack_bytes(values: np.ndarray, dtype, elems_per_word: int, word_bits: int) -> np.ndarray:
    """[N, ...] values -> uint8 [N, words * word_bytes]: each frame's words as little-endian bytes.

    Vectorised through a bit matrix, so it is fast enough for a driver's whole batch."""
    dt = _dtype(dtype)
    v = np.asarray(values)
    n = v.shape[0]
    raw = to_raw(v.reshape(n, -1), dt)
    ew = dt.bitwidth()
    if raw.shape[1] % elems_per_word:
        raise ValueError(f"{raw.shape[1]} elements per frame do not fill whole words of {elems_per_word}")
    if elems_per_word * ew > word_bits:
        raise ValueError(f"{elems_per_word} elements of {ew} bits do not fit a {word_bits}-bit word")
    bits = ((raw[..., None] >> np.arange(ew, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    bits = bits.reshape(n, -1, elems_per_word * ew)
    nbytes = word_bytes(word_bits)
    padded = np.zeros((n, bits.shape[1], nbytes * 8), dtype=np.uint8)
    padded[..., : bits.shape[2]] = bits
    return np.packbits(padded, axis=-1, bitorder="little").reshape(n, -1)


def unpack_bytes(buf: np.ndarray, dtype, elems_per_word: int, word_bits: int, elems_per_frame: int) -> np.ndarray:
    """uint8 [N, words * word_bytes] -> value-domain int64 [N, elems_per_frame] (inverse of pack_bytes)."""
    dt = _dtype(dtype)
    ew = dt.bitwidth()
    b = np.asarray(buf, dtype=np.uint8)
    n = b.shape[0]
    nbytes = word_bytes(word_bits)
    bits = np.unpackbits(b.reshape(n, -1, nbytes), axis=-1, bitorder="little")
    bits = bits[..., : elems_per_word * ew].reshape(n, -1, ew)[:, :elems_per_frame]
    raw = (bits.astype(np.uint64) << np.arange(ew, dtype=np.uint64)).sum(axis=-1, dtype=np.uint64)
    return from_raw(raw, dt)
