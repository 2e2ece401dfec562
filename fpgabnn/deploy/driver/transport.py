"""How DMA bytes reach the accelerator: a PYNQ AXI DMA on a board, or a simulator binary (C or RTL) run with
the simulators' shared command line  ``BINARY IN.bin OUT.bin N [--stats STATS.json] [--batch B]``.
Both move one batch per transfer each way (TLAST at the end of the batch); packing is not done here."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from . import frames


class SimTransport:
    """A simulator binary of the build: IN.bin (the batch's DMA bytes) in, OUT.bin (output beats) out."""

    def __init__(self, binary: Path, io: dict, cwd: Path | None = None):
        # the RTL simulation reads its $readmemh files by name: it must run in the rtl/ directory
        self.binary, self.io, self.cwd = Path(binary), io, cwd
        self.last_stats: dict = {}

    def transfer(self, in_bytes: np.ndarray) -> np.ndarray:
        """uint8 [N, in_bytes_per_frame] -> uint8 [N, out_bytes_per_frame] (one batch, TLAST at its end)."""
        n = in_bytes.shape[0]
        io = self.io
        with tempfile.TemporaryDirectory(prefix="fpgabnn_sim_") as tmp:
            fin, fout, fstats = (Path(tmp).resolve() / f for f in ("in.bin", "out.bin", "stats.json"))
            fin.write_bytes(np.ascontiguousarray(in_bytes, dtype=np.uint8).tobytes())
            cmd = [str(self.binary), str(fin), str(fout), str(n), "--batch", str(n), "--stats", str(fstats)]
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=self.cwd)
            if res.returncode != 0:
                raise RuntimeError(f"simulator {self.binary.name} failed (exit {res.returncode}): "
                                   f"{(res.stderr or res.stdout).strip()[-2000:]}")
            missing = [ln for ln in (res.stderr + res.stdout).splitlines() if "$readmem" in ln and "not found" in ln]
            if missing:  # the simulator only warns and then computes with empty memories
                raise RuntimeError(f"simulator {self.binary.name} could not read a memory file ({missing[0].strip()}); "
                                   "run it in the build's rtl/ directory")
            out = np.fromfile(fout, dtype=np.uint8)
            self.last_stats = json.loads(fstats.read_text()) if fstats.is_file() else {}
        want = n * frames.bytes_per_frame(io["out_elems"], io["out_bits"], io["port_width"])
        if out.size != want:
            raise RuntimeError(f"simulator {self.binary.name} wrote {out.size} bytes, expected {want}")
        return out.reshape(n, -1)


class PynqTransport:
    """An AXI DMA on the board: one sendchannel and one recvchannel transfer per batch (TLAST per batch)."""

    def __init__(self, bitfile: str, io: dict, batch_size: int, dma_name: str = "dma", download: bool = True,
                 device=None):
        from pynq import Overlay, allocate  # imported here: the simulator backends never need pynq

        self.io, self._allocate = io, allocate
        self.overlay = Overlay(bitfile, download=download, device=device)
        self.dma = getattr(self.overlay, dma_name)
        self.resize(batch_size)

    def resize(self, batch_size: int) -> None:
        io = self.io
        ib = frames.bytes_per_frame(io["in_elems"], io["in_bits"], io["port_width"])
        ob = frames.bytes_per_frame(io["out_elems"], io["out_bits"], io["port_width"])
        self.ibuf = self._allocate(shape=(batch_size, ib), dtype=np.uint8)
        self.obuf = self._allocate(shape=(batch_size, ob), dtype=np.uint8)

    def transfer(self, in_bytes: np.ndarray) -> np.ndarray:
        n = in_bytes.shape[0]
        if n > self.ibuf.shape[0]:
            self.resize(n)
        ibuf, obuf = self.ibuf[:n], self.obuf[:n]
        ibuf[:] = in_bytes
        self.dma.recvchannel.transfer(obuf)
        self.dma.sendchannel.transfer(ibuf)
        self.dma.sendchannel.wait()
        self.dma.recvchannel.wait()
        got = self.dma.recvchannel.transferred
        if got and got != obuf.nbytes:
            raise RuntimeError(f"DMA received {got} bytes for {n} frames, expected {obuf.nbytes}")
        return np.array(obuf, dtype=np.uint8, copy=True)


def newest_executable(folder: Path, pattern: str = "*") -> Path | None:
    found = [p for p in Path(folder).glob(pattern) if p.is_file() and os.access(p, os.X_OK)]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def now() -> float:
    return time.perf_counter()
