"""vae_gui.drops: what a drop carries, for each kind the window takes and for what it refuses."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QUrl

from trainer.latent.explorer_state import ExplorerSnapshot, save_explorer_state
from vae_gui.drops import DropKind, classify_drop, classify_path


def urls_of(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    return mime


def kind_of(*paths: Path) -> DropKind:
    return classify_drop(urls_of(*paths)).kind


def make_run(folder: Path, checkpoint: str = "last.pt") -> Path:
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / checkpoint).write_bytes(b"weights")
    return folder


def test_checkpoint_files(tmp_path):
    for name in ("run.pt", "Model.PTH"):
        (tmp_path / name).write_bytes(b"")
        assert kind_of(tmp_path / name) is DropKind.CHECKPOINT


def test_image_files(tmp_path):
    for name in ("face.png", "Face.JPG", "scan.tiff"):
        (tmp_path / name).write_bytes(b"")
        drop = classify_drop(urls_of(tmp_path / name))
        assert drop.kind is DropKind.IMAGE and drop.path == tmp_path / name


def test_a_plain_folder_is_image_data_and_a_run_folder_is_a_run(tmp_path):
    faces = tmp_path / "faces"
    faces.mkdir()
    assert kind_of(faces) is DropKind.IMAGE_FOLDER
    run = make_run(tmp_path / "run-1")
    drop = classify_drop(urls_of(run))
    assert drop.kind is DropKind.RUN_DIRECTORY
    assert drop.run_checkpoint == run / "checkpoints" / "last.pt"
    assert not (run / "predictions").exists()          # classifying never creates anything
    (run / "checkpoints" / "best.pt").write_bytes(b"weights")
    assert classify_path(run).run_checkpoint == run / "checkpoints" / "best.pt"     # once validation chose one


def test_a_folder_of_runs_is_never_taken_for_image_data(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs / "first")
    (runs / "first" / "predictions").mkdir()
    (runs / "first" / "predictions" / "grid.png").write_bytes(b"")      # images, but not faces to train on
    assert kind_of(runs) is DropKind.RUNS_FOLDER
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    (data / "test").mkdir()
    assert kind_of(data) is DropKind.IMAGE_FOLDER


def test_a_saved_explorer_state_is_recognised_by_its_content(tmp_path):
    state = tmp_path / "explorer_state.json"
    save_explorer_state(state, ExplorerSnapshot(z=np.zeros(4, np.float32), checkpoint_path="m.pt",
                                                weights_hash="abc", slider_mode="axes", selected_dims=[0]))
    assert kind_of(state) is DropKind.STATE_FILE
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {}}))
    drop = classify_drop(urls_of(config))
    assert drop.kind is DropKind.UNSUPPORTED and "config.json" in drop.message and "explorer state" in drop.message
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"\xff\xfe{not json")
    assert kind_of(broken) is DropKind.UNSUPPORTED


def test_unsupported_drops_say_what_and_name_the_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    drop = classify_drop(urls_of(notes))
    assert drop.kind is DropKind.UNSUPPORTED
    assert "notes.txt" in drop.message and "checkpoint" in drop.message
    gone = classify_drop(urls_of(tmp_path / "deleted.pt"))
    assert gone.kind is DropKind.UNSUPPORTED and "deleted.pt" in gone.message
    remote = QMimeData()
    remote.setUrls([QUrl("https://example.com/run.pt")])
    drop = classify_drop(remote)
    assert drop.kind is DropKind.UNSUPPORTED and "https://example.com/run.pt" in drop.message


def test_the_first_url_decides_and_no_url_is_no_drop(tmp_path):
    (tmp_path / "run.pt").write_bytes(b"")
    assert kind_of(tmp_path, tmp_path / "run.pt") is DropKind.IMAGE_FOLDER
    assert classify_drop(QMimeData()) is None
    text = QMimeData()
    text.setText("just text")
    assert classify_drop(text) is None

