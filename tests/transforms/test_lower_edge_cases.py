"""Corner cases of the lowering: ONNX attribute defaults, export variants (Gemm, Flatten), degenerate input
quantisers, scales, and the provenance that verification relies on. Known bugs are strict xfails."""

from __future__ import annotations

import numpy as np
import pytest
from fpgabnn.errors import UserError
from lowering_builders import GraphBuilder, provenance_mismatches, run_batched, run_qonnx, signs


def lower(model, pixel_range="raw"):
    from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source

    source = prepare_source(model, pixel_range=pixel_range)
    return source, lower_to_hw(source)


def images_for(source, count=16, seed=0):
    shape = source.get_tensor_shape(source.graph.input[0].name)
    return np.random.default_rng(seed).integers(0, 256, size=(count, *shape[1:])).astype(np.float32)


def assert_exact(model, pixel_range="raw"):
    """Lowered == source on random images (qonnx execute_onnx), and every layer's provenance holds."""
    source, lowered = lower(model, pixel_range)
    images = images_for(source)
    assert np.array_equal(run_qonnx(lowered, images), run_qonnx(source, images))
    sctx, lctx = run_batched(source, images, keep=True), run_batched(lowered, images, keep=True)
    assert provenance_mismatches(lowered, lctx, sctx) == []
    return source, lowered


def assert_refused(model, node: str, fragment: str):
    """A one-line UserError naming the node and the reason -- never a crash or a wrong result."""
    with pytest.raises(UserError) as err:
        lower(model)
    message = str(err.value)
    assert "\n" not in message and f"node '{node}'" in message and fragment in message, message


def bn(b, rng):
    c = b.shape[1]
    b.batchnorm(rng.normal(size=c).astype(np.float32), rng.normal(0, 0.3, size=c).astype(np.float32),
                rng.uniform(-3, 3, size=c).astype(np.float32), np.full(c, 2.0, np.float32))


def image_head(c=2, h=6, w=6):
    b = GraphBuilder([1, c, h, w])
    b.mul(np.float32(2 / 255))
    b.sub(np.float32(1))
    return b


@pytest.fixture
def rng():
    return np.random.default_rng(5)


# ---- known bugs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("pixel_range", ["raw", "unit"])
def test_constant_bipolar_input(rng, pixel_range):
    """pixels * (1/255) >= 0 always, so sign() is +1 everywhere (sign(0) = +1)."""
    b = GraphBuilder([1, 6])
    if pixel_range == "raw":
        b.mul(np.float32(1 / 255))
    b.bipolar()
    b.matmul(signs(rng, (6, 3)))
    assert_exact(b.model(), pixel_range)


def test_constant_bipolar_input_some_channels(rng):
    """One channel constant +1, the other not: base 0, the constant channel is thresholded at 0 (fine)."""
    b = GraphBuilder([1, 2, 3, 3])
    b.sub(np.asarray([0.0, 127.5], np.float32).reshape(1, 2, 1, 1))
    b.bipolar()
    b.conv(signs(rng, (3, 2, 3, 3)))
    bn(b, rng)
    b.bipolar()
    b.flatten()
    b.matmul(signs(rng, (3, 2)))
    assert_exact(b.model())


def flattened_rgb_mlp(rng):
    """Brevitas' FC models flatten the image before the input quantiser; with C > 1 channels."""
    b = GraphBuilder([1, 3, 2, 2])
    b.flatten()
    b.mul(np.float32(2 / 255))
    b.sub(np.float32(1))
    b.bipolar()
    b.matmul(signs(rng, (12, 5)))
    bn(b, rng)
    b.bipolar()
    b.matmul(signs(rng, (5, 3)))
    return b.model()


def test_flattened_multichannel_input_outputs(rng):
    source, lowered = lower(flattened_rgb_mlp(rng))
    images = images_for(source)
    assert np.array_equal(run_qonnx(lowered, images), run_qonnx(source, images))


