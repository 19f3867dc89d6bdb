"""The paper's tables as data: one CSV each under results/paper/ (installed as `aidbench.reference`).

Every row carries its source; these numbers are the paper's and are always shown as such. Each table also
says which of our runs fills which of its rows (`Fill`: our system and the settings its run must have) and
which registered metric, with its protocol, stands for each of the paper's metric columns.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aidbench.report.records import TRAINED_HERE

REQUIRED_COLUMNS = ("system", "metric", "value", "source")

# The paper's metric column → the registered metric (with its protocol) whose records fill it.
OUR_METRIC = {"fvd": "fvd@seer", "kvd": "kvd@seer", "fid": "fid@clean-frames", "clipscore": "clipsim@vitb32"}
# Columns no eval run fills: the command that measures them instead ({system}, {preset} filled in).
OTHER_SOURCES = {
    "finetuned_params_m": "aidbench model-info {system} --preset {preset}",
    "seconds_per_iter": "aidbench bench train --model {system} --out results/benchmarks/train.json",
    "memory_gb": "aidbench bench train --model {system} --out results/benchmarks/train.json",
    "batch": "aidbench bench train --model {system} --max-batch --out results/benchmarks/train.json",
}
# The preset that evaluates on each dataset (what `aidbench reproduce --preset` needs to fill a cell).
PRESET_OF_DATASET = {
    "ssv2": "paper-ssv2",
    "bridge": "paper-bridge",
    "epic": "paper-epic",
    "ucf101": "paper-ucf101",
    "synthtvp": "smoke",
}


def _setting(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Fill:
    """Which of our runs fills a row: our system, and the settings its run must hold.

    `where`: (key, value) pairs the eval run must match: a dotted config path (model.adapters.spatial) or
    `trained_on` (the dataset of the train run behind the samples). `sets`: the `--set` overrides a user
    adds to the preset to make such a run. `command`: the commands, when `reproduce` alone cannot.
    """

    system: str
    where: tuple[tuple[str, Any], ...] = ()
    sets: tuple[tuple[str, Any], ...] = ()
    command: str | None = None

    @property
    def here(self) -> bool:
        """Trained on the dataset it is scored on (not a zero-shot transfer)."""
        return all(value == TRAINED_HERE for key, value in self.where if key == "trained_on")

    def command_for(self, preset: str) -> str:
        if self.command is not None:
            return self.command.format(preset=preset, system=self.system)
        return f"aidbench reproduce --preset {preset}" + "".join(
            f" --set {key}={_setting(value)}" for key, value in self.sets
        )


@dataclass(frozen=True)
class RowFill:
    """The paper's rows whose columns hold these values (system, strategy, setting …) → our Fill, and the
    Fill of the row's synthtvp miniature where it is another (default: the same system and settings)."""

    match: tuple[tuple[str, str], ...]
    fill: Fill
    miniature: Fill | None = None


# AID's switches and their values in the full model; an ablation flips some of them.
AID_SWITCHES = {
    "model.adapters.spatial": True,
    "model.adapters.short_term": True,
    "model.adapters.long_term": True,
    "model.mcondition.multimodal": True,
    "model.mcondition.decomposed": True,
    "model.mcondition.use_states": True,
}


def aid(*extra: tuple[str, Any], **flipped: bool) -> Fill:
    """AID trained on the dataset it is scored on, with some switches flipped (keyword: the last part of
    the switch's path, e.g. spatial=False) and extra settings (config path, value)."""
    changes = {}
    for name, value in flipped.items():
        (path,) = [p for p in AID_SWITCHES if p.endswith("." + name)]
        changes[path] = value
    where = {**AID_SWITCHES, "trained_on": TRAINED_HERE, **changes, **dict(extra)}
    return Fill("aid", tuple(where.items()), tuple(changes.items()) + extra)


def trained(system: str, *extra: tuple[str, Any]) -> Fill:
    """A baseline fine-tuned on the dataset it is scored on, with extra settings (config path, value)."""
    return Fill(system, (("trained_on", TRAINED_HERE), *extra), extra)


ZERO_SHOT_COMMAND = (
    "aidbench train {system} --preset paper-ssv2; aidbench sample --checkpoint "
    "results/runs/train/<RUN>/output --preset paper-epic; aidbench eval --run <SAMPLE_RUN> --metric fvd@seer"
)


