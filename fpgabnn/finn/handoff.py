"""The hand-off to FINN: write a build as finn-plus's dataflow graph, checked by finn-plus itself."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from fpgabnn.core.fileio import atomic_write_bytes, check_writable_target
from fpgabnn.errors import UserError


def folding_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}_folding.json")


def check_with_finn(finn_model, source, hw, samples: int, seed: int = 0, codegen: bool = True) -> dict:
    """finn-plus loads, code-generates (step_hw_codegen) and executes ``finn_model`` on ``samples`` random
    pixel inputs; its outputs must equal what fpgabnn's accelerator must output (qonnx execution of the
    source model ``source`` read through the provenance of ``hw``). Returns {samples, mismatches, ...}."""
    from fpgabnn.finn.env import run_runner
    from fpgabnn.sim.reference import compare_with_source, random_pixels

    images = random_pixels(source.get_tensor_shape(source.graph.input[0].name), samples, seed)
    ref = compare_with_source(source, hw, images)
    if not ref["bit_exact"]:
        raise RuntimeError(f"the build's own hardware graph differs from its source ({ref['mismatches'][0]})")
    with tempfile.TemporaryDirectory(prefix="fpgabnn_finn_check_") as tmp:
        tmp = Path(tmp)
        finn_model.save(str(tmp / "model_finn.onnx"))
        np.save(tmp / "inputs.npy", ref["hw_inputs"].astype(np.float32))
        extra = ["--codegen", str(tmp / "codegen")] if codegen else []
        record = run_runner("execute", str(tmp / "model_finn.onnx"), str(tmp / "inputs.npy"),
                            str(tmp / "outputs.npy"), *extra)
        if not record.get("ok"):
            raise RuntimeError(f"finn-plus could not execute the exported graph: {record.get('error')}")
        got = np.load(tmp / "outputs.npy")
    expected = ref["expected_outputs"]
    got = np.rint(got.reshape(expected.shape)).astype(np.int64)
    bad = np.flatnonzero(np.any(got != expected, axis=1))
    return {"samples": samples, "mismatches": int(bad.size), "first_mismatch": int(bad[0]) if bad.size else None,
            "finn_layers": record["layers"], "codegen": record.get("codegen")}


def export_build(build_dir: Path, output: Path, check: int = 3, seed: int = 0, codegen: bool = True) -> dict:
    """Write ``output`` (finn-plus ONNX) and its folding config from the build in ``build_dir``; with ``check``
    > 0 only after finn-plus has executed it bit-exactly."""
    from fpgabnn import __version__
    from fpgabnn.finn.env import finn_python
    from fpgabnn.finn.export import annotate, to_finn
    from fpgabnn.verify import load_build

    meta, source, hw = load_build(build_dir)
    check_writable_target(output)
    if check:
        finn_python()  # refuse early, before any work, when finn-plus is missing
    finn, folding = to_finn(hw)
    annotate(finn, {"fpgabnn_version": __version__, "build": str(build_dir), "board": meta.get("board"),
                    "clock_mhz": meta.get("clock_mhz")})
    result = {"written": False, "output": str(output), "folding": str(folding_path(output)),
              "layers": len(finn.graph.node), "op_types": sorted({n.op_type for n in finn.graph.node}),
              "check": None}
    if check:
        result["check"] = check_with_finn(finn, source, hw, check, seed, codegen=codegen)
        if result["check"]["mismatches"]:
            return result
    try:
        data = finn.model.SerializeToString()
    except ValueError as err:  # protobuf's 2 GB limit
        raise UserError(f"the exported graph is too large to serialise ({err}); fold the model further") from None
    atomic_write_bytes(folding_path(output), (json.dumps(folding, indent=2) + "\n").encode())
    try:
        atomic_write_bytes(output, data)
    except BaseException:
        folding_path(output).unlink(missing_ok=True)
        raise
    result["written"] = True
    return result