def test_flattened_multichannel_input_provenance(rng):
    """Verification's per-layer comparison holds for the input Thresholding too (it once recorded layout NC
    while streaming NHWC)."""
    from fpgabnn.sim.reference import compare_with_source

    source, lowered = lower(flattened_rgb_mlp(rng))
    assert compare_with_source(source, lowered, images_for(source, 6))["bit_exact"]


@pytest.mark.parametrize("scale", [2.0**-7, 0.5])
def test_scaled_input_quant_then_flatten(rng, scale):
    b = image_head()
    b.quant(scale)
    b.flatten()
    b.matmul(signs(rng, (72, 4)))
    bn(b, rng)
    b.bipolar()
    b.matmul(signs(rng, (4, 3)))
    assert_exact(b.model())


def test_unit_scale_input_quant_then_flatten(rng):
    b = image_head()
    b.mul(np.float32(128))
    b.quant(1.0)
    b.flatten()
    b.matmul(signs(rng, (72, 4)))
    bn(b, rng)
    b.bipolar()
    b.matmul(signs(rng, (4, 3)))
    assert_exact(b.model())


def test_maxpool_default_strides(rng):
    b = image_head()
    b.bipolar()
    b.conv(signs(rng, (3, 2, 3, 3)))
    bn(b, rng)
    b.bipolar()
    b.maxpool([2, 2], None)
    b.flatten()
    b.matmul(signs(rng, (27, 3)))
    assert_exact(b.model())


def test_maxpool_explicit_unit_strides(rng):
    b = image_head()
    b.bipolar()
    b.conv(signs(rng, (3, 2, 3, 3)))
    bn(b, rng)
    b.bipolar()
    b.maxpool([2, 2], [1, 1])
    b.flatten()
    b.matmul(signs(rng, (27, 3)))
    assert_exact(b.model())


@pytest.mark.parametrize("auto_pad,first", [("SAME_UPPER", "int"), ("SAME_LOWER", "int"), ("SAME_UPPER", "bipolar")])
def test_conv_auto_pad(rng, auto_pad, first):
    b = image_head()
    b.quant(2.0**-7) if first == "int" else b.bipolar()
    b.node("Conv", [b.tensor, b.const(signs(rng, (3, 2, 2, 2)))], out_shape=[1, 3, 6, 6], kernel_shape=[2, 2],
           auto_pad=auto_pad)
    bn(b, rng)
    b.bipolar()
    b.flatten()
    b.matmul(signs(rng, (108, 3)))
    assert_refused(b.model(), "Conv_0", f"auto_pad={auto_pad} is not supported")


def test_conv_auto_pad_valid(rng):
    b = image_head()
    b.bipolar()
    b.node("Conv", [b.tensor, b.const(signs(rng, (3, 2, 3, 3)))], out_shape=[1, 3, 4, 4], kernel_shape=[3, 3],
           auto_pad="VALID")
    bn(b, rng)
    b.bipolar()
    b.flatten()
    b.matmul(signs(rng, (48, 3)))
    assert_exact(b.model())


def test_negative_bipolar_scale(rng):
    b = GraphBuilder([1, 8])
    b.sub(np.float32(127.5))
    b.bipolar()
    b.matmul(signs(rng, (8, 4)))
    bn(b, rng)
    b.bipolar(-1.0)
    assert_exact(b.model())


@pytest.mark.parametrize("case", ["matmul_on_nchw", "per_position_add"])
def test_non_per_channel_operands(rng, case):
    b = image_head()
    b.bipolar()
    if case == "matmul_on_nchw":  # MatMul over the last (W) axis of an NCHW tensor, Mul along that axis
        b.matmul(signs(rng, (6, 4)))
        b.shape = [1, 2, 6, 4]
        b.mul(rng.normal(size=4).astype(np.float32))
    else:  # a per-position bias after a convolution
        b.conv(signs(rng, (3, 2, 3, 3)))
        b.add(rng.normal(size=(1, 1, 4, 4)).astype(np.float32))
    b.bipolar()
    b.flatten()
    b.matmul(signs(rng, (int(np.prod(b.shape)), 3)))
    if case == "matmul_on_nchw":
        assert_refused(b.model(), "MatMul_0", "more than 2 dimensions")
    else:
        assert_refused(b.model(), "Add_0", "not per-channel")


