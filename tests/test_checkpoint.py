"""Checkpoints: round trip, atomic writes, refusal of damaged, foreign and hostile files."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from trainer.training.checkpoint import (FORMAT_NAME, CheckpointError, load_checkpoint, make_payload, read_checkpoint,
                                save_checkpoint, update_checkpoint, weights_hash)
from trainer.config import DataConfig, RunConfig, TrainConfig
from trainer.models.networks import build_model
from trainer.models.presets import preset_config


def _config(family: str = "vae") -> RunConfig:
    model = preset_config("default" if family == "vae" else "default-ae", image_size=32, base_channels=8,
                          depth=3, latent_dim=6)
    return RunConfig(model=model, data=DataConfig(image_size=32), train=TrainConfig(epochs=1))


@pytest.fixture
def checkpoint_file(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    config = _config()
    model = build_model(config.model)
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    save_checkpoint(path, make_payload(config, model, step=7, eval=None, data_source="synthetic"))
    return path, model


class _CreatesMarker:
    """Unpickling this would create a file: what a hostile checkpoint could do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _assert_refused(path: Path, *reason_words: str) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    text = str(info.value)
    assert str(path) in text
    for word in reason_words:
        assert word in text, text
    return info.value


# ---------------------------------------------------------------- round trip

def test_round_trip_gives_the_same_outputs(checkpoint_file) -> None:
    path, model = checkpoint_file
    loaded = load_checkpoint(path)
    assert not loaded.model.training
    assert loaded.step == 7
    assert loaded.payload["format"] == FORMAT_NAME
    assert loaded.payload["data_source"] == "synthetic"
    assert loaded.config == _config()
    assert loaded.latent_stats is None and loaded.eval_metrics is None
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        expected, loaded_out = model(x), loaded.model(x)
    assert torch.equal(expected.logits, loaded_out.logits)
    assert torch.equal(expected.mean, loaded_out.mean)
    assert torch.equal(expected.logvar, loaded_out.logvar)


def test_autoencoder_round_trip(tmp_path: Path) -> None:
    config = _config("ae")
    model = build_model(config.model).eval()
    save_checkpoint(tmp_path / "ae.pt", make_payload(config, model, step=1))
    loaded = load_checkpoint(tmp_path / "ae.pt")
    assert not loaded.model.is_variational
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.decode(model.encode(x)[0]), loaded.model.decode(loaded.model.encode(x)[0]))


def test_save_leaves_no_temporary_files(checkpoint_file) -> None:
    path, _ = checkpoint_file
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]


def test_failed_save_keeps_the_previous_file(checkpoint_file, monkeypatch) -> None:
    path, model = checkpoint_file
    before = path.read_bytes()

    def broken_save(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    from trainer.training.checkpoint import CheckpointWriteError
    with pytest.raises(CheckpointWriteError, match="could not write .*last.pt: disk full; the previous checkpoint"):
        save_checkpoint(path, make_payload(_config(), model, step=8))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]
    monkeypatch.undo()
    assert load_checkpoint(path).step == 7


def test_update_checkpoint_adds_a_field(checkpoint_file) -> None:
    path, model = checkpoint_file
    update_checkpoint(path, latent_stats={"mean": [0.0] * 6}, eval={"val_loss": 1.5})
    loaded = load_checkpoint(path)
    assert loaded.latent_stats == {"mean": [0.0] * 6}
    assert loaded.eval_metrics == {"val_loss": 1.5}
    assert loaded.step == 7
    assert weights_hash(loaded.model.state_dict()) == weights_hash(model.state_dict())
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]


def test_weights_hash_is_stable_and_tracks_the_weights(checkpoint_file) -> None:
    path, model = checkpoint_file
    state = model.state_dict()
    first = weights_hash(state)
    assert weights_hash(state) == first
    assert weights_hash(read_checkpoint(path)["model_state"]) == first
    assert len(first) == 16
    changed = {k: v.clone() for k, v in state.items()}
    name = next(iter(changed))
    changed[name].view(-1)[0] += 1e-3
    assert weights_hash(changed) != first


