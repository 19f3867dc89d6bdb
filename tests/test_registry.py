from __future__ import annotations

import pytest

from aidbench import registry
from aidbench.errors import NotBuiltError, UsageError
from aidbench.report.tables import PaperTable


def test_unknown_names_suggest_the_closest():
    with pytest.raises(UsageError, match="unknown system 'aidd'; did you mean 'aid'"):
        registry.get("system", "aidd")
    with pytest.raises(UsageError, match="unknown metric 'fvd@sear'; did you mean 'fvd@seer'"):
        registry.get("metric", "fvd@sear")
    with pytest.raises(UsageError) as err:
        registry.get("dataset", "imagenet")
    assert "did you mean" not in str(err.value) and "aidbench ls datasets" in str(err.value)


def test_entries_not_built_say_which_issue_builds_them(monkeypatch):
    future = registry.Entry("system", "future-system", "a system still to come", issue=99)
    monkeypatch.setitem(registry.CATALOGUE["system"], "future-system", future)
    with pytest.raises(
        NotBuiltError, match=r"the system 'future-system' is registered but not built yet \(issue #99\)"
    ):
        registry.load("system", "future-system")
    assert registry.get("system", "aid").status == "ready"
    assert registry.get("system", "future-system").status == "not built yet (issue #99)"
    assert registry.get("metric", "fvd@seer").status == "ready"


def test_built_entries_load_lazily():
    table = registry.load("table", "main-results")
    assert isinstance(table, PaperTable) and table.name == "main-results"
    for name in registry.names("table"):
        entry = registry.get("table", name)
        assert entry.built and registry.load("table", name).name == name


def test_the_catalogue_covers_the_paper():
    assert {"aid", "svd-zeroshot", "svd-fullft", "opensora-zeroshot", "opensora-fullft", "vae-recon"} <= set(
        registry.names("system")
    )
    assert {"ssv2", "bridge", "epic", "ucf101", "synthtvp"} <= set(registry.names("dataset"))
    assert {"fvd@seer", "fvd@styleganv", "fid@clean-frames", "clipsim@vitb32"} <= set(
        registry.names("metric")
    )
    for kind in registry.KINDS:
        for entry in registry.CATALOGUE[kind].values():
            assert entry.summary and (entry.built or entry.issue), entry


def test_ls_lists_runnable_and_paper_reported_systems(cli):
    result = cli("ls", "systems")
    assert result.code == 0
    runnable, reported = result.out.split("systems (paper-reported")
    assert runnable.startswith("systems (runnable here):\n")
    for name in ("aid", "svd-zeroshot", "svd-fullft", "opensora-zeroshot", "opensora-fullft", "vae-recon"):
        line = next(line for line in runnable.splitlines() if line.startswith(f"  {name:<34} "))
        assert "[" not in line, line  # every system runs, none partly built
    assert "  Seer " in reported and "paper-reported in main-results" in reported
    assert "full model without LLaVA" not in result.out  # ablation rows are configurations, not systems
