"""Frames on the wire: how a batch of frames travels over the accelerator's AXI-Stream ports (numpy only).

This module is copied verbatim into every build's ``driver/`` package, so it imports numpy alone; fpgabnn's
simulators (C and RTL) and the PYNQ driver all pack and unpack through it, so every transport agrees.

The contract (both backends, both directions):

* A frame's elements are taken in stream order (NHWC, flattened). Each element is ``elem_bits`` wide:
  bipolar v in {-1, +1} is the bit (v + 1) / 2, signed integers are two's complement.
* Elements are packed densely and little-endian into one bit string: element i at bits [i*EW, (i+1)*EW).
* The bit string is zero-padded at the end to a whole number of ``beat_bits``-wide beats (the DMA width,
  ``axi_port_width`` of the board: 64 on Zynq-7000, 128 on Zynq UltraScale+). Every frame starts on a new beat.
* Beats are little-endian bytes in memory: beat b of a frame is bytes [b*BB, (b+1)*BB) with BB = beat_bits / 8.
* TLAST is raised on the last beat of a batch (one DMA transfer); see ``hls_templates`` / ``rtllib`` ports.
"""

from __future__ import annotations

import numpy as np

KINDS = ("bipolar", "signed", "unsigned")


def beats_per_frame(elems: int, elem_bits: int, beat_bits: int) -> int:
    """Beats of ``beat_bits`` that carry one frame of ``elems`` elements of ``elem_bits`` bits."""
    if beat_bits <= 0 or beat_bits % 8:
        raise ValueError(f"beat width {beat_bits} is not a positive multiple of 8 bits")
    return -(-elems * elem_bits // beat_bits)


def bytes_per_frame(elems: int, elem_bits: int, beat_bits: int) -> int:
    return beats_per_frame(elems, elem_bits, beat_bits) * beat_bits // 8


def to_raw(values: np.ndarray, elem_bits: int, kind: str) -> np.ndarray:
    """Value domain -> raw element bits (uint64). Raises ValueError for values the type cannot hold."""
    v = np.asarray(values)
    if kind not in KINDS:
        raise ValueError(f"element kind {kind!r} is not one of {KINDS}")
    if v.dtype.kind not in "ui" and v.size and not np.array_equal(v, np.rint(v)):
        raise ValueError("stream values must be integers")
    v = v.astype(np.int64)
    if kind == "bipolar":
        if v.size and not np.all((v == 1) | (v == -1)):
            raise ValueError("bipolar stream values must be -1 or +1")
        return ((v + 1) // 2).astype(np.uint64)
    lo, hi = (-(1 << (elem_bits - 1)), (1 << (elem_bits - 1)) - 1) if kind == "signed" else (0, (1 << elem_bits) - 1)
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"stream values in [{v.min()}, {v.max()}] do not fit {kind} {elem_bits}-bit [{lo}, {hi}]")
    return (v & ((1 << elem_bits) - 1)).astype(np.uint64)


def from_raw(raw: np.ndarray, elem_bits: int, kind: str) -> np.ndarray:
    """Raw element bits -> value domain (int64)."""
    r = np.asarray(raw).astype(np.int64)
    if kind == "bipolar":
        return 2 * (r & 1) - 1
    r = r & ((1 << elem_bits) - 1)
    if kind == "signed":
        r = np.where(r >= (1 << (elem_bits - 1)), r - (1 << elem_bits), r)
    return r


def pack_frames(raw: np.ndarray, elem_bits: int, beat_bits: int) -> np.ndarray:
    """Raw element bits [N, E] -> uint8 [N, beats * beat_bits / 8], the bytes a DMA moves for N frames."""
    raw = np.asarray(raw, dtype=np.uint64)
    if raw.ndim != 2:
        raise ValueError(f"raw frames must be [N, elements], got shape {raw.shape}")
    n, elems = raw.shape
    nbytes = bytes_per_frame(elems, elem_bits, beat_bits)
    out = np.zeros((n, nbytes), dtype=np.uint8)
    if elem_bits in (8, 16, 32, 64):  # whole bytes: little-endian words are already the bit string
        body = np.ascontiguousarray(raw.astype(f"<u{elem_bits // 8}")).view(np.uint8).reshape(n, -1)
        out[:, : body.shape[1]] = body
        return out
    work = np.uint8 if elem_bits <= 8 else np.uint64  # narrow elements: shift in bytes, not 64-bit words
    bits = ((raw.astype(work)[..., None] >> np.arange(elem_bits, dtype=work)) & work(1)).astype(np.uint8)
    packed = np.packbits(bits.reshape(n, elems * elem_bits), axis=-1, bitorder="little")
    out[:, : packed.shape[1]] = packed
    return out


def unpack_frames(buf: np.ndarray, elem_bits: int, beat_bits: int, elems: int) -> np.ndarray:
    """uint8 [N, bytes_per_frame] (or flat) -> raw element bits uint64 [N, elems] (inverse of pack_frames)."""
    nbytes = bytes_per_frame(elems, elem_bits, beat_bits)
    b = np.asarray(buf, dtype=np.uint8).reshape(-1)
    if b.size % nbytes:
        raise ValueError(f"{b.size} bytes are not whole frames of {nbytes} bytes")
    b = b.reshape(-1, nbytes)
    if elem_bits in (8, 16, 32, 64):
        body = np.ascontiguousarray(b[:, : elems * elem_bits // 8])
        return body.view(f"<u{elem_bits // 8}").astype(np.uint64).reshape(-1, elems)
    bits = np.unpackbits(b, axis=-1, bitorder="little")[:, : elems * elem_bits]
    bits = bits.reshape(-1, elems, elem_bits).astype(np.uint64)
    return (bits << np.arange(elem_bits, dtype=np.uint64)).sum(axis=-1, dtype=np.uint64)


def pack_values(values: np.ndarray, elem_bits: int, kind: str, beat_bits: int) -> np.ndarray:
    """Value-domain frames [N, ...] -> DMA bytes [N, bytes_per_frame]."""
    v = np.asarray(values)
    return pack_frames(to_raw(v.reshape(v.shape[0], -1), elem_bits, kind), elem_bits, beat_bits)


def unpack_values(buf: np.ndarray, elem_bits: int, kind: str, beat_bits: int, elems: int) -> np.ndarray:
    """DMA bytes -> value-domain frames int64 [N, elems]."""
    return from_raw(unpack_frames(buf, elem_bits, beat_bits, elems), elem_bits, kind)
