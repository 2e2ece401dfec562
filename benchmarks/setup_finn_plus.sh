#!/usr/bin/env bash
# Sets up finn-plus in its own virtual environment, benchmarks/.finnenv (git-ignored), for the side-by-side
# compiler benchmark. finn-plus 1.6.1 pins brevitas 0.13.0, hence torch <= 2.12 (a multi-GB CUDA download), so
# it is installed with --no-deps into a venv that sees the system's site-packages (torch 2.13, brevitas, qonnx,
# onnx, numpy, scipy, ...); only the light dependencies the system lacks are added, pinned to the versions this
# was measured with. torch is never installed here. Idempotent: an environment that already imports is kept.
#
# Usage: bash benchmarks/setup_finn_plus.sh          (PYTHON=/path/to/python to pick the interpreter)
#        FORCE=1 bash benchmarks/setup_finn_plus.sh  (rebuild the environment from scratch)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
env_dir="$here/.finnenv"
python="${PYTHON:-python}"
finn_py="$env_dir/bin/python"

# finn-plus itself and the dependencies the system does not provide (all pure Python or small wheels)
packages=(
  "finn-plus==1.6.1"
  "onnx-passes==0.4.1"   # finn-plus's ONNX front-end passes
  "mip==1.17.0"          # MILP solver wrapper imported by the builder (FIFO sizing); bundles CBC
  "pandas==2.3.3"        # empirical QoR estimation module, imported by the builder
  "pytz==2026.6"         # pandas
  "mashumaro==3.23"      # DataflowBuildConfig (de)serialisation
  "psutil==7.2.2"        # finn.util, and the harness's process start time
  "bitstring==4.3.1"     # finn-plus pins <4.4 (the system's 5.x breaks its weight-file packing in step_hw_codegen)
  "bitarray==3.8.0"      # bitstring 4.3
)

import_check() {
  local tmp rc
  tmp="$(mktemp -d)"
  XILINX_VIVADO="${XILINX_VIVADO:-/nonexistent/Xilinx/Vivado/2024.2}" FINN_BUILD_DIR="$tmp" \
    FINN_SETTINGS="$tmp/settings.yaml" "$finn_py" - "$here" <<'EOF' && rc=0 || rc=$?
import sys
sys.path.insert(0, sys.argv[1])
import finn_plus_flow
finn_plus_flow._import_builder()
import torch
import bitstring
from importlib.metadata import version
assert bitstring.__version__.startswith("4.3"), "finn-plus needs bitstring 4.3 (step_hw_codegen packs weights with it)"
assert "site-packages" in torch.__file__ and ".finnenv" not in torch.__file__, "torch must come from the system"
print(f"finn-plus {version('finn-plus')} imports (torch {torch.__version__} from the system)")
EOF
  rm -rf "$tmp"
  return $rc
}

start=$SECONDS
if [[ "${FORCE:-0}" == "1" ]]; then
  rm -rf "$env_dir"
fi
if [[ -x "$finn_py" ]] && import_check 2>/dev/null; then
  echo "benchmarks/.finnenv is ready (nothing to do)"
  exit 0
fi

"$python" -c 'import torch, brevitas, qonnx, onnx' 2>/dev/null || {
  echo "error: $python lacks torch/brevitas/qonnx/onnx; install fpgabnn's environment first (bash .ci/install)" >&2
  exit 2
}
rm -rf "$env_dir"
"$python" -m venv --system-site-packages "$env_dir"
"$finn_py" -m pip install --quiet --disable-pip-version-check --no-deps "${packages[@]}"
if [[ -n "$(ls "$env_dir"/lib/python3*/site-packages | grep -i '^torch')" ]]; then
  echo "error: torch was installed into $env_dir; it must come from the system" >&2
  exit 1
fi
import_check
echo "set up benchmarks/.finnenv in $((SECONDS - start)) s"
