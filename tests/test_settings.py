"""One path from settings to a run: the settings table, the CLI flags, run files, the Train form, experiments."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trainer.cli import main
from trainer.cli.commands import build_parser, config_from_args
from trainer.config import EPOCH_LIMIT, DataConfig, ModelConfig, RunConfig, TrainConfig
from trainer.settings import (BY_NAME, SETTINGS, SettingsError, default_value, format_settings, read_settings_file,
                              recommended_settings, run_config_from_settings, settings_from_config)
from trainer.study.experiments import ExperimentFileError, experiments_from_dict


def _other_value(name: str, tmp_path: Path):
    """A valid value for setting `name` that differs from its default."""
    setting = BY_NAME[name]
    default = default_value(name)
    special = {"data": str(tmp_path), "preset": "study-ae-01", "image_size": 32, "family": "ae",
               "label_fraction": 0.5, "test_fraction": 0.25, "cache_dir": str(tmp_path / "cache"), "name": "other"}
    if name in special:
        return special[name]
    if setting.choices:
        return next(choice for choice in setting.choices if choice != default)
    if setting.kind is bool:
        return not default
    if setting.kind is int:
        return default + 1
    if setting.kind is float:
        return default / 2 if default > 0 else 0.25
    return f"{default}-other"


def _run_config(argv: list[str]) -> RunConfig:
    return config_from_args(build_parser().parse_args(["train", *argv]))


def _flags(settings: dict) -> list[str]:
    argv = []
    for name, value in settings.items():
        flag = BY_NAME[name].flag
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        else:
            argv += [flag, str(value)]
    return argv


# ---------------------------------------------------------------- the table

def test_every_config_field_is_set_by_exactly_one_setting() -> None:
    targets = [target for setting in SETTINGS for target in setting.targets]
    assert len(targets) == len(set(targets))
    for section, cls in (("model", ModelConfig), ("data", DataConfig), ("train", TrainConfig)):
        for field in dataclasses.fields(cls):
            assert f"{section}.{field.name}" in targets, f"{section}.{field.name} has no setting"


@pytest.mark.parametrize("name", [setting.name for setting in SETTINGS])
def test_every_setting_sets_its_field_by_name(name: str, tmp_path: Path) -> None:
    value = _other_value(name, tmp_path)
    config = run_config_from_settings({name: value})
    for target in BY_NAME[name].targets:
        section, field = target.split(".")
        assert getattr(getattr(config, section), field) == (str(tmp_path) if name == "data" else value)
    # ... and the same through its flag and through a run file
    assert _run_config(_flags({name: value})) == config
    assert run_config_from_settings(settings_from_config(config)) == config


def test_defaults_are_the_configs_and_presets_recommend_settings(tmp_path: Path) -> None:
    config = run_config_from_settings({})
    assert config == _run_config([])
    assert config.train == TrainConfig() and config.data == DataConfig() and config.model.preset == "default"
    assert config.train.epochs == default_value("epochs") == 20
    photo = run_config_from_settings({"data": str(tmp_path)})        # a folder: the photo preset's recipe
    assert photo.model.preset == "photo"
    assert (photo.train.recon_loss, photo.train.batch_size, photo.data.hflip) == ("gaussian", 128, True)
    assert recommended_settings("photo")["recon_loss"] == "gaussian"
    assert recommended_settings("default")["recon_loss"] == "mse"
    typed = run_config_from_settings({"data": str(tmp_path), "recon_loss": "bce", "hflip": False})
    assert (typed.train.recon_loss, typed.data.hflip) == ("bce", False)
    assert run_config_from_settings({"time_budget": 5}).train.epochs == EPOCH_LIMIT   # the budget ends it
    assert run_config_from_settings({"time_budget": 5, "epochs": 3}).train.epochs == 3


def test_a_base_config_keeps_what_the_settings_do_not_name() -> None:
    base = run_config_from_settings({"depth": 3, "schedule": "constant", "recon_loss": "bce"})
    kept = run_config_from_settings({"beta": 0.5}, base=base)
    assert (kept.model.depth, kept.train.schedule, kept.train.recon_loss) == (3, "constant", "bce")
    assert kept.train.beta == 0.5
    other = run_config_from_settings({"preset": "photo"}, base=base)   # another preset: its model and recipe
    assert (other.model.depth, other.model.latent_dim, other.train.recon_loss) == (4, 256, "gaussian")
    assert other.train.schedule == "constant"


# ---------------------------------------------------------------- errors name the setting

@pytest.mark.parametrize("settings, words", [
    ({"kl_warmup_steps": 10}, ["'kl_warmup_steps'", "it is called 'kl_warmup'"]),
    ({"betta": 1.0}, ["'betta'", "did you mean 'beta'"]),
    ({"lr": "fast"}, ["'lr'", "must be a number", "'fast'"]),
    ({"depth": 2.5}, ["'depth'", "whole number"]),
    ({"hflip": 1}, ["'hflip'", "true or false"]),
    ({"norm": "layer"}, ["'norm'", "group", "'layer'"]),
    ({"lr": 5}, ["lr", "between 0 and 1"]),
    ({"kl_warmup": -1}, ["kl_warmup", "between 0"]),
    ({"weight_decay": -0.5}, ["weight_decay", "between 0 and"]),
    ({"factor_supervision": 1.0, "latent_dim": 4}, ["factor supervision", "4"]),
])
def test_bad_settings_are_refused_naming_the_setting(settings: dict, words: list[str]) -> None:
    with pytest.raises(SettingsError) as error:
        run_config_from_settings(settings, where="run.toml")
    message = str(error.value)
    assert message.startswith("run.toml: ")
    for word in words:
        assert word in message


def test_bad_flags_exit_with_code_2_naming_the_flag(capsys) -> None:
    assert main(["train", "--weight-decay", "-1", "--print-config"]) == 2
    assert "weight_decay must be between 0 and 10" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--depth", "deep"])
    assert exit_info.value.code == 2
    assert "--depth" in capsys.readouterr().err


# ---------------------------------------------------------------- run files: --config and --print-config

def test_print_config_then_config_gives_the_same_run(tmp_path: Path, capsys) -> None:
    flags = ["--data", str(tmp_path), "--beta", "0.3", "--weight-decay", "0.01", "--optimizer", "adam",
             "--norm", "group", "--no-hflip", "--time-budget", "2.5", "--name", "look \"here\""]
    assert main(["train", *flags, "--print-config"]) == 0
    text = capsys.readouterr().out
    run_file = tmp_path / "run.toml"
    run_file.write_text(text)
    assert _run_config(["--config", str(run_file)]) == _run_config(flags)
    assert main(["train", "--config", str(run_file), "--print-config"]) == 0
    assert capsys.readouterr().out == text                       # printing the file's config prints the file
    assert "weight_decay = 0.01" in text and "kl_warmup = 0" in text and "optimizer = \"adam\"" in text


def test_flags_override_the_run_file(tmp_path: Path) -> None:
    run_file = tmp_path / "run.toml"
    run_file.write_text('beta = 2.0\nkl_warmup = 5\nlatent_dim = 8\nrecon_loss = "bce"\n')
    config = _run_config(["--config", str(run_file), "--beta", "0.5", "--latent-dim", "12"])
    assert (config.train.beta, config.train.kl_warmup_steps, config.model.latent_dim) == (0.5, 5, 12)
    assert config.train.recon_loss == "bce"


def test_a_bad_run_file_is_refused_naming_file_and_setting(tmp_path: Path, capsys) -> None:
    run_file = tmp_path / "run.toml"
    run_file.write_text("kl_warmup_steps = 10\n")
    assert main(["train", "--config", str(run_file), "--print-config"]) == 2
    err = capsys.readouterr().err
    assert str(run_file) in err and "'kl_warmup_steps'" in err and "'kl_warmup'" in err
    run_file.write_text("epochs = [1\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        read_settings_file(run_file)
    with pytest.raises(SettingsError, match="cannot read"):
        read_settings_file(tmp_path / "missing.toml")


def test_help_has_a_flag_for_every_setting(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for setting in SETTINGS:
        assert setting.flag in text
    assert "--config" in text and "--print-config" in text


# ---------------------------------------------------------------- CLI, experiments file and Train form agree

SHARED = {"preset": "default-ae", "latent_dim": 8, "image_size": 32, "synthetic_count": 500, "beta": 0.5,
          "kl_warmup": 100, "lr": 0.001, "batch_size": 32, "epochs": 3, "time_budget": 1.5, "device": "cpu"}


def test_cli_and_experiments_file_give_the_same_run_config(tmp_path: Path) -> None:
    cli = _run_config(_flags({**SHARED, "name": "same"}))
    [experiment] = experiments_from_dict({"experiments": {"same": dict(SHARED)}})
    assert experiment.config == cli
    assert format_settings(experiment.config) == format_settings(cli)


def test_experiments_refuse_old_or_runner_keys_with_a_clear_message() -> None:
    with pytest.raises(ExperimentFileError, match="it is called 'kl_warmup'"):
        experiments_from_dict({"experiments": {"old": {"kl_warmup_steps": 10}}})
    with pytest.raises(ExperimentFileError, match="'runs_dir' is set by the runner"):
        experiments_from_dict({"experiments": {"here": {"runs_dir": "elsewhere"}}})
    [everything] = experiments_from_dict({"experiments": {"x": {"weight_decay": 0.1, "activation": "gelu"}}})
    assert everything.config.train.weight_decay == 0.1 and everything.config.model.activation == "gelu"


def test_the_train_form_gives_the_same_run_config_as_the_cli(qtbot, tmp_path: Path) -> None:
    from vae_gui.training.setup_form import SetupForm

    form = SetupForm()
    qtbot.addWidget(form)
    form.runs_dir.setText(str(tmp_path / "runs"))
    assert form.config() == _run_config(["--runs-dir", str(tmp_path / "runs")])       # the same defaults
    form.preset.setCurrentIndex(form.preset.findData(SHARED["preset"]))
    form.latent_dim.setValue(SHARED["latent_dim"])
    form.image_size.setCurrentIndex(form.image_size.findData(SHARED["image_size"]))
    form.synthetic_count.setValue(SHARED["synthetic_count"])
    form.beta.setValue(SHARED["beta"])
    form.kl_warmup.setValue(SHARED["kl_warmup"])
    form.lr.setText(str(SHARED["lr"]))
    form.batch_size.setValue(SHARED["batch_size"])
    form.epochs.setValue(SHARED["epochs"])
    form.time_budget.setValue(SHARED["time_budget"])
    form.device.setCurrentIndex(form.device.findData(SHARED["device"]))
    form.run_name.setText("same")
    assert form.settings() == {**SHARED, "data": "synthetic", "factor_supervision": 0.0, "name": "same",
                               "runs_dir": str(tmp_path / "runs")}
    assert form.config() == _run_config(_flags({**SHARED, "name": "same", "runs_dir": str(tmp_path / "runs")}))
