"""Export a trained model to QONNX, and refuse to write it unless it reproduces PyTorch exactly.

Fold (``fold_for_export``), export with Brevitas' QONNX exporter, clean with qonnx, then run the cleaned
graph with qonnx's ``execute_onnx`` on sample inputs next to the PyTorch eval model and compare:

- the integer pre-activation of every binary layer (the Conv/Gemm/MatMul output; for the integer-input
  first layer it is an integer times the power-of-two input scale): must be bit-identical;
- the predicted class: must be identical; the float output difference is reported.

The file is written (atomically) only when every check passes, so a model on disk is one whose
hardware lowering can be trusted to mean the same thing as the PyTorch model.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.util.cleanup import cleanup_model
from torch import nn

from fpgabnn.core.fileio import atomic_write_bytes, check_writable_target
from fpgabnn.errors import UserError
from fpgabnn.export.fold import fold_for_export
from fpgabnn.train.layers import BINARY_LAYERS

MATRIX_OPS = ("Conv", "Gemm", "MatMul")


def export_qonnx_model(model: nn.Module, path: str | Path, sample_inputs) -> dict:
    """Fold, export, clean and check ``model``; write ``path`` only if the check passes. Returns the report.

    ``sample_inputs``: raw pixels 0..255, float32 [N, C, H, W] (tensor or array), N >= 1.
    """
    path = Path(path)
    check_output(path)
    x = _as_batch(model, sample_inputs)
    if any(t.device.type != "cpu" for t in [*model.parameters(), *model.buffers()]):
        raise UserError("export runs on the CPU; move the model there first (model.cpu())")
    was_training = model.training
    model.eval()
    try:
        folded = fold_for_export(model)
        with torch.no_grad():
            reference, accumulators = _torch_run(model, x)
            if not torch.equal(folded(x), reference):
                raise UserError("folding the model for export changed its outputs (an fpgabnn bug); please report it")
        qonnx_model = _export(folded, x[:1])
    finally:
        model.train(was_training)
    report = check_exactness(qonnx_model, x, reference, accumulators)
    failures = [layer for layer in report["layers"] if not layer["equal"]]
    if failures or report["argmax_mismatches"]:
        first = failures[0] if failures else None
        what = (f"binary layer {first['module']} ({first['node']}) differs on {first['mismatched_samples']} of "
                f"{report['samples']} samples" if first else
                f"the predicted class differs on {report['argmax_mismatches']} of {report['samples']} samples")
        raise UserError(f"the exported QONNX graph does not reproduce the PyTorch model: {what}; nothing was written "
                        "(a float tie at a sign can cause this: retrain or perturb the BatchNorm parameters)")
    try:
        atomic_write_bytes(path, qonnx_model.model.SerializeToString())
    except OSError as err:
        raise UserError(f"cannot write {path} ({err.strerror}); choose a writable path") from None
    report["path"] = str(path)
    return report


def check_output(path: Path) -> None:
    """Refuse an output path that cannot become a file, before any work is done."""
    if path.is_dir():
        raise UserError(f"{path} is a directory; pass a file name such as {path / 'model.onnx'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"cannot write {path}: {parent} is a file, not a directory; choose another path")
            break
    check_writable_target(path)


def _as_batch(model: nn.Module, sample_inputs) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(sample_inputs, dtype=np.float32))
    expected = tuple(getattr(model, "input_shape", x.shape[1:]))
    if x.dim() != 4 or tuple(x.shape[1:]) != expected or x.shape[0] < 1:
        raise UserError(f"sample inputs have shape {tuple(x.shape)}, the model takes [N, {', '.join(map(str, expected))}]; "
                        "use images of the data set the model was trained on")
    if torch.any((x < 0) | (x > 255)):
        raise UserError("sample inputs must be raw pixel values in 0..255")
    return x


def _torch_run(model: nn.Module, x: torch.Tensor):
    """Eval outputs and, per binary layer in execution order, its accumulator outputs (module name, tensor)."""
    names = {id(m): n for n, m in model.named_modules()}
    taps, handles = [], []
    for layer in (m for m in model.modules() if isinstance(m, BINARY_LAYERS)):
        def hook(_module, _inputs, output, layer=layer):
            taps.append((names[id(layer)], output.detach().clone()))
        handles.append(layer.accumulator.register_forward_hook(hook))
    try:
        out = model(x)
    finally:
        for h in handles:
            h.remove()
    return out, taps


def _export(folded: nn.Module, example: torch.Tensor) -> ModelWrapper:
    from brevitas.export import export_qonnx

    with tempfile.TemporaryDirectory(prefix="fpgabnn-export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        quiet = [logging.getLogger(n) for n in ("torch.onnx", "torch._export", "torch.export", "onnxscript")]
        levels = [lg.level for lg in quiet]
        try:
            for lg in quiet:
                lg.setLevel(logging.ERROR)
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                export_qonnx(folded, example, export_path=str(raw))
        except Exception as err:  # noqa: BLE001 - torch.export raises many types
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise UserError(f"Brevitas could not export the model to QONNX ({first[:200]}); "
                            "only fpgabnn's zoo models and layers are supported") from None
        finally:
            for lg, level in zip(quiet, levels):
                lg.setLevel(level)
        return cleanup_model(ModelWrapper(str(raw)))


def binary_matrix_nodes(model: ModelWrapper) -> list:
    """Conv/Gemm/MatMul nodes whose weight comes from a BipolarQuant, in graph order."""
    nodes = []
    for node in model.graph.node:
        if node.op_type in MATRIX_OPS and len(node.input) > 1:
            producer = model.find_producer(node.input[1])
            if producer is not None and producer.op_type == "BipolarQuant":
                nodes.append(node)
    return nodes


def check_exactness(qonnx_model: ModelWrapper, x: torch.Tensor, reference: torch.Tensor, accumulators) -> dict:
    """Run the QONNX graph on every sample and compare with the PyTorch outputs and accumulators."""
    nodes = binary_matrix_nodes(qonnx_model)
    if len(nodes) != len(accumulators):
        raise UserError(f"the exported graph has {len(nodes)} binary layers, the model {len(accumulators)}; "
                        "the export is incomplete, nothing was written")
    in_name, out_name = qonnx_model.graph.input[0].name, qonnx_model.graph.output[0].name
    mismatches = np.zeros(len(nodes), dtype=np.int64)
    max_acc_diff = np.zeros(len(nodes))
    out_diff, argmax_bad = 0.0, 0
    ref = reference.numpy()
    for i in range(x.shape[0]):
        ctx = execute_onnx(qonnx_model, {in_name: x[i : i + 1].numpy()}, return_full_exec_context=True)
        for j, (node, (_name, acc)) in enumerate(zip(nodes, accumulators)):
            got, want = ctx[node.output[0]], acc[i : i + 1].numpy()
            if got.shape != want.shape or not np.array_equal(got, want):
                mismatches[j] += 1
                if got.shape == want.shape:
                    max_acc_diff[j] = max(max_acc_diff[j], float(np.max(np.abs(got - want))))
                else:
                    max_acc_diff[j] = np.inf
        out = ctx[out_name].reshape(ref[i : i + 1].shape)
        out_diff = max(out_diff, float(np.max(np.abs(out - ref[i : i + 1]))))
        argmax_bad += int(np.argmax(out) != np.argmax(ref[i]))
    layers = [{"module": name, "node": node.name, "op": node.op_type, "equal": bool(mismatches[j] == 0),
               "mismatched_samples": int(mismatches[j]), "max_abs_diff": float(max_acc_diff[j])}
              for j, (node, (name, _)) in enumerate(zip(nodes, accumulators))]
    return {"samples": int(x.shape[0]), "max_abs_output_diff": out_diff, "argmax_mismatches": argmax_bad,
            "layers": layers}
