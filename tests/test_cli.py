from __future__ import annotations

import json

import pytest
import yaml

from aidbench.config import resolve
from tests.conftest import run_subprocess

NO_TORCH = (
    "import sys\n"
    "from aidbench.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "heavy = sorted(m for m in ('torch', 'diffusers', 'transformers', 'pandas', 'numpy') if m in sys.modules)\n"
    "print('HEAVY=' + ','.join(heavy), 'CODE=' + str(code))\n"
)


@pytest.mark.parametrize("args", [["--help"], ["ls"], ["ls", "metrics"], ["train", "--help"]])
def test_help_and_ls_do_not_import_torch(args):
    done = run_subprocess("-c", NO_TORCH, *args)
    assert "HEAVY= CODE=0" in done.stdout, done.stdout + done.stderr


COMMANDS = [
    ["data", "verify"],
    ["data", "export"],
    ["data", "states"],
    ["train"],
    ["sample"],
    ["eval"],
    ["report"],
    ["leaderboard"],
    ["human-eval", "make"],
    ["human-eval", "serve"],
    ["human-eval", "score"],
    ["bench"],
    ["reproduce"],
    ["ls"],
    ["model-info"],
    ["weights", "list"],
    ["weights", "verify"],
    ["weights", "fetch"],
    ["stats", "ls"],
    ["stats", "rm"],
    ["doctor"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(cli, command):
    result = cli(*command, "--help")
    assert result.code == 0
    assert "Example: aidbench " + command[0] in " ".join(result.out.split())


def test_unknown_system_is_one_line_exit_2_and_no_traceback():
    done = run_subprocess("-m", "aidbench", "train", "aidd")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: unknown system 'aidd'; did you mean 'aid'? (see `aidbench ls systems`; your own: "
        "package.module:callable, an `aidbench.systems` entry point, or diffusers:FOLDER)"
    )
    assert "Traceback" not in done.stdout + done.stderr


def test_not_built_commands_say_so_with_exit_3(cli, monkeypatch):
    from aidbench import registry

    future = registry.Entry("system", "future-system", "a system still to come", issue=99)
    monkeypatch.setitem(registry.CATALOGUE["system"], "future-system", future)
    result = cli("train", "future-system", "--dataset", "ssv2")
    assert result.code == 3 and "not built yet (issue #99)" in result.err
    zero_shot = cli("train", "opensora-zeroshot", "--dataset", "ssv2")
    assert zero_shot.code == 2 and "'opensora-zeroshot' needs no training" in zero_shot.err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["train", "aid", "--dataset", "ssv3"], 2, "unknown dataset 'ssv3'; did you mean 'ssv2'?"),
        (["train", "aid", "--set", "data.resoluton=1"], 2, "did you mean 'data.resolution'?"),
        (["train", "aid", "--config", "missing.yaml"], 1, "config file missing.yaml does not exist"),
        (["eval", "--metric", "fvd@sear", "--run", "x"], 2, "did you mean 'fvd@seer'?"),
        (
            ["eval", "--metric", "fvd@seer"],
            2,
            "give either --run SAMPLES_RUN, or both --real DIR and --fake DIR",
        ),
        (["eval", "--metric", "fvd@seer", "--real", "a"], 2, "--real and --fake go together"),
        (["eval", "--metric", "fvd@seer", "--real", "a", "--fake", "b"], 1, "a is not a folder"),
        (
            ["eval", "--metric", "fvd@seer", "--run", "r", "--weights", "i3d"],
            2,
            "--weights expects NAME=PATH",
        ),
        (["reproduce", "--preset", "smoke", "--resume", "x", "--set", "seed=3"], 2, "--resume continues"),
        (["reproduce", "--resume", "nothing-here"], 1, "no reproduce run 'nothing-here'"),
        (
            ["bench", "fly"],
            2,
            "bench measures train, sample, step, decode, frechet, i3d, precision; not 'fly'",
        ),
        (["ls", "widgets"], 2, "unknown kind 'widgets'"),
        (["sample", "--checkpoint", "nowhere", "--dataset", "ssv2"], 1, "checkpoint nowhere does not exist"),
        (["weights", "verify", "incepton"], 2, "did you mean 'inception'?"),
        (["train"], 2, "Missing argument 'model'"),
    ],
)
def test_user_mistakes_are_one_clear_sentence(cli, args, code, message):
    result = cli(*args)
    assert result.code == code, result
    assert message in result.err
    assert "Traceback" not in result.err


def test_dry_run_prints_the_resolved_config(cli):
    result = cli(
        "train", "aid", "--dataset", "bridge", "--preset", "paper-ssv2", "--set", "seed=5", "--dry-run"
    )
    assert result.code == 0
    header, body = result.out.split("\n", 1)
    printed = yaml.safe_load(body)
    assert (
        printed["data"]["dataset"] == "bridge" and printed["seed"] == 5 and printed["preset"] == "paper-ssv2"
    )
    expected = resolve(preset="paper-ssv2", overrides=["seed=5"], cli={"data.dataset": "bridge"})
    assert header == f"# resolved config, sha256 {expected.sha256()}"


def test_report_writes_markdown_and_csv(cli, tmp_path):
    result = cli("report", "--out", str(tmp_path / "out"))
    assert result.code == 0
    csv_text = (tmp_path / "out/paper-reference.csv").read_text()
    assert csv_text.startswith("table,system,attributes,dataset,metric,value,source")
    assert (
        'supp-table2,SVD (Ours),strategy=Adapter-Tuning,ssv2,finetuned_params_m,216,"AID supplementary, Table 2"'
        in csv_text
    )
    assert "the paper's numbers" in (tmp_path / "out/paper-reference.md").read_text()


def test_weights_list_and_verify(cli, tmp_path):
    listed = cli("weights", "list", "--json")
    rows = {r["name"]: r for r in json.loads(listed.out)}
    assert rows["clip"]["found"] is None and rows["clip"]["expected"] == str(tmp_path / "weights/ViT-B-32.pt")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights/ViT-B-32.pt").write_bytes(b"tampered")
    verified = cli("weights", "verify")
    assert verified.code == 1 and "clip" in verified.out and "MISMATCH" in verified.out
    assert "do not match their recorded sha256" in verified.err
    missing = cli("weights", "verify", "i3d")
    assert missing.code == 1 and "weights 'i3d' (i3d_pretrained_400.pt) not found" in missing.err


def test_doctor_reports_versions_devices_weights_and_datasets(cli, tmp_path):
    (tmp_path / "data/ssv2").mkdir(parents=True)
    result = cli("doctor", "--json")
    assert result.code == 0
    report = json.loads(result.out)
    assert report["device"]["kind"] == "cpu"
    assert report["packages"]["torch"]
    assert report["datasets"]["ssv2"]["found"] == str(tmp_path / "data/ssv2")
    assert report["datasets"]["bridge"]["found"] is None
    assert report["datasets"]["synthtvp"]["found"] == "embedded"
    assert report["weights"]["i3d"]["found"] is None
    table = cli("doctor")
    assert table.code == 0 and "missing" in table.out


def test_ctrl_c_says_interrupted_and_exits_130(cli, monkeypatch):
    from aidbench import systems

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(systems, "load", interrupted)
    result = cli("train", "aid", "--preset", "smoke", "--set", "data.max_clips=2")
    assert result.code == 130 and result.err.strip() == "interrupted."
