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


def test_rtl_result_has_an_rtlsim_case_with_cycle_properties():
    result = {"bit_exact": False, "samples": 10, "sim": "rtl", "cycles_per_frame": 98.0, "fps": 1020408.2,
              "mismatches": [{"sample": -1, "layer": "TLAST", "elements": 1}], "mismatch_count": 1,
              "sim_seconds": 0.5, "reference_seconds": 1.0, "build_dir": "b"}
    suite = ET.fromstring(verify_junit(result)).find("testsuite")
    cases = {c.get("name").split()[0]: c for c in suite.iter("testcase")}
    assert set(cases) == {"lowered_graph", "rtlsim"}
    assert cases["rtlsim"].find("failure") is not None and cases["lowered_graph"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["cycles_per_frame"] == "98.0"
