from __future__ import annotations

import dataclasses

import pytest

from aidbench import config, registry
from aidbench.cli.options import check_names
from aidbench.config import Config, Layer, build, parse_overrides, preset_names, resolve
from aidbench.errors import UsageError, UserError


def test_defaults_are_the_papers_table7():
    cfg = Config()
    assert (cfg.train.learning_rate, cfg.train.weight_decay, cfg.train.adam_epsilon) == (5e-5, 1e-2, 1e-8)
    assert (cfg.train.adam_beta1, cfg.train.adam_beta2) == (0.9, 0.999)
    assert cfg.train.batch_size_per_device == 8 and cfg.train.max_steps == 100_000
    assert (
        cfg.sample.num_inference_steps,
        cfg.sample.text_guidance_scale,
        cfg.sample.visual_guidance_scale,
    ) == (
        30,
        12.0,
        1.5,
    )
    assert (cfg.data.resolution, cfg.data.num_frames) == (256, 16)


def test_layers_cli_beats_set_beats_file_beats_preset(tmp_path):
    file = tmp_path / "cfg.yaml"
    file.write_text("data:\n  resolution: 128\n  num_frames: 12\n  num_ref_frames: 2\nseed: 7\n")
    cfg = resolve(
        preset="paper-ssv2",
        config_file=file,
        overrides=["data.num_frames=10", "data.dataset=bridge"],
        cli={"data.dataset": "epic", "model.name": None},
    )
    assert cfg.preset == "paper-ssv2"
    assert cfg.data.resolution == 128  # file beats preset (256)
    assert cfg.data.num_frames == 10  # --set beats file
    assert cfg.data.num_ref_frames == 2  # file, untouched by later layers
    assert cfg.data.dataset == "epic"  # explicit CLI option beats --set
    assert cfg.seed == 7
    assert cfg.eval.metrics == ["fvd@seer", "kvd@seer", "clipsim@vitb32"]  # from the preset
    assert cfg.model.name == "aid"  # a None CLI value sets nothing


def test_set_values_take_the_fields_type():
    cfg = resolve(
        overrides=[
            "data.resolution=64",
            "train.learning_rate=1e-4",
            "train.gradient_checkpointing=true",
            "eval.metrics=[fvd@seer, fid@clean-frames]",
            "data.max_clips=null",
            "data.eval_split=1",
        ]
    )
    assert cfg.data.resolution == 64 and isinstance(cfg.data.resolution, int)
    assert cfg.train.learning_rate == pytest.approx(1e-4)
    assert cfg.train.gradient_checkpointing is True
    assert cfg.eval.metrics == ["fvd@seer", "fid@clean-frames"]
    assert cfg.data.max_clips is None
    assert cfg.data.eval_split == "1"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["data.resoluton=64"],
            "unknown config key 'data.resoluton' (set in --set); did you mean 'data.resolution'?",
        ),
        (["trian.max_steps=3"], "unknown config key 'trian' (set in --set); did you mean 'train'?"),
        (["train.learning_rate=fast"], "config key 'train.learning_rate' (set in --set)"),
        (["train.mixed_precision=bf32"], "'no', 'fp16' or 'bf16'"),
        (
            ["data.resolution=-5"],
            "config key 'data.resolution' (set in --set): Input should be greater than 0",
        ),
        (
            ["data.num_ref_frames=16"],
            "'data.num_ref_frames' (set in --set): must be smaller than data.num_frames (16)",
        ),
        (["data=3"], "config key 'data' (set in --set) must be a section of keys"),
    ],
)
def test_bad_values_name_the_key_and_where_it_was_set(overrides, expected):
    with pytest.raises(UsageError) as err:
        resolve(overrides=overrides)
    assert expected in str(err.value)
    assert err.value.exit_code == 2


def test_a_bad_key_in_a_file_names_the_file(tmp_path):
    file = tmp_path / "mine.yaml"
    file.write_text("train:\n  lerning_rate: 1.0e-4\n")
    with pytest.raises(
        UsageError, match=r"'train.lerning_rate' \(set in .*mine.yaml\); did you mean 'train.learning_rate'"
    ):
        resolve(config_file=file)


def test_malformed_yaml_names_the_line(tmp_path):
    file = tmp_path / "broken.yaml"
    file.write_text("seed: 1\ndata:\n  resolution: [1\n")
    with pytest.raises(UsageError, match="broken.yaml line 4: not valid YAML"):
        resolve(config_file=file)


def test_missing_config_file_and_unknown_preset():
    with pytest.raises(UserError, match="config file nope.yaml does not exist"):
        resolve(config_file="nope.yaml")
    with pytest.raises(UsageError, match="unknown preset 'paper-ssv3'; did you mean 'paper-ssv2'"):
        resolve(preset="paper-ssv3")


