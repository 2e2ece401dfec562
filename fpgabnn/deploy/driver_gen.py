"""The build step that writes ``driver/``: the numpy-only runtime (fpgabnn/deploy/driver/, copied verbatim),
``accel.json`` (accelerator I/O, the host pre/post ops split off by ``split_dataflow``, where the bitfile and
the simulators are) and ``host_params.npz`` (the host ops' constant operands)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from fpgabnn.deploy.driver.host import HOST_THRESHOLD, SUPPORTED
from fpgabnn.deploy.driver.host_threshold import TABLE_FILE
from fpgabnn.errors import UserError

DRIVER_SRC = Path(__file__).resolve().parent / "driver"
DRIVER_FILES = ("__init__.py", "accelerator.py", "frames.py", "host.py", "host_threshold.py", "transport.py")
#: copied beside driver/ into the build (and the package): accuracy and fps on a labelled test set
VALIDATE = "validate.py"


def _kind(dt: DataType) -> str:
    if dt == DataType["BIPOLAR"]:
        return "bipolar"
    return "signed" if dt.signed() else "unsigned"


def _attr(a):
    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (list, tuple)):
        return [x.decode() if isinstance(x, bytes) else x for x in v]
    if isinstance(v, (int, float, str)):
        return v
    raise UserError(f"host op attribute '{a.name}' is a tensor or graph the driver cannot serialise; "
                    "remove that op from the model's pre/post-processing")


def host_ops(model: ModelWrapper, nodes: list, where: str, params: dict, host_threshold_output: str | None = None) -> list:
    """Records of the host ops ``nodes`` (refusing any the driver cannot run); constants go into ``params``.
    The MultiThreshold producing ``host_threshold_output`` (a --host-threshold build) runs from its table."""
    ops = []
    for node in nodes:
        if node.op_type == "MultiThreshold" and host_threshold_output and node.output[0] == host_threshold_output:
            ops.append({"op": HOST_THRESHOLD, "name": node.name, "inputs": [node.input[0]], "output": node.output[0],
                        "attrs": {"table": TABLE_FILE}})
            continue
        if node.op_type not in SUPPORTED:
            raise UserError(f"host {where}-processing op '{node.name}' ({node.op_type}) cannot run in the numpy driver "
                            f"(it runs {', '.join(SUPPORTED)}); move it into the accelerator or out of the model")
        if len(node.output) != 1:
            raise UserError(f"host op '{node.name}' ({node.op_type}) has {len(node.output)} outputs; the driver "
                            "supports single-output host ops")
        for name in node.input:
            init = model.get_initializer(name)
            if init is not None:
                params[name] = np.asarray(init)
        ops.append({"op": node.op_type, "name": node.name, "inputs": list(node.input), "output": node.output[0],
                    "attrs": {a.name: _attr(a) for a in node.attribute}})
    return ops


def driver_config(model: ModelWrapper, board, clock_mhz: float, top: str, design: str, hls_interface: dict,
                  host_threshold: bool = False) -> tuple[dict, dict]:
    from fpgabnn import __version__
    from fpgabnn.transforms.pipeline import split_dataflow

    split = split_dataflow(model)
    params: dict = {}
    pre = host_ops(model, split.pre, "pre", params, split.hw_input if host_threshold else None)
    post = host_ops(model, split.post, "post", params)
    din, dout = model.get_tensor_datatype(split.hw_input), model.get_tensor_datatype(split.hw_output)
    for dt, where in ((din, "input"), (dout, "output")):
        if not dt.is_integer():
            raise UserError(f"accelerator {where} type {dt.name} is not an integer type; lower the model again")
    in_shape, out_shape = model.get_tensor_shape(split.hw_input), model.get_tensor_shape(split.hw_output)
    g_in, g_out = model.graph.input[0].name, model.graph.output[0].name
    io = {"in_shape": list(in_shape), "out_shape": list(out_shape), "in_bits": din.bitwidth(),
          "out_bits": dout.bitwidth(), "in_kind": _kind(din), "out_kind": _kind(dout),
          "in_elems": int(np.prod(in_shape[1:])), "out_elems": int(np.prod(out_shape[1:])),
          "port_width": int(board.axi_port_width)}
    for key in ("port_width", "in_bits", "out_bits", "in_kind", "out_kind", "in_elems", "out_elems"):
        if key in hls_interface and hls_interface[key] != io[key]:  # the generator and the driver must agree
            raise RuntimeError(f"driver {key} {io[key]} differs from hls/interface.json ({hls_interface[key]})")
    cfg = {
        "fpgabnn_version": __version__, "top": top, "design": design, "board": board.name,
        "clock_mhz": clock_mhz, "dma": "dma",
        "bitfile": f"vivado/output/{design}.bit", "bitfile_name": f"{design}.bit",
        "model_input": {"name": g_in, "shape": list(model.get_tensor_shape(g_in))},
        "model_output": {"name": g_out, "shape": list(model.get_tensor_shape(g_out))},
        "hw_input": split.hw_input, "hw_output": split.hw_output, "io": io, "pre": pre, "post": post,
        # simulator binaries (Contract B command line), found by pattern in dir, run in cwd (RTL: its memh files)
        "csim": {"dir": "hls/csim", "pattern": "tb_*", "cwd": "hls"},
        "rtlsim": {"dir": "rtl/sim", "pattern": "sim_*", "cwd": "rtl"},
    }
    return cfg, params


def write_driver(model: ModelWrapper, cfg) -> dict:
    """Write ``cfg.out_dir/driver`` for the build ``cfg`` (a BuildConfig)."""
    out = Path(cfg.out_dir)
    iface_file = out / "hls" / "interface.json"
    iface = json.loads(iface_file.read_text()) if iface_file.is_file() else {}
    flow_file = out / "vivado" / "flow.json"
    design = json.loads(flow_file.read_text())["design"] if flow_file.is_file() else f"{cfg.top_name}_bd"
    host_threshold = bool(getattr(cfg, "host_threshold", False))
    conf, params = driver_config(model, cfg.board, cfg.clock_mhz, cfg.top_name, design, iface, host_threshold)
    ddir = out / "driver"
    ddir.mkdir(exist_ok=True)
    for name in DRIVER_FILES:
        shutil.copyfile(DRIVER_SRC / name, ddir / name)
    shutil.copyfile(DRIVER_SRC / VALIDATE, out / VALIDATE)
    if host_threshold:
        shutil.copyfile(out / TABLE_FILE, ddir / TABLE_FILE)
    (ddir / "accel.json").write_text(json.dumps(conf, indent=2) + "\n")
    with open(ddir / "host_params.npz", "wb") as f:
        np.savez(f, **params)
    return conf
