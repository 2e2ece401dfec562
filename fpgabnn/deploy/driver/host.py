"""The host's share of the model (numpy only): the layout ops before the accelerator and the float tail after
it, run exactly as qonnx runs them (float32 IEEE arithmetic, same operand order), so the driver's output
equals qonnx execution of the source model bit for bit.

The build serialises each part as a list of ``{"op", "inputs", "output", "attrs"}`` records in graph order
(``accel.json``) plus the constant operands (``host_params.npz``); ``SUPPORTED`` is what can run here (and the
input quantiser of a ``--host-threshold`` build, from its table), and the build refuses any other host op.
"""

from __future__ import annotations

import numpy as np


def _reshape(x, shape):
    shape = [int(s) for s in shape]
    if shape and shape[0] == 1 and x.shape[0] != 1:  # the exported graph has batch 1: keep the batch
        shape = [x.shape[0]] + shape[1:]
    return x.reshape([x.shape[i] if s == 0 else s for i, s in enumerate(shape)])


def _host_threshold(x, table):
    """The input quantiser moved to the host (--host-threshold): host_threshold.apply_table, on whole input
    values of the table's input type only (it compares integers)."""
    from .host_threshold import apply_table

    if not np.array_equal(x, np.rint(x)):
        raise ValueError("input values must be whole numbers (raw 0..255 pixels); round or quantise them first")
    bits, kind = int(table["in_bits"]), table["in_kind"]
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if kind == "signed" else (0, (1 << bits) - 1)
    if x.size and (x.min() < lo or x.max() > hi):
        raise ValueError(f"input values in [{x.min():g}, {x.max():g}] do not fit {kind} {bits}-bit [{lo}, {hi}]")
    return apply_table(x, table).reshape(x.shape).astype(np.float32)


_BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}
SUPPORTED = ("Reshape", "Transpose", "Flatten", "Identity", "Squeeze", "Unsqueeze", *_BINARY)
#: the input quantiser of a --host-threshold build (a MultiThreshold in the graph), run from its table
HOST_THRESHOLD = "HostThreshold"


def run_ops(ops: list, params: dict, inputs: dict) -> dict:
    """Execute ``ops`` on the named tensors ``inputs`` (constants in ``params``); returns every tensor."""
    env = dict(inputs)

    def get(name):
        if name in env:
            return env[name]
        return params[name]

    for op in ops:
        kind, a = op["op"], op.get("attrs", {})
        ins = [get(n) for n in op["inputs"]]
        if kind in _BINARY:
            x, y = (np.asarray(v, dtype=np.float32) for v in ins)
            out = _BINARY[kind](x, y).astype(np.float32)
        elif kind == "Reshape":
            out = _reshape(ins[0], ins[1] if len(ins) > 1 else a["shape"])
        elif kind == "Transpose":
            out = np.transpose(ins[0], a.get("perm"))
        elif kind == "Flatten":
            axis = int(a.get("axis", 1))
            out = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
        elif kind == "Identity":
            out = ins[0]
        elif kind == "Squeeze":
            axes = ins[1] if len(ins) > 1 else a.get("axes")
            out = np.squeeze(ins[0], axis=tuple(int(v) for v in axes) if axes is not None else None)
        elif kind == "Unsqueeze":
            axes = ins[1] if len(ins) > 1 else a["axes"]
            out = np.expand_dims(ins[0], tuple(int(v) for v in axes))
        elif kind == HOST_THRESHOLD:
            out = _host_threshold(np.asarray(ins[0]), params[a["table"]])
        else:
            raise ValueError(f"host op {kind} is not supported by the driver (supported: {', '.join(SUPPORTED)})")
        env[op["output"]] = out
    return env
