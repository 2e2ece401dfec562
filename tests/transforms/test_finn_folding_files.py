"""FINN's published folding files for CNV-W1A1 and TFC-W1A1 (finn-examples build/bnn-pynq/folding_config, copied
into tests/data/finn_folding) are accepted exactly as published: every layer gets FINN's PE/SIMD, FINN-only
attributes are skipped and listed, and the LabelSelect entry folds our LabelSelect when the build has one
(--topk) and is skipped, with the reason, when it has not (as FINN's ApplyConfig leaves unused entries)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.analysis.estimates import estimate_dataflow
from fpgabnn.transforms.folding import apply_folding_config, folding_config, folding_record
from fpgabnn.transforms.labelselect import InsertLabelSelect

DATA = Path(__file__).resolve().parents[1] / "data" / "finn_folding"
CNV, TFC = DATA / "cnv-w1a1_folding_config.json", DATA / "tfc-w1a1_folding_config.json"


def _ours(finn_name: str) -> str:
    for finn, ours in (("MatrixVectorActivation", "MVAU"), ("MVAU_hls", "MVAU"), ("ConvolutionInputGenerator",
                       "SlidingWindow"), ("Thresholding_Batch", "Thresholding"), ("Thresholding_hls", "Thresholding"),
                       ("LabelSelect_Batch", "LabelSelect"), ("LabelSelect_hls", "LabelSelect")):
        if finn_name.startswith(finn + "_"):
            return f"{ours}_{finn_name.rsplit('_', 1)[1]}"
    raise AssertionError(finn_name)


def assert_applied_exactly(applied, published: dict, skipped_labelselect: bool):
    got = folding_config(applied)
    for key, entry in published.items():
        if key == "Defaults" or (skipped_labelselect and key.startswith("LabelSelect")):
            continue
        ours = got[_ours(key)]
        for attr in ("PE", "SIMD"):
            if attr in entry and attr in ours:
                assert ours[attr] == entry[attr], (key, attr)
        if "ram_style" in entry and "ram_style" in ours:
            assert ours["ram_style"] == entry["ram_style"], key


@pytest.mark.parametrize("name, path", [("cnv_1w1a", CNV), ("tfc_1w1a", TFC)])
def test_published_file_without_topk_skips_labelselect(bnn_pynq_lowered, name, path):
    _, lowered = bnn_pynq_lowered(name)
    published = json.loads(path.read_text())
    applied = apply_folding_config(lowered, path)
    record = folding_record(applied)
    label_key = next(k for k in published if k.startswith("LabelSelect"))
    assert any(s.startswith(label_key) and "--topk" in s for s in record["skipped"]), record["skipped"]
    assert_applied_exactly(applied, published, skipped_labelselect=True)
    report = estimate_dataflow(applied, "pynq-z1", 100.0)
    assert label_key in report["folding"]["message"]


@pytest.mark.parametrize("name, path", [("cnv_1w1a", CNV), ("tfc_1w1a", TFC)])
def test_published_file_with_topk_folds_labelselect(bnn_pynq_lowered, name, path):
    _, lowered = bnn_pynq_lowered(name)
    with_topk = lowered.transform(InsertLabelSelect(1))
    published = json.loads(path.read_text())
    applied = apply_folding_config(with_topk, path)
    record = folding_record(applied)
    assert not any(s.startswith("LabelSelect") for s in record["skipped"])
    assert_applied_exactly(applied, published, skipped_labelselect=False)
    label = next(n for n in applied.graph.node if n.op_type == "LabelSelect")
    assert label.name == "LabelSelect_0" and getCustomOp(label).get_nodeattr("pe") == 1


def test_published_cnv_folding_reaches_finns_rate(bnn_pynq_lowered):
    """The cycle models agree with FINN: about the 3,039 fps FINN estimates for this folding at 100 MHz
    (its board measures 3,020); the 64-bit port (384 beats per frame) is far from limiting."""
    _, cnv = bnn_pynq_lowered("cnv_1w1a")
    report = estimate_dataflow(apply_folding_config(cnv, CNV), "pynq-z1", 100.0)
    assert report["fps"] == pytest.approx(3039, rel=0.02)
    assert report["bottleneck"].startswith("MVAU")
