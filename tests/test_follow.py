"""Following a run: the core (trainer/training/follow.py) and the explorer reloading it, on real tiny runs."""
import os
import shutil

import numpy as np
import pytest

from conftest import tiny_config
from trainer.training.follow import RunFollower, read_version, run_directory_of
from trainer.training.loop import resume_config, train
from trainer.training.rundir import RunDirError
from qt_doubles import RecordingDialogs

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished tiny run (no final evaluation, so its checkpoints hold no statistics, as during training)."""
    root = tmp_path_factory.mktemp("follow")
    result = train(tiny_config(root / "runs", cache_dir=root / "cache", final_eval=False))
    assert result.status == "completed", result.message
    return result.run_dir


def copy_run(run_dir, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(run_dir, target)
    return target


def newer(path, than_ns: int) -> None:
    """Give `path` a modification time after `than_ns` (file systems with coarse clocks would tie)."""
    os.utime(path, ns=(than_ns + 10_000_000, than_ns + 10_000_000))


def write_changed(source, target, than_ns: int, layer: str = "", factor: float = 1.01) -> None:
    """A complete checkpoint with other weights (as the run's next one: the first floating-point tensor whose name
    starts with `layer`, times `factor`), written atomically."""
    from trainer.training.checkpoint import read_checkpoint, save_checkpoint
    payload = read_checkpoint(source)
    name = next(k for k, v in payload["model_state"].items() if v.is_floating_point() and k.startswith(layer))
    payload["model_state"][name] = payload["model_state"][name] * factor
    payload["step"] += 10
    save_checkpoint(target, payload)
    newer(target, than_ns)


def write_truncated(source, target, than_ns: int) -> None:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    newer(target, than_ns)


# ---------------------------------------------------------------- core

def test_follower_reads_the_newest_checkpoint_once(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    follower = RunFollower(run)
    version = follower.poll()
    assert version is not None and version.path.name in ("best.pt", "last.pt")
    followed = read_version(version)
    assert followed is not None and followed.step > 0 and followed.weights_hash
    follower.accepted(version)
    assert follower.poll() is None                  # nothing changed: nothing to read


def test_a_truncated_checkpoint_is_skipped_until_a_good_one_arrives(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    follower = RunFollower(run)
    first = follower.poll()
    follower.accepted(first)
    last = run / "checkpoints" / "last.pt"
    good = (tiny_run / "checkpoints" / "last.pt").read_bytes()
    write_truncated(tiny_run / "checkpoints" / "last.pt", last, first.mtime_ns)     # an rsync caught midway
    partial = follower.poll()
    assert partial is not None and partial.path == last
    assert read_version(partial) is None            # no exception: a partial file is not an error
    follower.rejected(partial)
    assert follower.poll() is None                  # the same partial file is not read again
    last.write_bytes(good)                           # the copy completes
    newer(last, partial.mtime_ns)
    complete = follower.poll()
    assert complete is not None and read_version(complete) is not None


def test_run_directory_of_accepts_a_run_or_its_checkpoints_folder(tiny_run, tmp_path):
    assert run_directory_of(tiny_run / "checkpoints") == tiny_run
    assert run_directory_of(tiny_run) == tiny_run
    with pytest.raises(RunDirError, match="not a run folder"):
        run_directory_of(tmp_path)
    with pytest.raises(RunDirError, match="does not exist"):
        run_directory_of(tmp_path / "missing")


# ---------------------------------------------------------------- the explorer following a run





@pytest.fixture
def panel(explorer_panel):
    return explorer_panel


@pytest.mark.slow
def test_explorer_follows_a_run_and_keeps_the_face(qtbot, panel, tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    follow = panel.follow
    with qtbot.waitSignal(follow.reloaded, timeout=WAIT_MS):
        assert follow.follow(run)
    first_step = panel.state.checkpoint.step
    assert "Following run" in panel.follow_status.label.text() and f"step {first_step}" in panel.follow_status.label.text()
    qtbot.waitUntil(lambda: panel.state.data is not None, timeout=WAIT_MS)
    z = np.linspace(-1, 1, panel.state.latent_dim).astype(np.float32)
    panel.state.set_z(z)
    old_hash = panel.state.weights_hash

    # The run goes on (two more epochs from its last checkpoint) and writes new checkpoints.
    result = train(resume_config(run, epochs=4), resume=run)
    assert result.status == "completed", result.message
    with qtbot.waitSignal(follow.reloaded, timeout=WAIT_MS) as blocker:
        follow.poll()
    assert blocker.args[0] == result.step > first_step
    assert panel.state.checkpoint.step == result.step and panel.state.weights_hash != old_hash
    np.testing.assert_array_equal(panel.state.z, z)               # the same face: the same code
    panel.decoder.decode_now()
    from trainer.latent.codec import decode_latents
    np.testing.assert_array_equal(panel.decoder.face, decode_latents(panel.state.model, z[None])[0])
    assert f"step {result.step:,}" in panel.follow_status.label.text()
    assert panel.dialogs.errors == []


def test_explorer_ignores_a_truncated_checkpoint(qtbot, panel, tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    follow = panel.follow
    with qtbot.waitSignal(follow.reloaded, timeout=WAIT_MS):
        follow.follow(run)
    reloads, shown = follow.reload_count, panel.state.checkpoint
    last = run / "checkpoints" / "last.pt"
    write_truncated(tiny_run / "checkpoints" / "last.pt", last, follow.follower.loaded.mtime_ns)
    follow.poll()
    qtbot.waitUntil(lambda: follow._reading is None, timeout=WAIT_MS)
    follow.poll()                                    # seen again: not read again, no reload
    assert follow.reload_count == reloads and panel.state.checkpoint is shown
    assert panel.dialogs.errors == []
    write_changed(tiny_run / "checkpoints" / "last.pt", last, follow.follower.loaded.mtime_ns + 20_000_000)
    with qtbot.waitSignal(follow.reloaded, timeout=WAIT_MS):
        follow.poll()
    assert follow.reload_count == reloads + 1 and panel.dialogs.errors == []


@pytest.mark.slow
def test_a_reload_maps_the_new_weights_codes_in_the_atlas_and_strip(qtbot, panel, tiny_run, tmp_path):
    """The atlas and the nearest faces share one encoding per checkpoint; a reload never reuses the old weights'."""
    from trainer.latent.codec import encode_images
    run = copy_run(tiny_run, tmp_path)
    follow, atlas, strip = panel.follow, panel.atlas_tab, panel.neighbours_strip
    panel.tabs.setCurrentWidget(atlas)
    with qtbot.waitSignal(atlas.atlas_ready, timeout=WAIT_MS):
        follow.follow(run)
    qtbot.waitUntil(lambda: strip.ready, timeout=WAIT_MS)
    old_codes, old_index = panel.state.codes, strip.index
    last = run / "checkpoints" / "last.pt"
    write_changed(tiny_run / "checkpoints" / "last.pt", last, follow.follower.loaded.mtime_ns + 20_000_000,
                  layer="to_latent.", factor=1.5)                     # the encoder's last layer: other codes
    with qtbot.waitSignal(atlas.atlas_ready, timeout=WAIT_MS):        # the map of the new weights' codes
        follow.poll()
    qtbot.waitUntil(lambda: strip.ready and strip.index is not old_index, timeout=WAIT_MS)
    codes = panel.state.codes
    assert codes is not old_codes and codes.made_with(panel.state.model)
    expected, _ = encode_images(panel.state.model, codes.images("train"))
    assert np.abs(old_index.latents.numpy() - expected).max() > 1e-3
    np.testing.assert_allclose(strip.index.latents.numpy(), expected, atol=1e-5)
    train = atlas.data.split == 1
    np.testing.assert_allclose(atlas.data.latents[train], expected[atlas.data.rows[train]], atol=1e-5)


