"""JUnit XML of a verification result, for CI systems that show test reports (GitHub Actions, GitLab, Jenkins).

One test case per comparison verify made (the lowered graph, and the C or the RTL simulation); a comparison that
found mismatches is a failure listing them; RTL cycles, fps and latency go in as properties. Written atomically."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from fpgabnn.core.fileio import atomic_write_bytes

def _check_of(layer: str, sim: str) -> str:
    """Which comparison a mismatch belongs to, by the layer verify names in it ("csim output", "csim TLAST",
    "RTL simulation output", "TLAST", or a layer of the lowered graph)."""
    if layer.startswith(("csim", "C simulation")):
        return "csim"
    if layer.startswith(("RTL", "rtl")) or layer == "TLAST":
        return "rtlsim"
    return "lowered_graph"


def _checks(result: dict) -> dict:
    """{check: mismatches} for the comparisons this result made (lowered graph, and C or RTL simulation)."""
    sim = "rtlsim" if "rtl" in (result.get("sim"), result.get("simulator")) else "csim"
    found = {"lowered_graph": [], sim: []}
    for m in result.get("mismatches", []):
        found.setdefault(_check_of(str(m.get("layer")), sim), []).append(m)
    return found


def _failed(result: dict, check: str, found: list) -> bool:
    flag = result.get(f"{check}_bit_exact")
    return flag is False or bool(found)


def verify_junit(result: dict, suite: str = "fpgabnn verify") -> bytes:
    checks = _checks(result)
    seconds = {"csim": result.get("csim_seconds") or result.get("sim_seconds"), "rtlsim": result.get("sim_seconds"),
               "lowered_graph": result.get("reference_seconds")}
    failures = sum(1 for c, found in checks.items() if _failed(result, c, found))
    root = ET.Element("testsuites", name=suite, tests=str(len(checks)), failures=str(failures))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(checks)), failures=str(failures), errors="0",
                       skipped="0", time=f"{sum(float(v or 0) for v in seconds.values()):.3f}")
    props = ET.SubElement(ts, "properties")
    for key in ("build_dir", "samples", "mismatch_count", "argmax_agree", "cycles_per_frame", "fps", "latency_cycles"):
        if result.get(key) is not None:
            ET.SubElement(props, "property", name=key, value=str(result[key]))
    for check, found in checks.items():
        case = ET.SubElement(ts, "testcase", classname=f"{suite}.{Path(str(result.get('build_dir', 'build'))).name}",
                             name=f"{check} bit-exact vs qonnx ({result.get('samples')} samples)",
                             time=f"{float(seconds.get(check) or 0):.3f}")
        if _failed(result, check, found):
            fail = ET.SubElement(case, "failure", message=f"{len(found)} mismatching outputs", type="mismatch")
            fail.text = "\n".join(f"sample {m.get('sample')}: {m.get('layer')} differs in {m.get('elements')} elements"
                                  for m in found[:50])
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_verify_junit(result: dict, path: Path) -> None:
    atomic_write_bytes(Path(path), verify_junit(result))
