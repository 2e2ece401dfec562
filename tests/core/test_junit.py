"""JUnit XML of verify results: one case per comparison, failures carry the mismatches."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fpgabnn.core.junit import verify_junit, write_verify_junit


def _result(csim_ok: bool) -> dict:
    mismatches = [] if csim_ok else [
        {"sample": 3, "layer": "C simulation output", "elements": 2},
        {"sample": 7, "layer": "C simulation output", "elements": 1}]
    return {"bit_exact": csim_ok, "samples": 100, "mismatches": mismatches, "mismatch_count": len(mismatches),
            "lowered_graph_bit_exact": True, "csim_bit_exact": csim_ok, "csim_seconds": 1.5,
            "reference_seconds": 2.0, "build_dir": "build/tfc", "argmax_agree": 1.0}


def test_passing_result_is_two_passing_cases(tmp_path):
    write_verify_junit(_result(True), tmp_path / "v.xml")
    root = ET.parse(tmp_path / "v.xml").getroot()
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "0")
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names == ["lowered_graph bit-exact vs qonnx (100 samples)", "csim bit-exact vs qonnx (100 samples)"]
    assert not list(suite.iter("failure"))


def test_mismatch_is_a_failure_listing_the_samples():
    root = ET.fromstring(verify_junit(_result(False)))
    suite = root.find("testsuite")
    assert suite.get("failures") == "1" and root.get("failures") == "1"
    (fail,) = list(suite.iter("failure"))
    assert fail.get("message") == "2 mismatching outputs"
    assert "sample 3: C simulation output differs in 2 elements" in fail.text and "sample 7" in fail.text
    lowered = next(c for c in suite.iter("testcase") if c.get("name").startswith("lowered_graph"))
    assert lowered.find("failure") is None