@pytest.mark.slow
def test_following_a_run_with_another_latent_size_re_encodes_the_image(qtbot, panel, tiny_run, tmp_path,
                                                                         tiny_checkpoint):
    """The explorer shows a 6-d model started from a test image; the followed run's model is 4-d: the same image,
    encoded by the new model, is the face."""
    import dataclasses
    root = tmp_path / "other"
    config = tiny_config(root / "runs", cache_dir=root / "cache", final_eval=False)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, latent_dim=4))
    other = train(config).run_dir
    with qtbot.waitSignal(panel.latents_ready, timeout=WAIT_MS):
        panel.load_checkpoint(str(tiny_checkpoint))
    panel.faces.start_from_test_image(2)
    image = panel.state.data.test_images[2]
    with qtbot.waitSignal(panel.follow.reloaded, timeout=WAIT_MS):
        panel.follow.follow(other)
    from vae_gui.explorer.compare_work import reencode
    assert panel.state.latent_dim == 4
    np.testing.assert_allclose(panel.state.z, reencode(panel.state.model, image)[0], atol=1e-5)


def test_not_a_run_folder_is_reported(panel, tmp_path):
    assert not panel.follow.follow(tmp_path)
    assert panel.dialogs.errors and str(tmp_path) in panel.dialogs.errors[0][1]
    assert not panel.follow.following