# ---------------------------------------------------------------- bad files

def test_missing_file(tmp_path: Path) -> None:
    _assert_refused(tmp_path / "nowhere.pt", "no such file")


def test_random_bytes_and_empty_file(tmp_path: Path) -> None:
    random_file = tmp_path / "random.pt"
    random_file.write_bytes(os.urandom(4096))
    _assert_refused(random_file, "not a PyTorch checkpoint")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    _assert_refused(empty, "not a PyTorch checkpoint")


@pytest.mark.parametrize("fraction", [0.5, 0.98])
def test_truncated_checkpoint(checkpoint_file, tmp_path: Path, fraction: float) -> None:
    path, _ = checkpoint_file
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: int(len(data) * fraction)])
    _assert_refused(cut)


def test_hostile_pickle_inside_a_torch_file_is_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "hostile.pt"
    torch.save({"format": FORMAT_NAME, "format_version": 1, "config": {}, "model_state": {},
                "payload": _CreatesMarker(marker)}, path)
    assert not marker.exists()
    _assert_refused(path, "refused to load")
    assert not marker.exists()


def test_hostile_file_message_says_why_and_never_how_to_load_it_anyway(tmp_path: Path, capsys) -> None:
    """Torch's own text teaches the bypass ("Re-running torch.load with weights_only set to False..."): ours
    says the file holds code that could run on load, in the library and in the CLI."""
    from trainer.cli import main

    path = tmp_path / "hostile.pt"
    torch.save({"format": FORMAT_NAME, "format_version": 1, "config": {}, "model_state": {},
                "payload": _CreatesMarker(tmp_path / "pwned")}, path)
    text = str(_assert_refused(path, "code that could run"))
    for leak in ("weights_only", "torch.load", "Re-running", "trust"):
        assert leak not in text, text
    assert main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "code that could run" in err and "weights_only" not in err


def test_hostile_plain_pickle_is_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "hostile.pt"
    with open(path, "wb") as handle:
        pickle.dump(_CreatesMarker(marker), handle)
    _assert_refused(path)
    assert not marker.exists()


def test_foreign_torch_file(tmp_path: Path) -> None:
    path = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"weight": torch.zeros(2)}, "epoch": 3}, path)
    _assert_refused(path, "not a VAE Face Explorer checkpoint")
    tensor_only = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor_only)
    _assert_refused(tensor_only, "not a VAE Face Explorer checkpoint")


def test_future_format_version(checkpoint_file, tmp_path: Path) -> None:
    path, _ = checkpoint_file
    payload = read_checkpoint(path)
    payload["format_version"] = 99
    future = tmp_path / "future.pt"
    torch.save(payload, future)
    _assert_refused(future, "version 99")


def test_weights_that_do_not_match_the_config(checkpoint_file, tmp_path: Path) -> None:
    path, _ = checkpoint_file
    payload = read_checkpoint(path)
    payload["config"]["model"]["latent_dim"] = 9
    wrong = tmp_path / "wrong.pt"
    torch.save(payload, wrong)
    _assert_refused(wrong, "does not match")


def test_unknown_config_key_in_a_checkpoint(checkpoint_file, tmp_path: Path) -> None:
    path, _ = checkpoint_file
    payload = read_checkpoint(path)
    payload["config"]["model"]["wings"] = 2
    odd = tmp_path / "odd.pt"
    torch.save(payload, odd)
    _assert_refused(odd, "wings")


def test_export_for_inference_drops_training_state_and_still_loads(tiny_checkpoint, tmp_path):
    from trainer.training.checkpoint import export_for_inference, load_checkpoint, read_checkpoint

    out = export_for_inference(tiny_checkpoint, tmp_path / "slim.pt")
    slim = read_checkpoint(out)
    assert "optimizer_state" not in slim and "rng_state" not in slim
    assert out.stat().st_size < tiny_checkpoint.stat().st_size
    original, exported = load_checkpoint(tiny_checkpoint), load_checkpoint(out)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(original.model.decode(original.model.encode(x)[0]),
                       exported.model.decode(exported.model.encode(x)[0]))
