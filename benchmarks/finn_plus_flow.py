"""finn-plus's estimate-only flow on one QONNX file; prints one JSON line (the benchmark's finn-plus side).

Runs INSIDE benchmarks/.finnenv (made by benchmarks/setup_finn_plus.sh), never in fpgabnn's environment:

    benchmarks/.finnenv/bin/python benchmarks/finn_plus_flow.py MODEL.onnx --target-fps 100000 --board pynq-z2

The steps are finn-plus's own ``estimate_only_dataflow_steps`` (QONNX -> FINN, tidy, streamline, convert to
hardware layers, bit-width minimisation, dataflow partition, specialisation to HLS/RTL, SetFolding for the
target fps, estimate reports), called one by one as ``build_dataflow_cfg`` does, so a failure is reported with
the step it happened in. Wall time is measured from this process's start, imports included, as a user
running finn-plus would see it.

finn-plus's builder module imports Vivado's RTL simulator (XSI) binding at import time, and refuses to load
without a Vivado installation; the estimate-only steps never simulate, so the lazily bound name is set to a
placeholder before the import (see ``_import_builder``). No other part of finn-plus is changed.

Exit code 0 when the JSON line was printed (``"ok"`` says whether the flow succeeded), 2 on bad arguments.
"""

from __future__ import annotations

import time

T_START = time.time()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

BOARDS = {  # our board name: (finn-plus's board name, part)
    "pynq-z1": ("Pynq-Z1", "xc7z020clg400-1"),
    "pynq-z2": ("Pynq-Z2", "xc7z020clg400-1"),
    "ultra96": ("Ultra96", "xczu3eg-sbva484-1-e"),
    "ultra96-v2": ("Ultra96-V2", "xczu3eg-sbva484-1-i"),
    "zcu102": ("ZCU102", "xczu9eg-ffvb1156-2-e"),
    "zcu104": ("ZCU104", "xczu7ev-ffvc1156-2-e"),
    "kv260": ("KV260_SOM", "xck26-sfvc784-2LV-c"),
}
FAKE_VIVADO = "/nonexistent/Xilinx/Vivado/2024.2"  # finn-plus parses the Vivado version out of this path
RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
FOLDING_ATTRS = ("PE", "SIMD", "mem_mode", "ram_style", "resType")


def process_start_time() -> float:
    """Wall-clock time this process was created (falls back to the first line of this script)."""
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - psutil is optional here
        return T_START


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="QONNX file (.onnx)")
    fold = p.add_mutually_exclusive_group(required=True)
    fold.add_argument("--target-fps", type=float, help="frames per second SetFolding aims at")
    fold.add_argument("--folding", help="a FINN folding config JSON applied instead of SetFolding "
                                        "(finn-plus's folding_config_file)")
    p.add_argument("--board", default="pynq-z2", help=f"one of {', '.join(BOARDS)} (default pynq-z2)")
    p.add_argument("--clock-mhz", type=float, default=100.0, help="clock the fps is estimated at (default 100)")
    p.add_argument("--pixel-range", choices=("unit", "raw"), default="unit",
                   help="unit: the model takes pixels/255 in [0, 1] (Brevitas' BNN-PYNQ models), so a division by "
                        "255 of UINT8 input is prepended, as FINN's BNN-PYNQ examples do; raw: the model takes "
                        "0..255 itself (default unit)")
    p.add_argument("--topk", type=int, default=0, help="append TopK(k) as FINN's examples do (default 0: none)")
    p.add_argument("--build-dir", default=None,
                   help="keep finn-plus's outputs (reports, intermediate models) here (default: a temporary "
                        "directory, removed)")
    p.add_argument("--json-out", default=None, help="also append the JSON line to this file (JSON Lines)")
    p.add_argument("--check", type=int, default=0, metavar="N",
                   help="after timing, run N random UINT8 images through finn-plus's streamlined and hardware-layer "
                        "graphs (Python execution) and count outputs that differ from the source model (default 0)")
    args = p.parse_args(argv)
    if args.board not in BOARDS:
        p.error(f"unknown board {args.board!r}; choose from {', '.join(BOARDS)}")
    if not Path(args.model).is_file():
        p.error(f"model file {args.model} does not exist")
    if args.check < 0:
        p.error("--check must be >= 0")
    if (args.target_fps is not None and args.target_fps <= 0) or args.clock_mhz <= 0:
        p.error("--target-fps and --clock-mhz must be positive")
    if args.folding and not Path(args.folding).is_file():
        p.error(f"folding file {args.folding} does not exist")
    return args


def _import_builder():
    """finn-plus's builder with the XSI (Vivado simulator) binding replaced by a placeholder."""
    os.environ.setdefault("XILINX_VIVADO", FAKE_VIVADO)
    import finn.xsi

    finn.xsi.SimEngine = None  # the estimate-only flow never runs RTL simulation
    import finn.builder.build_dataflow_config as bcfg
    from finn.builder.build_dataflow import resolve_build_steps

    return bcfg, resolve_build_steps