# ---- supported variants --------------------------------------------------------------------------------
def test_network_ending_in_sign(rng):
    b = GraphBuilder([1, 8])
    b.sub(np.float32(127.5))
    b.bipolar()
    b.matmul(signs(rng, (8, 4)))
    bn(b, rng)
    b.bipolar()
    _, lowered = assert_exact(b.model())
    assert str(lowered.get_tensor_datatype(lowered.graph.output[0].name)) == "BIPOLAR"


def test_flatten_op_instead_of_reshape(rng):
    b = image_head()
    b.bipolar()
    b.conv(signs(rng, (3, 2, 3, 3)))
    bn(b, rng)
    b.bipolar()
    b.node("Flatten", [b.tensor], out_shape=[1, 48], axis=1)
    b.matmul(signs(rng, (48, 3)))
    assert_exact(b.model())


@pytest.mark.parametrize("trans_b,alpha,beta,bias", [(0, 1.0, 1.0, False), (1, 1.0, 1.0, True),
                                                     (1, 0.5, 2.0, True), (0, 2.0, 1.0, False)])
def test_gemm_export(rng, trans_b, alpha, beta, bias):
    b = GraphBuilder([1, 8])
    b.sub(np.float32(127.5))
    b.bipolar()
    w = signs(rng, (4, 8) if trans_b else (8, 4))
    ins = [b.tensor, b.const(w)] + ([b.const(rng.normal(size=4).astype(np.float32))] if bias else [])
    b.node("Gemm", ins, out_shape=[1, 4], transB=trans_b, alpha=alpha, beta=beta)
    bn(b, rng)
    b.bipolar()
    b.node("Gemm", [b.tensor, b.const(signs(rng, (4, 3)))], out_shape=[1, 3])
    assert_exact(b.model())


def test_conv_without_optional_attributes(rng):
    b = image_head()
    b.bipolar()
    b.node("Conv", [b.tensor, b.const(signs(rng, (3, 2, 3, 3)))], out_shape=[1, 3, 4, 4])
    bn(b, rng)
    b.bipolar()
    b.flatten()
    b.matmul(signs(rng, (48, 3)))
    assert_exact(b.model())


def test_rectangular_kernels_strides_and_asymmetric_padding(rng):
    b = GraphBuilder([1, 3, 7, 9])
    b.mul(np.float32(1 / 128))
    b.sub(np.float32(1))
    b.quant(2.0**-7)
    b.conv(signs(rng, (4, 3, 1, 3)), strides=[2, 1], pads=[0, 1, 1, 0])
    bn(b, rng)
    b.bipolar()
    b.conv(signs(rng, (5, 4, 3, 2)), strides=[1, 2])
    bn(b, rng)
    b.bipolar()
    b.maxpool([1, 2], [1, 1])
    b.flatten()
    b.matmul(signs(rng, (int(np.prod(b.shape)), 4)))
    assert_exact(b.model())


def test_integer_maxpool_before_first_conv(rng):
    """A max-pool on the INT8 input tensor (unit quantiser scale) becomes an integer hardware MaxPool."""
    b = image_head()
    b.mul(np.float32(100))
    b.quant(1.0)
    b.maxpool([2, 2], [2, 2])
    b.conv(signs(rng, (3, 2, 2, 2)))
    bn(b, rng)
    b.bipolar()
    b.flatten()
    b.matmul(signs(rng, (12, 3)))
    _, lowered = assert_exact(b.model())
    pools = [n for n in lowered.graph.node if n.op_type == "MaxPool"]
    assert len(pools) == 1 and pools[0].domain == "fpgabnn.hw"


