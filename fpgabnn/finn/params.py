"""The per-layer hardware facts the FINN writer consumes: each layer's ``hw_params(model)`` (CONTRACTS.md A),
the same frozen parameters the estimates and the HLS and RTL backends are made from."""

from __future__ import annotations

import numpy as np
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.errors import UserError
from fpgabnn.hw.base import DOMAIN


def layer_params(model, node):
    """The node's hardware parameters, with its weight/threshold arrays."""
    if node.domain != DOMAIN:
        raise UserError(f"node '{node.name}' ({node.op_type}) is not an fpgabnn hardware layer; "
                        "pass a build directory written by `fpgabnn build`")
    return getCustomOp(node).hw_params(model)


def unpack_weight_bits(bits: np.ndarray, mw: int, mh: int) -> np.ndarray:
    """MVAUParams.weights uint8[PE, NF*SF, SIMD] (bit s of (p, nf*SF + sf) = W[sf*SIMD + s][nf*PE + p]) ->
    uint8[MW, MH], FINN's ONNX weight layout (1 = +1); the inverse of fpgabnn.hw.mvau.pack_weight_bits."""
    pe, _, simd = bits.shape
    return bits.reshape(pe, mh // pe, mw // simd, simd).transpose(2, 3, 1, 0).reshape(mw, mh)