def prepare_input(model_path: Path, work: Path, pixel_range: str, topk: int) -> Path:
    """UINT8 pixel input (and optional TopK) around the model, the way FINN's BNN-PYNQ end-to-end flow does."""
    import numpy as np
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.insert_topk import InsertTopK

    model = ModelWrapper(str(model_path))
    graph_in = model.graph.input[0]
    if pixel_range == "unit":
        pixels = helper.make_tensor_value_info("pixels_uint8", TensorProto.FLOAT,
                                               [d.dim_value for d in graph_in.type.tensor_type.shape.dim])
        scale = "pixel_scale_255"
        model.set_initializer(scale, np.asarray(255.0, dtype=np.float32))
        model.graph.node.insert(0, helper.make_node("Div", [pixels.name, scale], [graph_in.name],
                                                    name="ToTensor_Div"))
        model.graph.value_info.append(graph_in)
        model.graph.input.remove(graph_in)
        model.graph.input.insert(0, pixels)
        model.set_tensor_datatype(pixels.name, DataType["UINT8"])
    else:
        model.set_tensor_datatype(graph_in.name, DataType["UINT8"])
    if topk:
        model = model.transform(InsertTopK(k=topk)).transform(InferShapes())
    out = work / "input_model.onnx"
    model.save(str(out))
    return out


def run_flow(args, out_dir: Path, record: dict) -> None:
    """The estimate-only steps; fills ``record`` as it goes (so a failure keeps what was measured)."""
    t0 = time.time()
    record["failed_step"] = "import"
    bcfg, resolve_build_steps = _import_builder()
    from qonnx.core.modelwrapper import ModelWrapper

    record["import_time_s"] = round(time.time() - t0, 3)
    finn_board, part = BOARDS[args.board]
    cfg = bcfg.DataflowBuildConfig(
        output_dir=str(out_dir),
        synth_clk_period_ns=1000.0 / args.clock_mhz,
        target_fps=int(args.target_fps) if args.target_fps else None,
        folding_config_file=str(Path(args.folding).resolve()) if args.folding else None,
        board=finn_board,
        fpga_part=part,
        steps=list(bcfg.estimate_only_dataflow_steps),
        generate_outputs=[bcfg.DataflowOutputType.ESTIMATE_REPORTS],
    )
    record["failed_step"] = "prepare_input"
    model = ModelWrapper(str(prepare_input(Path(args.model), out_dir, args.pixel_range, args.topk)))
    steps = resolve_build_steps(cfg)
    record["steps"] = [s.__name__ for s in steps]
    timings = record["step_times_s"]
    inter = cfg.get_intermediate_models_directory()
    for step in steps:
        record["failed_step"] = step.__name__
        t = time.time()
        model = step(model, cfg)
        model.save(str(inter / f"{step.__name__}.onnx"))  # as build_dataflow_cfg does (save_intermediate_models)
        timings[step.__name__] = round(time.time() - t, 3)
    record["failed_step"] = "read_reports"
    collect_estimates(model, cfg, args, record)
    record["failed_step"] = None
    record["flow_time_s"] = round(time.time() - t0, 3)


def check_outputs(source: Path, inter: Path, n: int, seed: int = 0) -> dict:
    """Outputs of finn-plus's intermediate graphs vs. the source graph (qonnx execution) on random pixels.

    The specialised HLS/RTL layers execute only in C++/RTL simulation (Vivado/Vitis), so the last graphs checked
    are the streamlined one and those with generic hardware layers (before and after bit-width minimisation and
    threshold rounding/clipping), which finn-plus executes in Python.
    """
    import numpy as np
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx as qonnx_exec

    from finn.core.onnx_exec import execute_onnx as finn_exec

    ref_model = ModelWrapper(str(source))
    shape = ref_model.get_tensor_shape(ref_model.graph.input[0].name)
    rng = np.random.default_rng(seed)
    xs = rng.integers(0, 256, size=(n, *shape[1:])).astype(np.float32)
    ref = [qonnx_exec(ref_model, {ref_model.graph.input[0].name: x[None]})[ref_model.graph.output[0].name]
           for x in xs]
    result = {"samples": n}
    for step in ("step_streamline", "step_convert_to_hw", "step_minimize_bit_width_initial"):
        path = inter / f"{step}.onnx"
        if not path.exists():
            continue
        m = ModelWrapper(str(path))
        bad, worst, argmax_bad = 0, 0.0, 0
        for x, want in zip(xs, ref):
            got = finn_exec(m, {m.graph.input[0].name: x[None]})[m.graph.output[0].name].reshape(want.shape)
            diff = float(np.max(np.abs(got - want)))
            worst = max(worst, diff)
            bad += int(not np.allclose(got, want, rtol=1e-4, atol=1e-4))
            argmax_bad += int(np.argmax(got) != np.argmax(want))
        result[step] = {"mismatched_outputs": bad, "argmax_mismatches": argmax_bad, "max_abs_diff": worst}
    return result