def test_train_tab_follow_button_follows_its_run(qtbot, tiny_run, tmp_path):
    from vae_gui.main_window import MainWindow
    window = MainWindow(checkpoint=None, start_on_training=True, dialogs=RecordingDialogs())
    qtbot.addWidget(window)
    assert not window.training_panel.follow_action.isEnabled()        # no run started yet
    run = copy_run(tiny_run, tmp_path)
    with qtbot.waitSignal(window.explorer_panel.follow.reloaded, timeout=WAIT_MS):
        window.training_panel.follow_in_explorer.emit(str(run))
    assert window.tabs.currentWidget() is window.explorer_panel
    assert window.explorer_panel.follow.following
    window.explorer_panel.follow.stop()
    window.close()


def test_the_same_weights_again_are_not_reloaded(qtbot, panel, tiny_run, tmp_path):
    """A run writes last.pt and then best.pt with the same weights: one reload, not two."""
    run = copy_run(tiny_run, tmp_path)
    follow = panel.follow
    with qtbot.waitSignal(follow.reloaded, timeout=WAIT_MS):
        follow.follow(run)
    # Once encoded, the statistics are kept beside the checkpoint and come with the next read of the same bytes.
    qtbot.waitUntil(lambda: panel.state.data is not None and panel.state.stats is not None, timeout=WAIT_MS)
    reloads = follow.reload_count
    best, last = run / "checkpoints" / "best.pt", run / "checkpoints" / "last.pt"
    shutil.copyfile(last if follow.follower.loaded.path == last else best,
                    best if follow.follower.loaded.path == last else last)
    newer(best, follow.follower.loaded.mtime_ns + 50_000_000)
    newer(last, follow.follower.loaded.mtime_ns + 50_000_000)
    follow.poll()
    qtbot.waitUntil(lambda: follow._reading is None, timeout=WAIT_MS)
    follow.poll()
    assert follow._reading is None                    # both versions are known now: nothing left to read
    assert follow.reload_count == reloads


def test_opening_another_checkpoint_stops_following(qtbot, panel, tiny_run, tmp_path, tiny_ae_checkpoint):
    run = copy_run(tiny_run, tmp_path)
    with qtbot.waitSignal(panel.follow.reloaded, timeout=WAIT_MS):
        panel.follow.follow(run)
    assert panel.follow_status.isVisible()
    panel.load_checkpoint(str(tiny_ae_checkpoint))     # the user's choice wins over the followed run
    assert not panel.follow.following and not panel.follow_status.isVisible()
