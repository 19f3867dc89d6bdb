"""The paper's numbers: every row has a source, and spot values match the paper's tables and its supplementary."""

from __future__ import annotations

import pytest

from aidbench import registry


def _cell(table_name, system, metric, **attributes):
    rows = [
        r
        for r in registry.load("table", table_name).rows()
        if r["system"] == system
        and r["metric"] == metric
        and all(r.get(k) == v for k, v in attributes.items())
    ]
    assert len(rows) == 1, (table_name, system, metric, attributes, rows)
    return rows[0]["value"]


@pytest.mark.parametrize("name", registry.names("table"))
def test_every_row_has_a_source_and_a_number(name):
    rows = registry.load("table", name).rows()
    assert rows
    for row in rows:
        assert row["source"].startswith("AID ")
        float(row["value"])


@pytest.mark.parametrize(
    ("table", "system", "metric", "attributes", "value"),
    [
        ("main-results", "AID", "fvd", {"dataset": "ssv2"}, "50.23"),
        ("main-results", "AID", "fvd", {"dataset": "bridge"}, "21.57"),
        ("main-results", "SimVP", "fvd", {"dataset": "epic"}, "1991"),
        ("ablation-mcondition", "full model without LLaVA", "fvd", {}, "64.48"),
        ("ablation-adapters", "no adapters", "kvd", {}, "0.71"),
        ("supp-table1", "AID", "fid", {"ref_frames": "5"}, "12.1"),
        ("supp-table1", "Make-A-Video", "fvd", {}, "81.25"),
        ("supp-table2", "SVD", "finetuned_params_m", {"strategy": "Fully-Finetune"}, "1528"),
        ("supp-table2", "SVD (Ours)", "finetuned_params_m", {}, "216"),
        ("supp-table2", "Open-Sora", "finetuned_params_m", {}, "1147"),
        ("supp-table2", "Upper Baseline", "fvd", {}, "7.14"),
        ("supp-table3", "Ours(full finetune)", "memory_gb", {}, "45.49"),
        ("supp-table4", "VideoFusion", "seconds_per_iter", {}, "7.68"),
        ("supp-table4", "Ours", "batch", {}, "6"),
        ("supp-table5", "SVD", "fvd", {"dataset": "epic"}, "831.34"),
        ("supp-table6", "G.T.(upper)", "clipscore", {}, "27.80"),
    ],
)
def test_spot_values(table, system, metric, attributes, value):
    assert _cell(table, system, metric, **attributes) == value


def test_cells_the_paper_leaves_empty_have_no_row():
    rows = registry.load("table", "supp-table1").rows()
    assert not [r for r in rows if r["system"] == "MoCoGAN" and r["metric"] == "fvd"]
