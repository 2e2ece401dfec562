"""``Accelerator``: run the build's accelerator on a PYNQ board, or in its C or RTL simulation, from numpy.

One code path packs frames (``frames``), runs the host pre/post-processing (``host``) and moves one batch per
DMA transfer each way; only the transport differs between backends (``transport``). FINN users find
``execute`` (accelerator input -> accelerator output), ``batch_size`` and ``throughput_test()``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import frames
from .host import run_ops
from .host_threshold import TABLE_FILE, load_table
from .transport import PynqTransport, SimTransport, newest_executable, now

BACKENDS = ("pynq", "rtlsim", "csim")
HERE = Path(__file__).resolve().parent


class DriverError(ValueError):
    """Bad input to the driver: the message is one line naming the problem and the fix."""


def load_config(driver_dir: Path = HERE) -> tuple[dict, dict]:
    cfg = json.loads((driver_dir / "accel.json").read_text())
    npz = driver_dir / "host_params.npz"
    params = dict(np.load(npz)) if npz.is_file() else {}
    if (driver_dir / TABLE_FILE).is_file():  # --host-threshold: the input quantiser's table
        params[TABLE_FILE] = load_table(driver_dir / TABLE_FILE)
    return cfg, params


class Accelerator:
    """The build's accelerator behind one of three transports.

    bitfile: the .bit to load (pynq backend; default: the build's own, next to its .hwh).
    backend: "pynq" (a board: pynq's Overlay, allocate and AXI DMA), "rtlsim" (Verilator binary of rtl/sim/)
    or "csim" (C simulation binary of hls/csim/). batch_size: frames per DMA transfer.
    """

    def __init__(self, bitfile: str | None = None, backend: str = "pynq", batch_size: int = 1,
                 build_dir: str | Path | None = None, device=None, download: bool = True):
        if backend not in BACKENDS:
            raise DriverError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.build_dir = Path(build_dir) if build_dir is not None else HERE.parent
        self.config, self.params = load_config(self.build_dir / "driver" if build_dir is not None else HERE)
        self.io = self.config["io"]
        self.backend = backend
        self._batch_size = self._check_batch(batch_size)
        if backend == "pynq":
            self.bitfile = self._find_bitfile(bitfile)
            self.transport = PynqTransport(self.bitfile, self.io, self._batch_size, self.config["dma"],
                                           download=download, device=device)
        else:
            self.bitfile = None
            self.transport = SimTransport(self._find_simulator(backend).resolve(), self.io,
                                          cwd=self.build_dir / self.config[backend]["cwd"])

    # ---- FINN's names ---------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self._batch_size = self._check_batch(value)
        if hasattr(self.transport, "resize"):
            self.transport.resize(self._batch_size)

    def execute(self, hw_input: np.ndarray) -> np.ndarray:
        """Accelerator input values [N, *hw in shape] (NHWC stream order) -> accelerator output values."""
        x = self._check(hw_input, [None, *self.io["in_shape"][1:]], "accelerator input")
        outs = []
        for start in range(0, x.shape[0], self._batch_size):
            chunk = x[start:start + self._batch_size]
            try:
                packed = frames.pack_values(chunk.reshape(chunk.shape[0], -1), self.io["in_bits"],
                                            self.io["in_kind"], self.io["port_width"])
            except ValueError as err:
                raise DriverError(f"input values do not fit the accelerator input ({err}); pass raw integer "
                                  f"{self.io['in_kind']} {self.io['in_bits']}-bit values") from None
            raw = self.transport.transfer(packed)
            outs.append(frames.unpack_values(raw, self.io["out_bits"], self.io["out_kind"], self.io["port_width"],
                                             self.io["out_elems"]))
        return np.concatenate(outs).reshape([x.shape[0], *self.io["out_shape"][1:]])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """A batch of raw pixels in the exported model's input shape -> what qonnx execution of
        model_source.onnx returns (host pre-processing, accelerator, host float tail)."""
        cfg = self.config
        x = self._check(x, [None, *cfg["model_input"]["shape"][1:]], "model input")
        try:
            pre = run_ops(cfg["pre"], self.params, {cfg["model_input"]["name"]: x.astype(np.float32)})
        except ValueError as err:
            raise DriverError(str(err)) from None
        hw_in = np.asarray(pre[cfg["hw_input"]])
        if not np.array_equal(hw_in, np.rint(hw_in)):
            raise DriverError("input values must be whole numbers (raw 0..255 pixels); round or quantise them first")
        hw_out = self.execute(hw_in.reshape([x.shape[0], *self.io["in_shape"][1:]]).astype(np.int64))
        post = run_ops(cfg["post"], self.params, {cfg["hw_output"]: hw_out.astype(np.float32)})
        return np.asarray(post[cfg["model_output"]["name"]])

    def throughput_test(self, batches: int = 1) -> dict:
        """Time full batches through the transport: fps, latency per batch and DMA bandwidth (FINN's keys too).
        For the simulator backends this is the simulator's wall-clock speed, not the hardware's."""
        io, n = self.io, self._batch_size
        zeros = np.zeros([n, *io["in_shape"][1:]], dtype=np.int64)
        if io["in_kind"] == "bipolar":
            zeros += 1
        packed = frames.pack_values(zeros.reshape(n, -1), io["in_bits"], io["in_kind"], io["port_width"])
        start = now()
        for _ in range(batches):
            out = self.transport.transfer(packed)
        seconds = max(now() - start, 1e-9)
        runtime = seconds / batches
        result = {
            "backend": self.backend, "batch_size": n, "fps": n / runtime, "latency_ms": runtime * 1e3,
            "dma_in_MBps": packed.nbytes / runtime / 1e6, "dma_out_MBps": out.nbytes / runtime / 1e6,
            "clock_mhz": self.config["clock_mhz"],
        }
        stats = getattr(self.transport, "last_stats", {}) or {}
        if stats.get("cycles_per_frame"):
            result["hardware_fps_from_cycles"] = self.config["clock_mhz"] * 1e6 / float(stats["cycles_per_frame"])
        result.update({"runtime[ms]": result["latency_ms"], "throughput[images/s]": result["fps"],
                       "DRAM_in_bandwidth[MB/s]": result["dma_in_MBps"],
                       "DRAM_out_bandwidth[MB/s]": result["dma_out_MBps"], "fclk[mhz]": result["clock_mhz"]})
        return result

    # ---- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _check_batch(value) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise DriverError(f"batch_size {value!r} is not a positive integer; pass e.g. batch_size=100")
        return int(value)

    @staticmethod
    def _check(x, shape: list, what: str) -> np.ndarray:
        arr = np.asarray(x)
        if arr.dtype.kind not in "uif":
            raise DriverError(f"{what} has dtype {arr.dtype}; pass a numeric numpy array (uint8 or float32 pixels)")
        want = tuple(shape[1:])
        if arr.ndim != len(shape) or tuple(arr.shape[1:]) != want or arr.shape[0] < 1:
            raise DriverError(f"{what} has shape {tuple(arr.shape)}; expected (N, {', '.join(map(str, want))}) "
                              "with N >= 1 (a batch; add a leading axis for one image)")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise DriverError(f"{what} has NaN or infinite values; pass raw pixel values")
        return arr

    def _find_bitfile(self, bitfile) -> str:
        if bitfile is not None:
            if not Path(bitfile).is_file():
                raise DriverError(f"bitfile {bitfile} does not exist; pass the .bit built by vivado/build.tcl")
            return str(Path(bitfile).resolve())
        name = self.config["bitfile_name"]
        for cand in (self.build_dir / self.config["bitfile"], self.build_dir / name, HERE.parent / name):
            if cand.is_file():
                return str(cand.resolve())
        raise DriverError(f"no bitfile {name} in {self.build_dir}; run vivado/build.tcl with Vivado, or pass bitfile=")

    def _find_simulator(self, backend: str) -> Path:
        sim = self.config[backend]
        folder = self.build_dir / sim["dir"]
        binary = newest_executable(folder, sim.get("pattern", "*"))
        if binary is None:  # a workstation with fpgabnn compiles the simulator on first use
            binary = self._compile_simulator(backend)
        if binary is None:
            what = "fpgabnn verify --sim rtl" if backend == "rtlsim" else "fpgabnn verify"
            raise DriverError(f"no {backend} binary in {folder}; run `{what} {self.build_dir}` once to compile it")
        return binary

    def _compile_simulator(self, backend: str):
        try:
            if backend == "csim":
                from fpgabnn.sim.csim import compile_csim

                return compile_csim(self.build_dir / "hls")
            if (self.build_dir / "rtl" / "manifest.json").is_file():
                from fpgabnn.sim.rtlsim import compile_rtlsim

                return compile_rtlsim(self.build_dir / "rtl")[0]
        except ImportError:  # the board, or a machine without fpgabnn: only prebuilt binaries run
            return None
        return None