def zero_shot_transfer(fill: Fill, trained_on: str) -> Fill:
    """The same system trained on another dataset (`trained_on`) and scored on this one."""
    where = {**dict(fill.where), "trained_on": trained_on}
    return Fill(fill.system, tuple(where.items()), command=ZERO_SHOT_COMMAND)


def _rows(*pairs: tuple[dict[str, str], Fill]) -> tuple[RowFill, ...]:
    return tuple(RowFill(tuple(match.items()), fill) for match, fill in pairs)


# The miniature's data: the mini preset's synthtvp task on the default domain (a run on other synthtvp data,
# e.g. the full-task preset's, fills no miniature cell).
MINIATURE_TASK = ("data.synthtvp_task", "move1")
DEFAULT_DOMAIN = ("data.synthtvp_domain", "default")
SHIFTED_DOMAIN = ("data.synthtvp_domain", "shifted")


def shifted(fill: Fill) -> Fill:
    """The system trained on synthtvp's default domain and scored on its shifted one: a zero-shot transfer
    in miniature."""
    return Fill(fill.system, (*fill.where, MINIATURE_TASK, SHIFTED_DOMAIN), (*fill.sets, SHIFTED_DOMAIN))


# Columns that describe a cell rather than the row it sits in.
CELL_COLUMNS = ("dataset", "metric", "value", "source")


# The preset that fills the paper's tables in miniature, on synthtvp.
MINIATURE_PRESET = "mini"
# The synthtvp metrics in a paper table's miniature columns, each with what it stands for there: PSNR against
# the true future for FVD's fidelity, instruction accuracy for instruction following.
MINIATURE_METRICS = (
    ("psnr@synthtvp", "fidelity"),
    ("instruction-accuracy@synthtvp", "instruction following"),
)


