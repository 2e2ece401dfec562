"""The FINN writer's layout conversions, checked exhaustively on small cases (no finn-plus needed)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.multithreshold import multithreshold

from fpgabnn.finn.export import _thresholds_matrix
from fpgabnn.finn.params import layer_params, unpack_weight_bits
from fpgabnn.hw.base import DOMAIN
from fpgabnn.hw.mvau import pack_weight_bits


@pytest.mark.parametrize("pe,simd", [(1, 1), (2, 3), (4, 12), (8, 4), (8, 12)])
def test_weight_bits_unpack_to_finn_layout(pe, simd):
    rng = np.random.default_rng(pe * 31 + simd)
    w = np.where(rng.random((12, 8)) < 0.5, -1.0, 1.0)
    assert np.array_equal(unpack_weight_bits(pack_weight_bits(w, pe, simd), 12, 8), (w > 0).astype(np.uint8))


@pytest.mark.parametrize("out_dtype,out_base,steps", [("INT8", -128, 255), ("BIPOLAR", 0, 1), ("UINT2", 0, 3)])
@pytest.mark.parametrize("shared", [True, False])
def test_lookup_table_becomes_the_same_thresholds(out_dtype, out_base, steps, shared):
    """lut-mode Thresholding parameters -> FINN thresholds; FINN's multithreshold on every input reproduces
    the lowered layer's output (fpgabnn's bipolar value v is FINN's bit (v + 1) / 2)."""
    rng = np.random.default_rng(steps)
    c = 6
    rows = 1 if shared else c
    t = np.sort(rng.integers(-20, 280, size=(rows, steps)), axis=1).astype(np.float32) + 0.5
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c])
    node = helper.make_node("Thresholding", ["x", "t"], ["y"], domain=DOMAIN, name="thr", channels=c, pe=2,
                            vec_shape=[1], in_dtype="UINT8", out_dtype=out_dtype, out_base=out_base)
    model = ModelWrapper(helper.make_model(helper.make_graph([node], "g", [x], [y])))
    model.set_initializer("t", t)
    p = layer_params(model, node)
    assert p.mode == "lut"
    finn_t = _thresholds_matrix(p)
    xs = np.arange(256, dtype=np.float32)
    inp = np.repeat(xs[:, None], c, axis=1)
    ours = multithreshold(inp, np.repeat(t, c // rows, axis=0) if not shared else t)
    theirs = multithreshold(inp, finn_t if finn_t.shape[0] == c else np.repeat(finn_t, c, axis=0))
    assert np.array_equal(ours, theirs)
    assert DataType[out_dtype].allowed(out_base + theirs.max())


def test_a_layer_finn_cannot_express_is_refused_by_name():
    """A zero-padded sliding window: FINN pads in a separate FMPadding layer, so the writer refuses it."""
    from fpgabnn.errors import UserError
    from fpgabnn.finn.export import to_finn

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 18])
    node = helper.make_node("SlidingWindow", ["x"], ["y"], domain=DOMAIN, name="padded_window", ifm_dim=[4, 4],
                            channels=2, kernel=[3, 3], stride=[1, 1], pads=[1, 1, 1, 1], in_dtype="INT4", simd=1)
    model = ModelWrapper(helper.make_model(helper.make_graph([node], "g", [x], [y])))
    model.set_tensor_datatype("x", DataType["INT4"])
    with pytest.raises(UserError) as err:
        to_finn(model)
    assert "padded_window" in str(err.value) and "FMPadding" in str(err.value) and "\n" not in str(err.value)
