"""finn-plus's side of the interop, run INSIDE finn-plus's environment (never imported by fpgabnn):

    PYTHON_WITH_FINN fpgabnn/finn/runner.py execute MODEL.onnx INPUTS.npy OUTPUTS.npy
    PYTHON_WITH_FINN fpgabnn/finn/runner.py streamline QONNX.onnx OUT.onnx --target-fps F [--board B] [--pixel-range unit|raw]

``execute``: finn-plus loads every node of a dataflow graph through its own registry, checks it
(verify_node, stream widths, folded shapes), replaces each HLS/RTL-specialised node by its hardware abstraction
layer with finn-plus's ``despecialize_model`` and runs its Python execution (``finn.core.onnx_exec``) on each
input; the outputs go to OUTPUTS.npy.
``streamline``: finn-plus's own build steps from QONNX to specialised, folded hardware layers; OUT.onnx is the
dataflow partition (what FINN's later steps consume). If a step fails, the last graph before it is written.
Both print one JSON line on stdout (finn-plus's logging goes to stderr); exit 0 when the line was printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

FAKE_VIVADO = "/nonexistent/Xilinx/Vivado/2024.2"  # finn-plus reads the Vivado version from this path


def _quiet_finn():
    """finn-plus reads settings and a build directory at import; keep them in a temporary directory."""
    tmp = tempfile.mkdtemp(prefix="fpgabnn_finn_")
    os.environ.setdefault("XILINX_VIVADO", FAKE_VIVADO)
    os.environ.setdefault("FINN_BUILD_DIR", tmp)
    os.environ.setdefault("FINN_SETTINGS", str(Path(tmp) / "settings.yaml"))
    import finn.xsi

    finn.xsi.SimEngine = None  # the Vivado simulator binding; Python execution never uses it
    return tmp


def cmd_execute(args) -> dict:
    import numpy as np
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from finn.core.onnx_exec import execute_onnx
    from finn.util.verification import despecialize_model

    model = ModelWrapper(args.model)
    layers = []
    for node in model.graph.node:
        inst = getCustomOp(node)  # raises for an op finn-plus does not know
        try:
            problems = [m for m in (inst.verify_node() or []) if "not" in m.lower() or "should" in m.lower()]
        except NotImplementedError:  # e.g. finn-plus's own Shuffle has no verify_node
            problems = []
        widths = (inst.get_instream_width(), inst.get_outstream_width())
        inst.get_folded_input_shape(), inst.get_folded_output_shape()
        exp = None
        with contextlib.suppress(Exception):
            exp = int(inst.get_exp_cycles())
        layers.append({"name": node.name, "op_type": node.op_type, "domain": node.domain, "problems": problems,
                       "in_width": int(widths[0]), "out_width": int(widths[1]), "exp_cycles": exp})
    if args.codegen:  # finn-plus's own step_hw_codegen (PrepareIP: HLS C++ / RTL wrappers; no Vivado needed)
        import finn.builder.build_dataflow_config as bcfg
        from finn.builder.build_dataflow_steps import step_hw_codegen

        cfg = bcfg.DataflowBuildConfig(output_dir=args.codegen, synth_clk_period_ns=10.0, target_fps=None,
                                       folding_config_file=None, fpga_part="xc7z020clg400-1", steps=[],
                                       generate_outputs=[])
        generated = step_hw_codegen(ModelWrapper(args.model), cfg)
        dirs = [getCustomOp(n).get_nodeattr("code_gen_dir_ipgen") for n in generated.graph.node]
        codegen = {"nodes": len(dirs), "with_sources": sum(bool(d) and any(Path(d).iterdir()) for d in dirs)}
    else:
        codegen = None
    plain = despecialize_model(model)
    xs = np.load(args.inputs)
    iname, oname = plain.graph.input[0].name, plain.graph.output[0].name
    ishape = plain.get_tensor_shape(iname)
    outs = [execute_onnx(plain, {iname: x.reshape(ishape).astype(np.float32)})[oname].reshape(-1) for x in xs]
    np.save(args.outputs, np.stack(outs))
    return {"ok": True, "layers": layers, "samples": len(xs), "codegen": codegen}


def cmd_streamline(args) -> dict:
    import numpy as np
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    import finn.builder.build_dataflow_config as bcfg
    from finn.builder.build_dataflow import resolve_build_steps

    work = Path(tempfile.mkdtemp(prefix="fpgabnn_streamline_"))
    model = ModelWrapper(args.model)
    graph_in = model.graph.input[0]
    if args.pixel_range == "unit":  # as FINN's BNN-PYNQ examples: UINT8 pixels / 255 in front
        pixels = helper.make_tensor_value_info("pixels_uint8", TensorProto.FLOAT,
                                               [d.dim_value for d in graph_in.type.tensor_type.shape.dim])
        model.set_initializer("pixel_scale_255", np.asarray(255.0, dtype=np.float32))
        model.graph.node.insert(0, helper.make_node("Div", ["pixels_uint8", "pixel_scale_255"], [graph_in.name]))
        model.graph.value_info.append(graph_in)
        model.graph.input.remove(graph_in)
        model.graph.input.insert(0, pixels)
        model.set_tensor_datatype("pixels_uint8", DataType["UINT8"])
    else:
        model.set_tensor_datatype(graph_in.name, DataType["UINT8"])
    if args.topk:  # as FINN's BNN-PYNQ examples: the top-k label select becomes a LabelSelect layer
        from qonnx.transformation.infer_shapes import InferShapes
        from qonnx.transformation.insert_topk import InsertTopK

        model = model.transform(InsertTopK(k=args.topk)).transform(InferShapes())
    cfg = bcfg.DataflowBuildConfig(
        output_dir=str(work), synth_clk_period_ns=10.0, target_fps=int(args.target_fps),
        board="Pynq-Z2", fpga_part="xc7z020clg400-1",
        steps=list(bcfg.estimate_only_dataflow_steps)[: bcfg.estimate_only_dataflow_steps.index(args.until) + 1],
        generate_outputs=[bcfg.DataflowOutputType.ESTIMATE_REPORTS],
    )
    record = {"ok": False, "steps": [], "failed_step": None, "error": None}
    last_dataflow = None  # after step_create_dataflow_partition the model is the accelerator's partition
    for step in resolve_build_steps(cfg):
        try:
            model = step(model, cfg)
        except Exception as err:  # noqa: BLE001 - reported, the last good graph is kept
            tb = traceback.extract_tb(err.__traceback__)
            record["failed_step"] = step.__name__
            record["error"] = f"{type(err).__name__}: {str(err).strip() or (tb[-1].line if tb else '')}"
            break
        record["steps"].append(step.__name__)
        if last_dataflow is not None or step.__name__ == "step_create_dataflow_partition":
            last_dataflow = model
    if last_dataflow is None:
        record["error"] = record["error"] or "finn-plus stopped before the dataflow partition"
        return record
    last_dataflow.save(args.output)
    record["ok"] = record["failed_step"] is None
    record["output"] = args.output
    record["op_types"] = sorted({n.op_type for n in last_dataflow.graph.node})
    return record


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("execute")
    e.add_argument("model")
    e.add_argument("inputs")
    e.add_argument("outputs")
    e.add_argument("--codegen", default=None, metavar="DIR", help="also run finn-plus's step_hw_codegen into DIR")
    s = sub.add_parser("streamline")
    s.add_argument("model")
    s.add_argument("output")
    s.add_argument("--target-fps", type=float, default=1000.0)
    s.add_argument("--pixel-range", choices=("unit", "raw"), default="unit")
    s.add_argument("--until", default="step_minimize_bit_width")
    s.add_argument("--topk", type=int, default=0)
    args = p.parse_args(argv)
    stdout = sys.stdout
    sys.stdout = sys.stderr  # finn-plus prints; only the JSON line goes to stdout
    tmp = None
    try:
        tmp = _quiet_finn()
        record = cmd_execute(args) if args.cmd == "execute" else cmd_streamline(args)
    except Exception as err:  # noqa: BLE001 - reported as JSON
        tb = traceback.extract_tb(err.__traceback__)
        record = {"ok": False, "error": f"{type(err).__name__}: {str(err).strip() or (tb[-1].line if tb else '')}",
                  "where": f"{tb[-1].filename}:{tb[-1].lineno}" if tb else None}
    finally:
        sys.stdout = stdout
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
