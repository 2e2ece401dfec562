"""Exact thresholds: evaluate the source graph's float chain on every reachable integer and read off where
the quantiser's output changes (docs/methods.md section 6).

Instead of deriving tau from mu, sigma, gamma, beta and alpha analytically (and getting the rounding right for
every case: negative or zero gamma, negative learned scales, float32 ties), the chain between the integer
accumulator and the quantiser is executed exactly as qonnx executes it, on all reachable accumulator values.
The integer comparison then reproduces the float decision for every reachable value by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from fpgabnn.core.graph import evaluate_chain, node_error
from fpgabnn.errors import UserError

#: rows evaluated per onnxruntime call (bounds memory for wide integer-input layers)
CHUNK_ELEMENTS = 1 << 23


@dataclass
class ChannelThresholds:
    """Per output channel: ``flip[c]`` negates the channel's accumulator, then out = +1 iff acc' >= T[c]."""

    thresholds: np.ndarray  # int64 [C]
    flip: np.ndarray  # bool [C]


def evaluate_on_values(model: ModelWrapper, chain: list, input_name: str, values: np.ndarray, channels: int,
                       spatial_rank: int, step_scale: float) -> np.ndarray:
    """Run ``chain`` with row r of the input holding step_scale * values[r] in every channel -> [R, C] outputs."""
    rows_per_chunk = max(1, CHUNK_ELEMENTS // max(1, channels))
    outputs = []
    for start in range(0, len(values), rows_per_chunk):
        v = values[start : start + rows_per_chunk].astype(np.float32) * np.float32(step_scale)
        x = np.repeat(v[:, None], channels, axis=1).reshape((len(v), channels) + (1,) * spatial_rank)
        try:
            out = evaluate_chain(model, chain, input_name, np.ascontiguousarray(x, dtype=np.float32))
            out = out.reshape(len(v), channels)
        except UserError:
            raise
        except Exception as err:  # onnxruntime broadcasting errors: operands that are not per-channel
            raise node_error(chain[0], f"the operations after it are not per-channel ({type(err).__name__})",
                             "only per-channel scales, biases and BatchNorm may sit between a layer and its activation") from None
        outputs.append(out)
    return np.concatenate(outputs, axis=0)


def bipolar_thresholds(values: np.ndarray, positive: np.ndarray, node) -> ChannelThresholds:
    """From the decision ``positive[r, c]`` at sorted accumulator values ``values[r]`` derive dot-domain thresholds.

    Increasing (or constant) channels: T = first value that gives +1 (values[-1] + 1 when none does).
    Decreasing channels are flipped (acc' = -acc) and become increasing. Anything else is refused.
    """
    pos = positive.astype(np.int8)
    diffs = np.diff(pos, axis=0)
    increasing = np.all(diffs >= 0, axis=0)
    decreasing = np.all(diffs <= 0, axis=0) & ~increasing
    if not np.all(increasing | decreasing):
        bad = int(np.argmin(increasing | decreasing))
        raise node_error(node, f"output channel {bad} switches sign more than once over the accumulator range",
                         "the chain between the layer and its sign must be monotone (affine/BatchNorm)")
    never = values[-1] + 1
    first_pos = np.where(pos.any(axis=0), values[np.argmax(pos, axis=0)], never)
    # decreasing: +1 for acc <= v*, i.e. acc' = -acc >= -v*; v* = last value with +1
    last_pos_idx = len(values) - 1 - np.argmax(pos[::-1], axis=0)
    flipped = np.where(pos.any(axis=0), -values[last_pos_idx], -values[0] + 1)
    thresholds = np.where(decreasing, flipped, first_pos).astype(np.int64)
    return ChannelThresholds(thresholds=thresholds, flip=decreasing)


def level_thresholds(inputs: np.ndarray, levels: np.ndarray, node, base: int | None = None) -> tuple[np.ndarray, int]:
    """Multi-level mapping of sorted integer ``inputs`` to integer ``levels[r, c]`` (non-decreasing in r) ->
    (thresholds [C, NT] with out = base + #(x >= T), base). Levels never reached map to inputs[-1] + 1; levels
    at or below ``base`` (default: the lowest level reached) get threshold inputs[0] (always reached)."""
    if np.any(np.diff(levels, axis=0) < 0):
        raise node_error(node, "the quantised output is not non-decreasing in the input",
                         "only increasing input normalisations (positive scales) are supported")
    base = int(levels.min()) if base is None else int(base)
    top = int(levels.max())
    never = inputs[-1] + 1
    channels = levels.shape[1]
    thresholds = np.full((channels, max(top - base, 1)), never, dtype=np.int64)
    for i, level in enumerate(range(base + 1, top + 1)):
        reached = levels >= level
        thresholds[:, i] = np.where(reached.any(axis=0), inputs[np.argmax(reached, axis=0)], never)
    return thresholds, base