@dataclass(frozen=True)
class PaperTable:
    name: str
    title: str
    csv: str
    # "systems" (rows are methods) or "configurations" (rows are ablations of AID)
    rows_are: str = "systems"
    # Which of our runs fills which rows; a row no RowFill matches is the paper's alone.
    fills: tuple[RowFill, ...] = ()
    # Our synthtvp columns beside the paper's: (registered metric, what it stands for); () for none.
    miniature: tuple[tuple[str, str], ...] = MINIATURE_METRICS

    def fill_for(self, row: dict[str, str]) -> Fill | None:
        found = self._row_fill(row)
        return found.fill if found else None

    def miniature_for(self, row: dict[str, str]) -> Fill | None:
        """The Fill of a row's synthtvp miniature: the row's own on synthtvp's default domain, or its own
        miniature Fill (a zero-shot row: scored on the shifted domain)."""
        found = self._row_fill(row)
        if found is None:
            return None
        if found.miniature is not None:
            return found.miniature
        fill = found.fill
        return Fill(fill.system, (*fill.where, MINIATURE_TASK, DEFAULT_DOMAIN), fill.sets, fill.command)

    def _row_fill(self, row: dict[str, str]) -> RowFill | None:
        for candidate in self.fills:
            if all(row.get(key, "") == value for key, value in candidate.match):
                return candidate
        return None

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
    "main-results",
    "FVD on SSv2, BridgeData v2 and Epic-Kitchens-100",
    "main_results.csv",
    fills=_rows(({"system": "Seer"}, trained("seer")), ({"system": "AID"}, aid())),
)
ABLATION_MCONDITION = PaperTable(
    "ablation-mcondition",
    "Ablation of MCondition (SSv2)",
    "ablation_mcondition.csv",
    "configurations",
    _rows(
        ({"system": "no MCondition"}, aid(multimodal=False, decomposed=False)),
        ({"system": "multimodal branch only"}, aid(decomposed=False)),
        ({"system": "decomposed branch only"}, aid(multimodal=False)),
        ({"system": "full model without LLaVA"}, aid(use_states=False)),
        ({"system": "full model"}, aid()),
    ),
)
ABLATION_ADAPTERS = PaperTable(
    "ablation-adapters",
    "Ablation of the adapters (SSv2)",
    "ablation_adapters.csv",
    "configurations",
    _rows(
        ({"system": "no adapters"}, aid(spatial=False, short_term=False, long_term=False)),
        ({"system": "without spatial adapter"}, aid(spatial=False)),
        ({"system": "without temporal adapters"}, aid(short_term=False, long_term=False)),
        ({"system": "without short-term temporal adapter"}, aid(short_term=False)),
        ({"system": "without long-term temporal adapter"}, aid(long_term=False)),
        ({"system": "full model"}, aid()),
    ),
)
SUPP_TABLE1 = PaperTable(
    "supp-table1",
    "Class-conditioned video prediction on UCF-101",
    "supp_table1_ucf101.csv",
    # synthtvp's clips are 5 frames long: 5 reference frames would leave nothing to predict.
    miniature=(),
    fills=_rows(
        ({"system": "AID", "ref_frames": "1"}, aid(("data.num_ref_frames", 1))),
        ({"system": "AID", "ref_frames": "5"}, aid(("data.num_ref_frames", 5))),
        ({"system": "Seer", "ref_frames": "5"}, trained("seer", ("data.num_ref_frames", 5))),
    ),
)
SUPP_TABLE2 = PaperTable(
    "supp-table2",
    "Fine-tune strategies of SVD and Open-Sora (SSv2)",
    "supp_table2_finetune.csv",
    fills=_rows(
        ({"system": "Open-Sora", "strategy": "Zero-Shot"}, Fill("opensora-zeroshot")),
        ({"system": "Open-Sora", "strategy": "Fully-Finetune"}, trained("opensora-fullft")),
        ({"system": "SVD", "strategy": "Zero-Shot"}, Fill("svd-zeroshot")),
        ({"system": "SVD", "strategy": "Fully-Finetune"}, trained("svd-fullft")),
        ({"system": "SVD (Ours)"}, aid()),
        ({"system": "Upper Baseline"}, Fill("vae-recon")),
    ),
)
# Tables 3-4 come from `aidbench bench train` records (aidbench/report/efficiency.py): systems as it names them.
EFFICIENCY_ROWS = (
    ({"system": "Ours"}, aid()),
    ({"system": "Ours(full finetune)"}, Fill("aid-fullft")),
    ({"system": "Seer"}, Fill("seer")),
    ({"system": "VideoFusion"}, Fill("videofusion")),
)
SUPP_TABLE3 = PaperTable(
    "supp-table3",
    "Training time and GPU memory, 16 frames",
    "supp_table3_efficiency.csv",
    # `reproduce`'s bench stage: the preset's sizes and batch, on the machine it ran on.
    miniature=(("seconds_per_iter", "s/iter"), ("memory_gb", "peak memory (GB)")),
    fills=_rows(*EFFICIENCY_ROWS),
)
SUPP_TABLE4 = PaperTable(
    "supp-table4",
    "Training time and GPU memory at ≥90% GPU memory",
    "supp_table4_efficiency_max_memory.csv",
    # The largest batch under a GPU's memory: nothing a CPU's miniature stands for.
    miniature=(),
    fills=_rows(*EFFICIENCY_ROWS),
)
SUPP_TABLE5 = PaperTable(
    "supp-table5",
    "Zero-shot FVD on Epic-100 after training on SSv2",
    "supp_table5_zeroshot.csv",
    fills=(
        *_rows(
            ({"system": "Seer", "setting": "training"}, trained("seer")),
            ({"system": "SVD", "setting": "training"}, trained("svd-fullft")),
            ({"system": "AID(ours)", "setting": "training"}, aid()),
        ),
        RowFill(
            (("system", "Seer"), ("setting", "zero-shot")),
            zero_shot_transfer(trained("seer"), "ssv2"),
            shifted(trained("seer")),
        ),
        RowFill(
            (("system", "SVD"), ("setting", "zero-shot")),
            zero_shot_transfer(trained("svd-fullft"), "ssv2"),
            shifted(trained("svd-fullft")),
        ),
        RowFill(
            (("system", "AID(ours)"), ("setting", "zero-shot")),
            zero_shot_transfer(aid(), "ssv2"),
            shifted(aid()),
        ),
    ),
)
SUPP_TABLE6 = PaperTable(
    "supp-table6",
    "Instruction following on SSv2: FVD and CLIPScore",
    "supp_table6_clipscore.csv",
    miniature=(("psnr@synthtvp", "fidelity"), ("instruction-accuracy@synthtvp", "CLIPScore")),
    fills=_rows(
        ({"system": "Seer"}, trained("seer")),
        ({"system": "SVD"}, trained("svd-fullft")),
        ({"system": "AID(ours)"}, aid()),
    ),
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
