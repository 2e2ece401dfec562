"""Bit-exact C simulation of a generated accelerator with g++ and Xilinx's ap_types headers.

The testbench streams the bytes an AXI DMA would carry: frames packed by fpgabnn/deploy/driver/frames.py at
the port width, TLAST after every batch, with the simulator command line of CONTRACTS.md B
(``tb IN.bin OUT.bin N [--stats F] [--batch B]``). A compile error or a failing simulator raises
SimulationError (an internal failure, never a mismatch).

The headers come from hls4ml's wheel (``hls4ml/templates/vivado/ap_types``: ap_int.h, hls_stream.h), found
without importing hls4ml (its import pulls in Keras-side dependencies). Compiled testbenches are cached
by a hash of every source file, the compiler and the flags, so re-running an unchanged design is free.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from fpgabnn.core.fileio import atomic_write_bytes
from fpgabnn.deploy.driver import frames
from fpgabnn.errors import SimulationError, UserError
from fpgabnn.sim.packing import check_range

CXX_FLAGS = ["-std=c++14", "-O2", "-Wno-unknown-pragmas"]


def ap_types_dir() -> Path:
    """Directory holding ap_int.h and hls_stream.h (from the installed hls4ml package)."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("C simulation needs Xilinx's ap_types headers from hls4ml; pip install --no-deps hls4ml")
    path = Path(list(spec.submodule_search_locations)[0]) / "templates" / "vivado" / "ap_types"
    if not (path / "ap_int.h").is_file():
        raise UserError(f"{path} has no ap_int.h; reinstall hls4ml (pip install --no-deps hls4ml)")
    return path


def compiler() -> str:
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise UserError(f"C++ compiler '{cxx}' not found; install g++ or set CXX")
    return cxx


def compile_cpp(sources: list[Path], include_dirs: list[Path], out_dir: Path, name: str = "tb",
                defines: tuple[str, ...] = ()) -> Path:
    """Compile ``sources`` into ``out_dir/<name>_<hash>``; reuse an existing binary of the same hash.
    ``defines`` are preprocessor macros (``NAME`` or ``NAME=VALUE``)."""
    cxx = compiler()
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    flags = CXX_FLAGS + [f"-D{d}" for d in defines]
    h = hashlib.sha256()
    h.update(version.encode())
    h.update(" ".join(flags).encode())
    flags += ["-isystem", str(ap_types_dir())] + [f"-I{d}" for d in include_dirs]
    for d in include_dirs:  # every header a source could include
        for p in sorted(Path(d).rglob("*")):
            if p.is_file() and p.suffix in (".h", ".hpp"):
                h.update(p.name.encode())
                h.update(p.read_bytes())
    for s in sources:
        h.update(Path(s).read_bytes())
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / f"{name}_{h.hexdigest()[:16]}"
    if binary.is_file():
        return binary
    tmp = out_dir / f".{binary.name}.{os.getpid()}.tmp"
    cmd = [cxx, *flags, *map(str, sources), "-o", str(tmp)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SimulationError(f"C simulation compile failed ({' '.join(cmd)}):\n{res.stderr[-4000:]}")
    os.replace(tmp, binary)
    return binary


def load_interface(hls_dir: Path) -> dict:
    path = Path(hls_dir) / "interface.json"
    if not path.is_file():
        raise UserError(f"{hls_dir} has no interface.json; generate the HLS sources first (generate_hls)")
    return json.loads(path.read_text())


def compile_csim(hls_dir: Path, defines: tuple[str, ...] = ()) -> Path:
    """Compile the generated testbench and top level of ``hls_dir``; returns the executable. ``defines``:
    e.g. ``FPGABNN_EXACT_ROM`` (weight ROMs of exactly SIMD-bit ap_uint words, as synthesis builds them)."""
    hls_dir = Path(hls_dir)
    load_interface(hls_dir)
    return compile_cpp([hls_dir / "tb.cpp", hls_dir / "top.cpp"], [hls_dir], hls_dir / "csim", defines=defines)


def run_csim(hls_dir: Path, inputs: np.ndarray, batch: int | None = None, cut: tuple[int, int] | None = None,
             return_stats: bool = False, defines: tuple[str, ...] = ()):
    """Stream ``inputs`` [N, ...] (value domain, NHWC, the accelerator's input datatype) through the
    C-simulated accelerator as DMA bytes (TLAST after every ``batch`` frames, default all N); returns [N, ...]
    outputs in the value domain (bipolar as -1/+1), and the testbench's stats with ``return_stats``.
    ``cut`` = (frame, beats) sends only that many beats of one frame, ending it with an early TLAST."""
    hls_dir = Path(hls_dir)
    iface = load_interface(hls_dir)
    x = np.asarray(inputs)
    in_elems = iface["in_elems"]
    if x.ndim == 0 or x.size != x.shape[0] * in_elems:
        raise UserError(f"inputs of shape {x.shape} are not N frames of shape {iface['in_shape']}; reshape them")
    check_range(x, iface["in_dtype"])
    n = x.shape[0]
    binary = compile_csim(hls_dir, defines)
    port = iface["port_width"]
    with tempfile.TemporaryDirectory(prefix="csim_") as tmp:
        fin, fout, fstats = Path(tmp) / "in.bin", Path(tmp) / "out.bin", Path(tmp) / "stats.json"
        atomic_write_bytes(fin, frames.pack_values(x.reshape(n, -1), iface["in_bits"], iface["in_kind"], port).tobytes())
        cmd = [str(binary), str(fin), str(fout), str(n), "--stats", str(fstats)]
        if batch is not None:
            cmd += ["--batch", str(int(batch))]
        if cut is not None:
            cmd += ["--cut", f"{int(cut[0])}:{int(cut[1])}"]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as err:
            raise SimulationError(f"C simulation could not start ({err})") from None
        if res.returncode != 0:
            raise SimulationError(f"C simulation failed (exit {res.returncode}): "
                                  f"{(res.stderr or res.stdout).strip()[-2000:]}")
        raw = np.fromfile(fout, dtype=np.uint8)
        y = frames.unpack_values(raw, iface["out_bits"], iface["out_kind"], port, iface["out_elems"])
        stats = json.loads(fstats.read_text())
    y = y.reshape([n] + list(iface["out_shape"][1:]))
    return (y, stats) if return_stats else y
