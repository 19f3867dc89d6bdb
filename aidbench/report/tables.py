"""The paper's tables as data: one CSV each under results/paper/ (installed as `aidbench.reference`).

Every row carries its source; these numbers are the paper's and are always shown as such.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

REQUIRED_COLUMNS = ("system", "metric", "value", "source")
# Columns that describe a cell rather than the row it sits in.
CELL_COLUMNS = ("dataset", "metric", "value", "source")


@dataclass(frozen=True)
class PaperTable:
    name: str
    title: str
    csv: str
    # "systems" (rows are methods) or "configurations" (rows are ablations of AID)
    rows_are: str = "systems"

    def rows(self) -> list[dict[str, str]]:
        text = resources.files("aidbench.reference").joinpath(self.csv).read_text(encoding="utf-8")
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"results/paper/{self.csv} lacks the columns {missing}")
        rows = list(reader)
        for number, row in enumerate(rows, start=2):
            if not row["source"].strip():
                raise ValueError(f"results/paper/{self.csv} line {number} has no source")
            float(row["value"])  # every cell is a number
        return rows

    def row_attributes(self) -> list[str]:
        """The columns that identify a row besides the system (e.g. strategy, ref_frames)."""
        header = self.rows()[0].keys()
        return [c for c in header if c not in CELL_COLUMNS and c != "system"]


MAIN_RESULTS = PaperTable(
    "main-results", "FVD on SSv2, BridgeData v2 and Epic-Kitchens-100", "main_results.csv"
)
ABLATION_MCONDITION = PaperTable(
    "ablation-mcondition", "Ablation of MCondition (SSv2)", "ablation_mcondition.csv", "configurations"
)
ABLATION_ADAPTERS = PaperTable(
    "ablation-adapters", "Ablation of the adapters (SSv2)", "ablation_adapters.csv", "configurations"
)
SUPP_TABLE1 = PaperTable(
    "supp-table1", "Class-conditioned video prediction on UCF-101", "supp_table1_ucf101.csv"
)
SUPP_TABLE2 = PaperTable(
    "supp-table2", "Fine-tune strategies of SVD and Open-Sora (SSv2)", "supp_table2_finetune.csv"
)
SUPP_TABLE3 = PaperTable(
    "supp-table3", "Training time and GPU memory, 16 frames", "supp_table3_efficiency.csv"
)
SUPP_TABLE4 = PaperTable(
    "supp-table4", "Training time and GPU memory at ≥90% GPU memory", "supp_table4_efficiency_max_memory.csv"
)
SUPP_TABLE5 = PaperTable(
    "supp-table5", "Zero-shot FVD on Epic-100 after training on SSv2", "supp_table5_zeroshot.csv"
)
SUPP_TABLE6 = PaperTable(
    "supp-table6", "Instruction following on SSv2: FVD and CLIPScore", "supp_table6_clipscore.csv"
)


def paper_systems(tables: list[PaperTable]) -> dict[str, list[str]]:
    """Every system the paper reports, with the tables it appears in (in table order)."""
    systems: dict[str, list[str]] = {}
    for table in (t for t in tables if t.rows_are == "systems"):
        for row in table.rows():
            names = systems.setdefault(row["system"], [])
            if table.name not in names:
                names.append(table.name)
    return systems
