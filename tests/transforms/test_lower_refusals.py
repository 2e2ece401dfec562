"""Models fpgabnn cannot lower are refused with a one-line UserError that names the problem and, when there is
one, the node (by its name in the tidied graph, e.g. 'Conv_1')."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from fpgabnn.errors import UserError
from lowering_builders import GraphBuilder, signs


def refuse(model, pixel_range="raw") -> str:
    """Prepare and lower ``model``; return the UserError's message (failing if it is not refused)."""
    from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source

    with pytest.raises(UserError) as info:
        lower_to_hw(prepare_source(model, pixel_range=pixel_range))
    message = str(info.value)
    assert message and "\n" not in message
    return message


def named_node(message: str) -> str:
    found = re.search(r"node '([^']+)'", message)
    assert found, f"no node named in: {message}"
    return found.group(1)


def mlp(rng, hidden_act=None, weight=None, between=None, tail=None):
    """[1, 8] pixels -> sign -> MatMul -> BN -> sign -> MatMul, with hooks for the thing under test."""
    b = GraphBuilder([1, 8])
    b.sub(np.float32(127.5))
    b.bipolar()
    b.matmul(signs(rng, (8, 6)) if weight is None else weight)
    b.batchnorm(*(rng.normal(size=6).astype(np.float32) for _ in range(3)), np.ones(6, np.float32))
    if between:
        between(b)
    if hidden_act:
        hidden_act(b)
    else:
        b.bipolar()
    b.matmul(signs(rng, (6, 3)))
    if tail:
        tail(b)
    return b.model()