@pytest.mark.parametrize("where", ["conv", "maxpool", "flatten"])
def test_power_of_two_bipolar_scale(rng, where):
    """BipolarQuant with scale 0.5 lowers exactly before a conv, a max-pool or a flatten (the scalar Mul is moved
    past the pool/reshape and recorded as provenance)."""
    b = image_head()
    b.bipolar()
    b.conv(signs(rng, (3, 2, 3, 3)))
    bn(b, rng)
    b.bipolar(0.5)
    if where == "conv":
        b.conv(signs(rng, (3, 3, 3, 3)))
        bn(b, rng)
        b.bipolar()
    elif where == "maxpool":
        b.maxpool([2, 2], [2, 2])
    b.flatten()
    b.matmul(signs(rng, (int(np.prod(b.shape)), 3)))
    assert_exact(b.model())


def test_unit_pixel_range_equals_explicit_division(rng):
    """pixel_range='unit' on a [0, 1] model == pixel_range='raw' on the same model with an explicit /255."""
    def model(div):
        r = np.random.default_rng(1)
        b = GraphBuilder([1, 2, 5, 5])
        if div:
            b.div(np.float32(255))
        b.mul(np.float32(2))
        b.sub(np.float32(1))
        b.quant(2.0**-7)
        b.conv(signs(r, (3, 2, 3, 3)), pads=[1, 1, 1, 1])
        bn(b, r)
        b.bipolar()
        b.flatten()
        b.matmul(signs(r, (75, 3)))
        return b.model()

    src_unit, low_unit = assert_exact(model(False), "unit")
    src_raw, low_raw = assert_exact(model(True), "raw")
    images = images_for(src_unit)
    assert np.array_equal(run_qonnx(low_unit, images), run_qonnx(src_raw, images))
    def thresholds(m):
        return [m.get_initializer(n.input[1]) for n in m.graph.node if n.op_type == "Thresholding"][0]

    assert np.array_equal(thresholds(low_unit), thresholds(low_raw))


def test_hw_chain_is_one_stream(rng):
    """After lowering, the accelerator part is a chain of fpgabnn.hw nodes with UINT8 input, each feeding the
    next, with the layout transposes outside."""
    from fpgabnn.transforms.pipeline import split_dataflow

    b = image_head(3, 8, 8)
    b.quant(2.0**-7)
    b.conv(signs(rng, (4, 3, 3, 3)), pads=[1, 1, 1, 1])
    bn(b, rng)
    b.bipolar()
    b.maxpool([2, 2], [2, 2])
    b.conv(signs(rng, (4, 4, 3, 3)))
    bn(b, rng)
    b.bipolar()
    b.flatten()
    b.matmul(signs(rng, (16, 5)))
    bn(b, rng)
    b.bipolar()
    b.matmul(signs(rng, (5, 3)))
    _, lowered = assert_exact(b.model())
    split = split_dataflow(lowered)
    assert [n.op_type for n in split.hw] == ["Thresholding", "SlidingWindow", "MVAU", "MaxPool", "SlidingWindow",
                                             "MVAU", "MVAU", "MVAU"]
    assert all(n.op_type == "Transpose" for n in split.pre) and len(split.pre) == 1
    assert not any(n.op_type == "Transpose" for n in split.post)
    assert str(lowered.get_tensor_datatype(split.hw_input)) == "UINT8"


def test_lowering_leaves_source_alone_and_is_deterministic(rng):
    """The reference must not change under lowering, and two lowerings agree (up to qonnx's random tensor
    names, which GiveReadableTensorNames canonicalises)."""
    from qonnx.transformation.general import GiveReadableTensorNames

    from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source

    b = image_head()
    b.quant(2.0**-7)
    b.conv(signs(rng, (3, 2, 3, 3)), pads=[1, 1, 1, 1])
    bn(b, rng)
    b.bipolar()
    b.maxpool([2, 2], [2, 2])
    b.flatten()
    b.matmul(signs(rng, (27, 3)))
    model = b.model()
    raw = model.model.SerializeToString()
    source = prepare_source(model)
    assert model.model.SerializeToString() == raw
    before = source.model.SerializeToString()
    first, second = lower_to_hw(source), lower_to_hw(source)
    assert source.model.SerializeToString() == before
    canon = [m.transform(GiveReadableTensorNames()).model.SerializeToString() for m in (first, second)]
    assert canon[0] == canon[1]
