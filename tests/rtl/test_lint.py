"""Every hand-written module is `verilator --lint-only -Wall` clean over a grid of its parameters, and a bad
parameter fails at elaboration."""

import pytest

from fpgabnn.sim import tools
from tests.rtl.conftest import RTLLIB

SOURCES = sorted(RTLLIB.glob("*.sv"))
GRID = [
    ("fpgabnn_axis_register", {"DATA_WIDTH": 1}),
    ("fpgabnn_fifo", {"DEPTH": 1, "IMPL": 0}),
    ("fpgabnn_fifo", {"DEPTH": 33, "IMPL": 2, "DATA_WIDTH": 100}),
    ("fpgabnn_dwc", {"IN_WIDTH": 24, "OUT_WIDTH": 72}),
    ("fpgabnn_dwc", {"IN_WIDTH": 784, "OUT_WIDTH": 16}),
    ("fpgabnn_axis_input", {"PORT_WIDTH": 64, "DATA_WIDTH": 24, "FRAME_WORDS": 1024}),
    ("fpgabnn_axis_output", {"PORT_WIDTH": 128, "DATA_WIDTH": 4, "FRAME_WORDS": 1}),
    ("fpgabnn_thresholding", {"MODE": 1, "CHANNELS": 3, "PE": 3, "IN_BITS": 8, "NT": 255, "OUT_BITS": 8}),
    ("fpgabnn_mvau", {"MW": 1152, "MH": 256, "PE": 16, "SIMD": 32, "RAM_STYLE": 1}),
    ("fpgabnn_mvau", {"MW": 27, "MH": 64, "PE": 16, "SIMD": 27, "XNOR": 0, "IN_BITS": 8, "IN_SIGNED": 1,
                      "THR_BITS": 16}),
    ("fpgabnn_mvau", {"MW": 512, "MH": 10, "PE": 1, "SIMD": 4, "ACT": 1, "OUT_BITS": 11}),
    ("fpgabnn_swg", {"H": 32, "W": 32, "C": 3, "SIMD": 3, "KH": 3, "KW": 3, "PARALLEL": 1, "ELEM_BITS": 8}),
    ("fpgabnn_swg", {"H": 30, "W": 30, "C": 64, "SIMD": 16, "KH": 3, "KW": 3, "RAM_STYLE": 1}),
    ("fpgabnn_maxpool", {"H": 28, "W": 28, "C": 64, "PE": 8}),
    ("fpgabnn_maxpool", {"H": 7, "W": 7, "C": 8, "PE": 8, "KH": 3, "KW": 3, "ELEM_BITS": 4, "KIND": 1}),
    ("fpgabnn_labelselect", {"C": 10, "PE": 10, "K": 3}),
]


@pytest.mark.parametrize("top,params", GRID, ids=[f"{t}-{i}" for i, (t, _) in enumerate(GRID)])
def test_lint_clean(top, params, tmp_path):
    (tmp_path / "m.memh").write_text("0\n")
    p = dict(params)
    for f in ("WEIGHT_FILE", "THRESH_FILE", "MEM_FILE"):
        p[f] = str(tmp_path / "m.memh")
    p = {k: v for k, v in p.items() if k in params or _declares(top, k)}
    assert tools.lint(SOURCES, top, p) == ""


def _declares(top: str, name: str) -> bool:
    return f"parameter {name} " in (RTLLIB / f"{top}.sv").read_text()


@pytest.mark.parametrize("top,params", [("fpgabnn_dwc", {"IN_WIDTH": 24, "OUT_WIDTH": 64}),
                                        ("fpgabnn_mvau", {"MW": 16, "SIMD": 3}),
                                        ("fpgabnn_fifo", {"IMPL": 3})])
def test_bad_parameters_fail_elaboration(top, params):
    out = tools.lint(SOURCES, top, params)
    assert "Error:" in out
