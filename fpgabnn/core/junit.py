"""JUnit XML of a verification result, for CI systems that show test reports (GitHub Actions, GitLab, Jenkins).

One test case per comparison the result records (every ``*_bit_exact`` flag: the lowered graph, C simulation,
RTL simulation, ...); a comparison that found mismatches is a failure listing them. Written atomically."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from fpgabnn.core.fileio import atomic_write_bytes

_LAYER_OF = {"lowered_graph": None, "csim": "C simulation output", "rtlsim": "RTL simulation output"}


def _mismatches_of(result: dict, check: str) -> list:
    layer = _LAYER_OF.get(check, f"{check} output")
    ms = result.get("mismatches", [])
    if layer is None:  # the lowered graph: every mismatch not reported by a simulator
        sims = {v for v in _LAYER_OF.values() if v}
        return [m for m in ms if m.get("layer") not in sims and not str(m.get("layer", "")).endswith("simulation output")]
    return [m for m in ms if m.get("layer") == layer]


def verify_junit(result: dict, suite: str = "fpgabnn verify") -> bytes:
    checks = [k[: -len("_bit_exact")] for k in result if k.endswith("_bit_exact") and k != "bit_exact"]
    seconds = {"csim": result.get("csim_seconds"), "rtlsim": result.get("rtlsim_seconds"),
               "lowered_graph": result.get("reference_seconds")}
    failures = sum(1 for c in checks if not result[f"{c}_bit_exact"])
    root = ET.Element("testsuites", name=suite, tests=str(len(checks)), failures=str(failures))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(checks)), failures=str(failures), errors="0",
                       skipped="0", time=f"{sum(float(v or 0) for v in seconds.values()):.3f}")
    props = ET.SubElement(ts, "properties")
    for key in ("build_dir", "samples", "mismatch_count", "argmax_agree"):
        if key in result:
            ET.SubElement(props, "property", name=key, value=str(result[key]))
    for check in checks:
        case = ET.SubElement(ts, "testcase", classname=f"{suite}.{Path(str(result.get('build_dir', 'build'))).name}",
                             name=f"{check} bit-exact vs qonnx ({result.get('samples')} samples)",
                             time=f"{float(seconds.get(check) or 0):.3f}")
        if not result[f"{check}_bit_exact"]:
            found = _mismatches_of(result, check)
            fail = ET.SubElement(case, "failure", message=f"{len(found)} mismatching outputs", type="mismatch")
            fail.text = "\n".join(f"sample {m.get('sample')}: {m.get('layer')} differs in {m.get('elements')} elements"
                                  for m in found[:50])
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_verify_junit(result: dict, path: Path) -> None:
    atomic_write_bytes(Path(path), verify_junit(result))