def cnn(rng, first_scale=2.0**-7, conv2_pads=(0, 0, 0, 0), conv2_attrs=None, pool_attrs=None):
    """[1, 2, 6, 6] pixels -> INT8 -> padded conv -> BN -> sign -> conv -> BN -> sign -> MaxPool -> MatMul."""
    b = GraphBuilder([1, 2, 6, 6])
    b.mul(np.float32(2 / 255))
    b.sub(np.float32(1))
    b.quant(first_scale)
    b.conv(signs(rng, (4, 2, 3, 3)), pads=[1, 1, 1, 1])
    b.batchnorm(*(rng.normal(size=4).astype(np.float32) for _ in range(3)), np.ones(4, np.float32))
    b.bipolar()
    b.conv(signs(rng, (4, 4 // (conv2_attrs or {}).get("group", 1), 3, 3)), pads=conv2_pads, **(conv2_attrs or {}))
    b.batchnorm(*(rng.normal(size=4).astype(np.float32) for _ in range(3)), np.ones(4, np.float32))
    b.bipolar()
    b.maxpool([2, 2], [2, 2], **(pool_attrs or {}))
    b.flatten()
    b.matmul(signs(rng, (int(np.prod(b.shape)), 3)))
    return b.model()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_supported_baselines_lower(rng):
    """The two base networks the refusals below modify do lower (so each refusal is about its one change)."""
    from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source

    for model in (mlp(rng), cnn(rng)):
        lower_to_hw(prepare_source(model))


# ---- files ---------------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    from fpgabnn.transforms.tidy import load_qonnx

    with pytest.raises(UserError, match="does not exist") as info:
        load_qonnx(tmp_path / "nope.onnx")
    assert "nope.onnx" in str(info.value) and "\n" not in str(info.value)


def test_empty_file(tmp_path):
    from fpgabnn.transforms.tidy import load_qonnx

    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(UserError, match="empty") as info:
        load_qonnx(tmp_path / "empty.onnx")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b'{"not": "onnx"}\n',
                                     b"\xff" * 64, b"\x00" * 16])
def test_not_an_onnx_file(tmp_path, content):
    from fpgabnn.transforms.tidy import load_qonnx

    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(UserError) as info:
        load_qonnx(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_directory_instead_of_file(tmp_path):
    from fpgabnn.transforms.tidy import load_qonnx

    with pytest.raises(UserError):
        load_qonnx(tmp_path)


def test_model_without_nodes(tmp_path):
    from fpgabnn.transforms.tidy import load_qonnx

    graph = helper.make_graph([], "empty", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph), tmp_path / "m.onnx")
    with pytest.raises(UserError, match="without nodes"):
        load_qonnx(tmp_path / "m.onnx")


def test_unknown_pixel_range(rng):
    from fpgabnn.transforms.pipeline import prepare_source

    with pytest.raises(UserError, match="pixel range"):
        prepare_source(mlp(rng), pixel_range="percent")


# ---- graph contents ------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["Softmax", "Sigmoid", "Tanh"])
def test_unsupported_op_at_the_end(rng, op):
    model = mlp(rng, tail=lambda b: b.node(op, [b.tensor], out_shape=b.shape))
    message = refuse(model)
    assert op in message and named_node(message) == f"{op}_0"


def test_unsupported_op_between_layers(rng):
    def sigmoid_then_sign(b):
        b.node("Sigmoid", [b.tensor], out_shape=b.shape)
        b.bipolar()

    message = refuse(mlp(rng, hidden_act=sigmoid_then_sign))
    assert named_node(message) == "Sigmoid_0"


@pytest.mark.parametrize("weight", ["normal", "two_magnitudes", "zero"])
def test_non_binary_weights(rng, weight):
    w = {"normal": rng.normal(size=(8, 6)), "two_magnitudes": signs(rng, (8, 6)) * rng.choice([1.0, 0.5], (8, 6)),
         "zero": np.zeros((8, 6))}[weight].astype(np.float32)
    message = refuse(mlp(rng, weight=w))
    assert named_node(message) == "MatMul_0" and "binary" in message


@pytest.mark.parametrize("bits", [2, 4])
def test_multi_bit_activations(rng, bits):
    message = refuse(mlp(rng, hidden_act=lambda b: b.quant(1.0, bits=bits)))
    assert named_node(message).startswith("Quant") and "multi-bit" in message


def test_zero_padded_binary_conv(rng):
    message = refuse(cnn(rng, conv2_pads=(1, 1, 1, 1)))
    assert named_node(message) == "Conv_1" and "padding" in message


@pytest.mark.parametrize("scale", [0.75, 3.0])
def test_non_power_of_two_input_scale(rng, scale):
    message = refuse(cnn(rng, first_scale=scale))
    assert named_node(message) == "Conv_0" and "power of two" in message


def test_grouped_conv(rng):
    message = refuse(cnn(rng, conv2_attrs={"group": 2}))
    assert named_node(message) == "Conv_1" and "grouped" in message


def test_dilated_conv(rng):
    b = GraphBuilder([1, 1, 7, 7])
    b.sub(np.float32(127.5))
    b.bipolar()
    b.conv(signs(rng, (2, 1, 3, 3)), dilations=[2, 2])
    b.shape = [1, 2, 3, 3]
    b.batchnorm(*(rng.normal(size=2).astype(np.float32) for _ in range(3)), np.ones(2, np.float32))
    b.bipolar()
    message = refuse(b.model())
    assert named_node(message) == "Conv_0" and "dilated" in message


def test_padded_maxpool(rng):
    message = refuse(cnn(rng, pool_attrs={"pads": [1, 1, 1, 1]}))
    assert named_node(message) == "MaxPool_0"


def test_per_channel_activation_scale(rng):
    def per_channel_sign(b):
        b.node("BipolarQuant", [b.tensor, b.const(np.full(6, 1.0, np.float32))], domain="qonnx.custom_op.general")

    message = refuse(mlp(rng, hidden_act=per_channel_sign))
    assert named_node(message).startswith("BipolarQuant") and "single constant" in message


def test_nonzero_zero_point(rng):
    b = GraphBuilder([1, 2, 4, 4])
    b.node("Quant", [b.tensor, b.const(1.0), b.const(3.0), b.const(8.0)], domain="qonnx.custom_op.general",
           signed=1, narrow=0, rounding_mode="ROUND")
    b.conv(signs(rng, (2, 2, 3, 3)))
    message = refuse(b.model())
    assert named_node(message) == "Quant_0" and "zero-point" in message


def test_decreasing_input_normalisation(rng):
    b = GraphBuilder([1, 8])
    b.mul(np.float32(-1 / 128))
    b.add(np.float32(1.0))
    b.quant(2.0**-7)
    b.matmul(signs(rng, (8, 3)))
    message = refuse(b.model())
    assert named_node(message) == "Quant_0" and "non-decreasing" in message


def residual_model(rng):
    """q1 -> conv -> BN -> sign = q2;  Add(q2, q1) -> sign -> conv: a skip connection around a binary conv."""
    b = GraphBuilder([1, 2, 5, 5])
    b.sub(np.float32(127.5))
    b.bipolar()
    b.conv(signs(rng, (3, 2, 1, 1)))
    b.batchnorm(*(rng.normal(size=3).astype(np.float32) for _ in range(3)), np.ones(3, np.float32))
    q1 = b.bipolar()
    b.conv(signs(rng, (3, 3, 1, 1)))
    b.batchnorm(*(rng.normal(size=3).astype(np.float32) for _ in range(3)), np.ones(3, np.float32))
    q2 = b.bipolar()
    b.node("Add", [q2, q1], out_shape=b.shape)
    b.bipolar()
    b.conv(signs(rng, (2, 3, 1, 1)))
    b.flatten()
    return b.model()


def test_residual_branch(rng):
    assert "node '" in refuse(residual_model(rng))


def test_residual_branch_message_names_the_join(rng):
    message = refuse(residual_model(rng))
    assert named_node(message) == "Add_0" or "branch" in message or "residual" in message


def test_two_inputs(rng):
    model = mlp(rng)
    model.graph.input.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1, 8]))
    message = refuse(model)
    assert "one input" in message


def test_conv_bias_on_last_layer(rng):
    b = GraphBuilder([1, 2, 5, 5])
    b.sub(np.float32(127.5))
    b.bipolar()
    b.conv(signs(rng, (3, 2, 3, 3)), bias=np.ones(3, np.float32))
    message = refuse(b.model())
    assert named_node(message) == "Conv_0" and "bias" in message


def test_no_quantiser_at_all(rng):
    b = GraphBuilder([1, 8])
    b.mul(np.float32(1 / 255))
    b.matmul(rng.normal(size=(8, 3)).astype(np.float32))
    refuse(b.model())
