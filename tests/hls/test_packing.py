"""Kernel stream words (sim/packing.py) use the element encoding of the wire contract (frames.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qonnx.core.datatype import DataType

from fpgabnn.deploy.driver import frames as wire
from fpgabnn.errors import UserError
from fpgabnn.hw.base import elem_kind
from fpgabnn.sim.packing import from_raw, pack_words, to_raw, unpack_words

DTYPES = ["BIPOLAR", "INT2", "INT4", "UINT3", "INT8", "UINT8", "INT13", "UINT1"]


@st.composite
def frames(draw):
    dtype = draw(st.sampled_from(DTYPES))
    dt = DataType[dtype]
    epw, words, n = draw(st.integers(1, 9)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    if dtype == "BIPOLAR":
        x = rng.choice([-1, 1], size=(n, epw * words))
    else:
        x = rng.integers(int(dt.min()), int(dt.max()) + 1, size=(n, epw * words))
    return dtype, epw, x


@settings(max_examples=60, deadline=None)
@given(frames(), st.sampled_from([64, 128]))
def test_words_roundtrip_and_match_the_wire_bits(case, beat_bits):
    dtype, epw, x = case
    dt = DataType[dtype]
    ew = dt.bitwidth()
    buf = wire.pack_values(x, ew, elem_kind(dt), beat_bits)
    for frame, row in zip(x, buf):
        words = pack_words(frame, dtype, epw)
        assert all(0 <= w < 2 ** (epw * ew) for w in words)
        np.testing.assert_array_equal(unpack_words(words, dtype, epw), frame)
        # words of exactly epw elements, concatenated, are the dense bit string the DMA carries
        dense = sum(w << (k * epw * ew) for k, w in enumerate(words))
        assert dense == int.from_bytes(row.tobytes(), "little")


def test_element_encoding():
    assert to_raw(np.array([-1, 1]), "BIPOLAR").tolist() == [0, 1]
    assert to_raw(np.array([-1, -8, 7]), "INT4").tolist() == [15, 8, 7]
    assert from_raw(np.array([15, 8, 7]), "INT4").tolist() == [-1, -8, 7]
    assert from_raw(np.array([0, 1]), "BIPOLAR").tolist() == [-1, 1]


@pytest.mark.parametrize("values,dtype", [([0, 1], "BIPOLAR"), ([8], "INT4"), ([-1], "UINT8"), ([0.5], "INT8")])
def test_unrepresentable_values_are_refused(values, dtype):
    with pytest.raises(UserError):
        pack_words(np.array(values), dtype, 1)
