"""Where finn-plus lives: its own virtual environment (benchmarks/setup_finn_plus.sh makes
benchmarks/.finnenv), never fpgabnn's, because finn-plus pins brevitas 0.13 and is installed --no-deps.
fpgabnn talks to it only through ``runner.py`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from fpgabnn.errors import UserError

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).resolve().parent / "runner.py"
ENV_VAR = "FPGABNN_FINN_PYTHON"
FIX = (f"run `bash benchmarks/setup_finn_plus.sh` (or `pip install --no-deps finn-plus==1.6.1` in a venv made "
       f"with --system-site-packages and set {ENV_VAR} to its python)")


def finn_python() -> Path:
    """The interpreter that imports finn-plus, or a UserError naming the fix."""
    path = Path(os.environ.get(ENV_VAR) or REPO / "benchmarks" / ".finnenv" / "bin" / "python")
    if not path.is_file() or not os.access(path, os.X_OK):
        raise UserError(f"finn-plus is not installed ({path} not found); {FIX}")
    probe = subprocess.run([str(path), "-c", "import importlib.util as u, sys; "
                            "sys.exit(0 if u.find_spec('finn') and u.find_spec('finn.builder') else 1)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise UserError(f"finn-plus is not installed in {path} (no module finn.builder); {FIX}")
    return path


def run_runner(*args: str, timeout: float = 3600.0) -> dict:
    """Run fpgabnn/finn/runner.py with finn-plus's interpreter; its one JSON line as a dict."""
    python = finn_python()
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.run([str(python), str(RUNNER), *args], capture_output=True, text=True, timeout=timeout,
                          env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"finn-plus runner failed (exit {proc.returncode}): {tail}")
    return json.loads(lines[-1])
