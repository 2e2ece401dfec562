import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fpgabnn.deploy.driver import frames


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.sampled_from([1, 2, 3, 8, 16, 24]), st.sampled_from([8, 64, 128]),
       st.sampled_from(frames.KINDS), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_pack_unpack_roundtrip(elems, bits, beat, kind, n, seed):
    if kind == "bipolar":
        bits = 1
    rng = np.random.default_rng(seed)
    if kind == "bipolar":
        v = rng.choice([-1, 1], size=(n, elems))
    elif kind == "signed":
        v = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=(n, elems))
    else:
        v = rng.integers(0, 1 << bits, size=(n, elems))
    buf = frames.pack_values(v, bits, kind, beat)
    assert buf.shape == (n, frames.bytes_per_frame(elems, bits, beat))
    assert np.array_equal(frames.unpack_values(buf, bits, kind, beat, elems), v)


def test_layout_is_dense_little_endian_and_frame_aligned():
    # 3 elements of 8 bits in 64-bit beats: bytes 0..2 carry them, the rest of the beat is zero
    buf = frames.pack_values(np.array([[1, 2, 255], [7, 0, 1]]), 8, "unsigned", 64)
    assert buf.tolist() == [[1, 2, 255, 0, 0, 0, 0, 0], [7, 0, 1, 0, 0, 0, 0, 0]]
    # bipolar: bit i of the string is element i
    buf = frames.pack_values(np.array([[1, -1, 1, 1, -1, -1, -1, -1, 1]]), 1, "bipolar", 8)
    assert buf.tolist() == [[0b00001101, 0b00000001]]
    # TFC: 784 8-bit pixels are 98 beats of 64 bits; thresholded on the host 784 bits are 13 beats
    assert frames.beats_per_frame(784, 8, 64) == 98
    assert frames.beats_per_frame(784, 1, 64) == 13


def test_refuses_values_out_of_range():
    with pytest.raises(ValueError):
        frames.to_raw(np.array([256]), 8, "unsigned")
    with pytest.raises(ValueError):
        frames.to_raw(np.array([0]), 1, "bipolar")
    with pytest.raises(ValueError):
        frames.beats_per_frame(10, 8, 12)


def _bitwise_reference(raw, elem_bits, beat_bits):
    """The contract spelled out bit by bit: element i at bits [i*EW, (i+1)*EW), frame padded to whole beats."""
    n, elems = raw.shape
    out = np.zeros((n, frames.bytes_per_frame(elems, elem_bits, beat_bits)), dtype=np.uint8)
    for f in range(n):
        for i in range(elems):
            for b in range(elem_bits):
                if (int(raw[f, i]) >> b) & 1:
                    pos = i * elem_bits + b
                    out[f, pos // 8] |= 1 << (pos % 8)
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.sampled_from([1, 2, 3, 5, 8, 12, 16, 24, 32]), st.sampled_from([8, 64, 128]),
       st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_fast_paths_match_the_bitwise_contract(elems, bits, beat, n, seed):
    raw = np.random.default_rng(seed).integers(0, 1 << bits, size=(n, elems), dtype=np.uint64)
    packed = frames.pack_frames(raw, bits, beat)
    assert np.array_equal(packed, _bitwise_reference(raw, bits, beat))
    assert np.array_equal(frames.unpack_frames(packed, bits, beat, elems), raw)