def collect_estimates(model, cfg, args, record: dict) -> None:
    """Per-layer cycles/resources and totals from the reports step_generate_estimate_reports wrote."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    report = cfg.get_report_directory()
    cycles = json.loads((report / "estimate_layer_cycles.json").read_text())
    res = json.loads((report / "estimate_layer_resources.json").read_text())
    perf = json.loads((report / "estimate_network_performance.json").read_text())
    layers = []
    for node in model.graph.node:
        inst = getCustomOp(node)
        attrs = {}
        for a in FOLDING_ATTRS:
            with contextlib.suppress(Exception):
                attrs[a] = inst.get_nodeattr(a)
        layer_res = res.get(node.name, {})
        layers.append({"name": node.name, "op_type": node.op_type, **attrs,
                       "cycles": int(cycles.get(node.name, 0)),
                       **{k: layer_res.get(k) for k in RESOURCES if k in layer_res}})
    total = res.get("total", {})
    record["layers"] = layers
    record["total_cycles"] = int(sum(layer["cycles"] for layer in layers))
    record["max_cycles"] = int(perf["max_cycles"])
    record["max_cycles_node"] = perf.get("max_cycles_node_name")
    record["critical_path_cycles"] = int(perf["critical_path_cycles"])
    record["estimated_fps"] = perf["estimated_throughput_fps"]
    record["estimated_latency_ns"] = perf["estimated_latency_ns"]
    for k in RESOURCES:
        record[k] = total.get(k)
    record["BRAM36"] = None if total.get("BRAM_18K") is None else total["BRAM_18K"] / 2
    parent = Path(cfg.get_intermediate_models_directory()) / "dataflow_parent.onnx"
    if parent.exists():
        record["outside_dataflow"] = [n.op_type for n in ModelWrapper(str(parent)).graph.node
                                      if n.op_type != "StreamingDataflowPartition"]


def failure(err: BaseException) -> dict:
    """Exception type, message and (for a bare assert) the failing source line inside finn/qonnx."""
    tb = traceback.extract_tb(err.__traceback__)
    inner = next((f for f in reversed(tb) if "/finn/" in f.filename or "/qonnx/" in f.filename), tb[-1] if tb else None)
    msg = str(err).strip()
    where = None
    if inner is not None:
        short = inner.filename.split("site-packages/")[-1]
        where = f"{short}:{inner.lineno} ({inner.name})"
        if not msg and inner.line:
            msg = inner.line.strip()
    trace = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno} ({f.name})" for f in tb
             if "/finn/" in f.filename or "/qonnx/" in f.filename][-6:]
    return {"error_type": type(err).__name__, "error": " ".join(msg.split())[:2000], "error_location": where,
            "error_trace": trace}


def main(argv=None) -> int:
    args = parse_args(argv)
    started = process_start_time()
    record = {"tool": "finn-plus", "tool_version": None, "model": str(args.model), "model_name": Path(args.model).stem,
              "board": args.board, "fpga_part": BOARDS[args.board][1], "clock_mhz": args.clock_mhz,
              "target_fps": args.target_fps, "folding": args.folding, "pixel_range": args.pixel_range, "topk": args.topk,
              "ok": False, "failed_step": None, "error_type": None, "error": None, "error_location": None,
              "error_trace": [], "step_times_s": {}, "loadavg_1min": os.getloadavg()[0]}
    with contextlib.ExitStack() as stack:
        if args.build_dir:
            out_dir = Path(args.build_dir).resolve()
            out_dir.mkdir(parents=True, exist_ok=True)
        else:
            out_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="finn-plus-flow-")))
        os.environ.setdefault("FINN_BUILD_DIR", str(out_dir / "finn_build_dir"))
        os.environ.setdefault("FINN_SETTINGS", str(out_dir / "finn_settings.yaml"))  # not written; keeps ~ clean
        Path(os.environ["FINN_BUILD_DIR"]).mkdir(parents=True, exist_ok=True)
        try:
            # finn-plus prints progress on stdout; the JSON line must be the only thing there
            with contextlib.redirect_stdout(sys.stderr):
                run_flow(args, out_dir, record)
            record["ok"] = True
        except Exception as err:  # noqa: BLE001 - any finn-plus failure is a result to report
            record.update(failure(err))
        record["wall_time_s"] = round(time.time() - started, 3)
        try:
            if args.check:
                with contextlib.redirect_stdout(sys.stderr):
                    record["check"] = check_outputs(out_dir / "input_model.onnx", out_dir / "intermediate_models",
                                                    args.check)
        except Exception as err:  # noqa: BLE001 - a check that cannot run is reported, not fatal
            record["check"] = {"samples": args.check, **failure(err)}
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            record["tool_version"] = version("finn-plus")
        if args.build_dir:
            record["build_dir"] = str(out_dir)
    line = json.dumps(record)
    if args.json_out:
        with open(args.json_out, "a") as f:
            f.write(line + "\n")
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
