"""Test scaffolding for the HLS kernels: single-layer qonnx models, and a harness that compiles many
layer configurations into one C++ program (one g++ run per batch of cases) and checks every case
against the layer's numpy reference (its qonnx ``execute_node``)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from fpgabnn.codegen.hls import TEMPLATE_ROOT, template_env
from fpgabnn.codegen.hls_contexts import layer_context
from fpgabnn.hw.base import DOMAIN
from fpgabnn.sim.csim import compile_cpp
from fpgabnn.sim.packing import pack_words, unpack_words

HERE = Path(__file__).resolve().parent


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def chain_model(layers: list[tuple], in_shape, in_dtype: str) -> ModelWrapper:
    """A model of fpgabnn.hw nodes in a chain. ``layers``: (op_type, attrs, {input_suffix: initializer})
    in order; initializers are attached as the node's 2nd, 3rd... inputs in the given order."""
    nodes, inits, tensor = [], {}, "x"
    for i, (op, attrs, params) in enumerate(layers):
        names = [f"{op.lower()}{i}_{k}" for k in params]
        out = f"t{i}"
        nodes.append(helper.make_node(op, [tensor, *names], [out], domain=DOMAIN, name=f"{op}_{i}", **attrs))
        inits.update(zip(names, params.values()))
        tensor = out
    graph = helper.make_graph(nodes, "chain", [_vi("x", in_shape)], [_vi(tensor, [1])])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="fpgabnn-tests"))
    for name, value in inits.items():
        model.set_initializer(name, np.asarray(value, dtype=np.float32))
    model.set_tensor_datatype("x", DataType[in_dtype])
    for node in model.graph.node:  # shapes and datatypes from the hw layers themselves
        inst = getCustomOp(node)
        out = node.output[0]
        model.set_tensor_shape(out, list(inst.out_shape()))
        model.set_tensor_datatype(out, inst.out_dtype())
    return model


def single_model(op: str, attrs: dict, params: dict, in_shape, in_dtype: str) -> ModelWrapper:
    return chain_model([(op, attrs, params)], in_shape, in_dtype)


@dataclass
class Case:
    """One kernel run: its template context, input frames and how to pack / unpack them."""

    ctx: dict
    x: np.ndarray  # [N, ...] value domain
    expected: np.ndarray  # [N, ...] value domain
    in_dtype: str
    in_epw: int
    out_dtype: str
    out_epw: int
    label: str = ""


def layer_case(model: ModelWrapper, x: np.ndarray, label: str = "") -> Case:
    """A case for the single hw node of ``model``, expected output from its execute_node."""
    (node,) = model.graph.node
    inst = getCustomOp(node)
    context = {node.input[0]: x.astype(np.float32)}
    for name in node.input[1:]:
        context[name] = model.get_initializer(name)
    inst.execute_node(context, model.graph)
    return Case(layer_context(node, model), x, context[node.output[0]].astype(np.int64),
                inst.in_dtype().name, inst.in_elems_per_word(), inst.out_dtype().name,
                inst.out_elems_per_word(), label or node.name)


def run_cases(cases: list[Case], workdir: Path, cache_dir: Path, defines: tuple = ()) -> list[np.ndarray]:
    """Compile all cases into one program (cached by source hash), run it, return the outputs."""
    workdir.mkdir(parents=True, exist_ok=True)
    ctxs = [{**c.ctx, "name": f"case{i}"} for i, c in enumerate(cases)]  # unique parameter names
    src = template_env(extra_dirs=(HERE,)).get_template("harness.cpp.j2").render(cases=ctxs)
    (workdir / "harness.cpp").write_text(src)
    binary = compile_cpp([workdir / "harness.cpp"], [TEMPLATE_ROOT], cache_dir, name="harness", defines=defines)
    for i, c in enumerate(cases):
        lines = [str(len(c.x))]
        for frame in c.x:
            lines += [f"{w:x}" for w in pack_words(frame, c.in_dtype, c.in_epw)]
        (workdir / f"case_{i}.in").write_text("\n".join(lines) + "\n")
    res = subprocess.run([str(binary), str(workdir)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr + res.stdout[-2000:]
    outs = []
    for i, c in enumerate(cases):
        words = [int(s, 16) for s in (workdir / f"case_{i}.out").read_text().split()]
        y = unpack_words(words, c.out_dtype, c.out_epw)
        outs.append(y.reshape(c.expected.shape))
    return outs


def check_cases(cases: list[Case], workdir: Path, cache_dir: Path, defines: tuple = ()) -> None:
    outs = run_cases(cases, workdir, cache_dir, defines)
    bad = [c.label for c, y in zip(cases, outs) if not np.array_equal(y, c.expected)]
    assert not bad, f"C simulation differs from the reference for: {bad}"


def bipolar(rng, shape) -> np.ndarray:
    return rng.choice(np.array([-1, 1]), size=shape)


def ints(rng, dtype: str, shape) -> np.ndarray:
    dt = DataType[dtype]
    if dt == DataType["BIPOLAR"]:
        return bipolar(rng, shape)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape)
