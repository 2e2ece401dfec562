"""Test-set accuracy on the simulated accelerator against PyTorch's, for a trained run (issue 8, item 5).

Exports the run's last.pt (`fpgabnn export`, with its exactness check), builds it for a board (`fpgabnn
build`, default pynq-z2, arg-max in hardware with --topk 1), streams the data set's test images (raw 0..255
pixels; the lowering handles the normalisation) through the simulated accelerator -- the Verilog design in
Verilator (``--sim rtl``, the default: cycle-accurate, about as fast as C simulation is slow) or the HLS C++
(``--sim csim``) -- and compares its labels with the PyTorch model's arg-max, image by image. Records the result
under "hardware" in accuracy.json and rewrites accuracy.md.

    python benchmarks/hardware_accuracy.py runs/study/lfc/mnist/baseline/seed0 --study benchmarks/accuracy_study.yaml
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "accuracy.json"


def torch_predictions(ckpt: dict, images: torch.Tensor) -> np.ndarray:
    from fpgabnn.train.checkpoint import model_from_checkpoint

    model = model_from_checkpoint(ckpt).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(images), 500):
            out.append(model(images[i:i + 500]).argmax(1))
    return torch.cat(out).numpy()


def accelerator_inputs(build: Path, images: np.ndarray) -> np.ndarray:
    """The accelerator's input frames: host pre-processing of the hardware graph (layout only), checked on
    the first images against qonnx execution of the lowered graph, then applied to all as a transpose."""
    from fpgabnn.sim.reference import hw_input
    from fpgabnn.verify import load_build

    _, _, lowered = load_build(build)
    direct = images.transpose(0, 2, 3, 1).reshape(len(images), -1) if images.ndim == 4 else images.reshape(len(images), -1)
    for i in range(min(20, len(images))):
        via_graph, _ = hw_input(lowered, images[i])
        if not np.array_equal(via_graph.reshape(-1), direct[i]):
            raise SystemExit(f"host pre-processing of {build} is not a plain NHWC layout; extend this script")
    return direct.astype(np.int64)


def host_labels(build: Path, hw: np.ndarray, n: int) -> np.ndarray:
    """Labels from the accelerator's outputs: run the build's host tail (driver/accel.json "post", exactly as
    the driver does), then take the arg-max unless the hardware already did (one value per frame)."""
    from fpgabnn.deploy.driver.accelerator import load_config
    from fpgabnn.deploy.driver.host import run_ops

    cfg, params = load_config(build / "driver")
    shape = [n, *cfg["io"]["out_shape"][1:]]
    post = run_ops(cfg["post"], params, {cfg["hw_output"]: hw.reshape(shape).astype(np.float32)})
    out = np.asarray(post[cfg["model_output"]["name"]]).reshape(n, -1)
    return out[:, 0].astype(np.int64) if out.shape[1] == 1 else out.argmax(1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="run directory with last.pt (e.g. runs/study/lfc/mnist/baseline/seed0)")
    p.add_argument("--study", default=str(ROOT / "benchmarks" / "accuracy_study.yaml"),
                   help="study file whose results are rewritten (accuracy.md)")
    p.add_argument("--method", help="method label in the table (default: the run's parent directory name)")
    p.add_argument("--results", default=str(RESULTS), help="accuracy.json to update")
    p.add_argument("--board", default="pynq-z2")
    p.add_argument("--target-fps", default="10000")
    p.add_argument("--images", type=int, default=None, help="first N test images (default: all)")
    p.add_argument("--build-dir", default=None, help="default: <run>/hw")
    p.add_argument("--sim", choices=("rtl", "csim"), default="rtl", help="rtl (Verilator, default) or csim (g++)")
    args = p.parse_args(argv)

    from fpgabnn.cli import main as cli
    from fpgabnn.train.checkpoint import load_checkpoint
    from fpgabnn.train.data import load_dataset

    torch.set_num_threads(1)
    run = Path(args.run)
    ckpt = load_checkpoint(run / "last.pt")
    cfg = ckpt["train_config"]
    build = Path(args.build_dir or run / "hw")
    onnx = build.parent / f"{build.name}_model.onnx"
    timings = {}
    t = time.perf_counter()
    if cli(["export", str(run / "last.pt"), "-o", str(onnx)]) != 0:
        return 1
    timings["export_s"] = time.perf_counter() - t
    t = time.perf_counter()
    build_args = ["build", str(onnx), "--board", args.board, "--target-fps", args.target_fps, "--out", str(build)]
    refusal = io.StringIO()  # the build's one-line reason if hardware top-k cannot rank as the source does
    with contextlib.redirect_stderr(refusal):
        topk = cli(build_args + ["--topk", "1"]) == 0
    if topk:  # the build's own warnings and progress are not swallowed
        sys.stderr.write(refusal.getvalue())
    else:  # e.g. a per-class scale after the last layer: arg-max on the host, after the float tail
        reason = refusal.getvalue().strip().removeprefix("error: ")
        print(f"no arg-max in hardware ({reason}); building without --topk: the host takes the arg-max after "
              "the build's float tail", flush=True)
        if cli(build_args) != 0:
            return 1
    timings["build_s"] = time.perf_counter() - t

    test = load_dataset(cfg["dataset"], data_dir=cfg.get("data_dir"), split="test", max_samples=args.images,
                        pad_to=cfg.get("pad_to"))
    images, labels = test.images.float(), test.labels.numpy()
    t = time.perf_counter()
    torch_pred = torch_predictions(ckpt, images)
    timings["torch_s"] = time.perf_counter() - t
    frames = accelerator_inputs(build, images.numpy())
    from fpgabnn.verify import SIMULATORS, load_build

    meta, _, _ = load_build(build)
    t = time.perf_counter()
    hw, stats = SIMULATORS[args.sim](build, meta, frames)
    timings["sim_s"] = time.perf_counter() - t
    hw_pred = host_labels(build, np.asarray(hw), len(frames))
    differ = int(np.sum(hw_pred != torch_pred))
    entry = {
        "model": cfg["model"], "dataset": cfg["dataset"], "method": args.method or run.parent.name,
        "seed": cfg["seed"], "images": int(len(labels)),
        "torch_acc": float(np.mean(torch_pred == labels)), "hw_acc": float(np.mean(hw_pred == labels)),
        "sim": {"rtl": "rtl", "csim": "c"}[args.sim], "predictions_differing": differ, "board": args.board,
        "argmax": "hardware (--topk 1)" if topk else "host, after the build's float tail",
        "sim_frames_per_s": round(len(frames) / timings["sim_s"], 1), **{k: round(v, 1) for k, v in timings.items()},
    }
    if args.sim == "rtl":
        rtl = stats.get("rtl", {})
        entry.update({"cycles_per_frame": rtl.get("cycles_per_frame"), "fps": rtl.get("fps"),
                      "tlast_error": rtl.get("tlast_error"), "sim_build_s": round(float(rtl.get("sim_build_seconds") or 0), 1)})
    print(json.dumps(entry, indent=1))

    results = Path(args.results)
    doc = json.loads(results.read_text()) if results.is_file() else {"runs": [], "hardware": []}
    key = lambda h: (h["model"], h["dataset"], h["method"])  # noqa: E731
    doc["hardware"] = [h for h in doc.get("hardware", []) if key(h) != key(entry)] + [entry]
    from fpgabnn.core.fileio import atomic_write_bytes

    results.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(results, (json.dumps(doc, indent=1) + "\n").encode())
    if args.study:
        from fpgabnn.train.study import load_study, write_results

        write_results(load_study(args.study))
    return 0 if differ == 0 else 3


if __name__ == "__main__":
    sys.exit(main())
