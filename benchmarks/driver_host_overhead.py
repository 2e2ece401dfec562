"""Host-side cost of the driver per frame: pre-processing + packing into DMA beats + unpacking + the float tail,
with the transport replaced by a loop-back of the right size (so only what the board's CPU does is timed), and
the end-to-end speed of the csim backend for comparison. TFC and CNV (Brevitas BNN-PYNQ models, random weights)
built for PYNQ-Z2. The host figures are for THIS machine's CPU (listed in the output), not a Cortex-A9/A53.

    python benchmarks/driver_host_overhead.py        # writes benchmarks/results/driver_host_overhead.{json,md}
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {"tfc_1w1a": ((1, 1, 28, 28), 100_000), "cnv_1w1a": ((1, 3, 32, 32), 3_000)}


class LoopBack:
    """Returns output bytes of the right size at once: only the host's work is left to time."""

    def __init__(self, out_bytes: int):
        self.out_bytes = out_bytes

    def transfer(self, in_bytes):
        return np.zeros((in_bytes.shape[0], self.out_bytes), dtype=np.uint8)


def main() -> int:
    import torch
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    from fpgabnn.cli import main as fpgabnn
    from fpgabnn.deploy.driver import frames

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (shape, fps) in MODELS.items():
            torch.manual_seed(0)
            model, _ = model_with_cfg(name, pretrained=False)
            onnx_path = Path(tmp) / f"{name}.onnx"
            export_qonnx(model.eval(), torch.rand(shape), export_path=str(onnx_path))
            build = Path(tmp) / name
            assert fpgabnn(["build", str(onnx_path), "--pixel-range", "unit", "--target-fps", str(fps),
                            "--out", str(build), "--json"]) == 0
            sys.path.insert(0, str(build))
            for mod in [m for m in sys.modules if m == "driver" or m.startswith("driver.")]:
                del sys.modules[mod]
            from driver import Accelerator

            accel = Accelerator(backend="csim", batch_size=1000)
            io = accel.io
            accel.transport = LoopBack(frames.bytes_per_frame(io["out_elems"], io["out_bits"], io["port_width"]))
            x = np.random.default_rng(0).integers(0, 256, size=(1000, *shape[1:])).astype(np.uint8)
            accel.predict(x[:10])
            times = []
            for _ in range(5):
                start = time.perf_counter()
                accel.predict(x)
                times.append(time.perf_counter() - start)
            host_us = statistics.median(times) / len(x) * 1e6
            sim = Accelerator(backend="csim", batch_size=10)
            n = 10 if name.startswith("tfc") else 2
            sim.predict(x[:n])  # compile
            start = time.perf_counter()
            sim.predict(x[:n])
            sim_fps = n / (time.perf_counter() - start)
            report = json.loads((build / "report.json").read_text())
            rows.append({"model": name, "board": "pynq-z2", "port_width": io["port_width"],
                         "in_bytes_per_frame": frames.bytes_per_frame(io["in_elems"], io["in_bits"], io["port_width"]),
                         "host_us_per_frame": round(host_us, 2), "host_fps_limit": round(1e6 / host_us),
                         "estimated_accelerator_fps": round(report["fps"]), "csim_fps": round(sim_fps, 2)})
            sys.path.remove(str(build))
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
              "batch": 1000, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "driver_host_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| model | port bits | bytes/frame in | host us/frame | host-limited fps | estimated accel fps | csim fps |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['model']} | {r['port_width']} | {r['in_bytes_per_frame']} | {r['host_us_per_frame']} | "
              f"{r['host_fps_limit']:,} | {r['estimated_accelerator_fps']:,} | {r['csim_fps']} |" for r in rows]
    (RESULTS / "driver_host_overhead.md").write_text(
        f"Driver host cost per frame (pre + pack + unpack + float tail, batch 1000) on {result['machine']['cpu']}; "
        "csim = end-to-end C-simulation speed.\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