@pytest.mark.parametrize("item", ["noequals", "=3", "data..resolution=3"])
def test_malformed_set_items(item):
    with pytest.raises(UsageError, match="--set expects KEY=VALUE"):
        parse_overrides([item])


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_resolves_and_names_only_registered_things(name):
    cfg = resolve(preset=name)
    assert cfg.preset == name
    registry.get("dataset", cfg.data.dataset)
    for system in cfg.systems:
        registry.get("system", cfg.variants[system].system if system in cfg.variants else system)
    for metric in cfg.eval.metrics:
        registry.get("metric", metric)
    check_names(cfg)


def test_the_mini_preset_is_the_smoke_preset_with_every_row_it_fills():
    smoke, mini = resolve(preset="smoke"), resolve(preset="mini")
    assert set(smoke.systems) < set(mini.systems) and {"opensora-zeroshot", "opensora-fullft"} < set(
        mini.systems
    )
    assert (mini.train, mini.sample, mini.eval) == (smoke.train, smoke.sample, smoke.eval)
    assert dataclasses.replace(mini.data, max_clips=smoke.data.max_clips) == smoke.data
    ablations = {name: variant.set for name, variant in mini.variants.items()}
    assert ablations["aid-no-spatial"] == {"model.adapters.spatial": False}
    assert {"aid-no-multimodal", "aid-no-decomposed", "aid-no-states"} < set(mini.systems)
    assert {"aid-no-adapters", "aid-no-spatial", "aid-no-temporal"} < set(mini.systems)
    from aidbench.report.tables import DEFAULT_DOMAIN, MINIATURE_TASK

    for key, value in (MINIATURE_TASK, DEFAULT_DOMAIN):  # what the report's miniature columns look for
        assert getattr(mini.data, key.split(".")[1]) == value
    transfer = mini.for_system("aid-zero-shot")
    assert (
        transfer.data.synthtvp_domain == "shifted" and mini.variants["aid-zero-shot"].checkpoint_of == "aid"
    )


def test_required_presets_exist():
    assert {"smoke", "paper-ssv2", "paper-bridge", "paper-epic", "paper-ucf101"} <= set(preset_names())


def test_hash_ignores_order_and_paths_but_not_settings():
    a = resolve(overrides=["seed=1", "data.resolution=64"])
    b = resolve(overrides=["data.resolution=64", "seed=1", "paths.results=/elsewhere"])
    c = resolve(overrides=["seed=2", "data.resolution=64"])
    assert a.sha256() == b.sha256()
    assert a.sha256() != c.sha256()
    assert len(a.sha256()) == 64


def test_round_trip_through_a_manifest_dict():
    cfg = resolve(preset="smoke", overrides=["train.max_steps=3"])
    again = config.from_dict(cfg.to_dict())
    assert again == cfg and again.sha256() == cfg.sha256()


def test_stored_configs_are_validated_again():
    stored = Config().to_dict()
    stored["data"]["colour"] = "red"
    with pytest.raises(UsageError, match="unknown config key 'data.colour' \\(set in a run manifest\\)"):
        config.from_dict(stored)


def test_configs_are_real_dataclasses():
    assert dataclasses.is_dataclass(Config) and dataclasses.is_dataclass(Config().data)
    assert build([Layer("x", {})]) == Config()


def test_a_variant_is_its_system_with_its_settings_and_carries_its_name():
    from aidbench.cli.options import check_names

    variants = (
        "variants={aid-no-spatial: {system: aid, set: {model.adapters.spatial: false, train.max_steps: 7}}}"
    )
    cfg = resolve(preset="smoke", overrides=[variants, "systems=[aid, aid-no-spatial, svd-zeroshot]"])
    check_names(cfg)
    varied = cfg.for_system("aid-no-spatial")
    assert (varied.model.name, varied.model.adapters.spatial, varied.train.max_steps) == ("aid", False, 7)
    assert varied.variant == "aid-no-spatial" and varied.model.adapters.long_term
    plain = cfg.for_system("svd-zeroshot")
    assert (plain.model.name, plain.variant, plain.train.max_steps) == ("svd-zeroshot", None, 400)

    with pytest.raises(UserError, match="paths.results is not a data, model, train or sample setting"):
        resolve(overrides=["variants={x: {system: aid, set: {paths.results: /tmp}}}"])
    for wrong, message in (
        ("variants={x: {system: nope}}", "unknown system 'nope'"),
        (
            "variants={x: {system: aid, checkpoint_of: svd-fullft}}",
            "must be a 'aid' among the preset's systems",
        ),
        ("variants={aid: {system: aid}}", "has the name of a registered system"),
    ):
        with pytest.raises((UserError, UsageError), match=message):
            check_names(resolve(overrides=[wrong, "systems=[aid, svd-fullft, x]"]))
