"""The explorer's Qt-free model (vae_gui/model/): plain pytest, no QApplication."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trainer.latent.sliders import custom_slider
from trainer.resources import default_checkpoint
from trainer.training.checkpoint import load_checkpoint
from vae_gui.model import DuplicateDirectionError, ExplorerModel, Source
from vae_gui.model.session import STATS_NOTE

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bundled():
    return load_checkpoint(default_checkpoint())


@pytest.fixture
def model(bundled) -> ExplorerModel:
    explorer = ExplorerModel()
    explorer.set_checkpoint(bundled)
    return explorer


class Recorder:
    """Counts the emissions of psygnal signals by name."""

    def __init__(self, **signals):
        self.counts = {name: 0 for name in signals}
        for name, signal in signals.items():
            signal.connect(lambda *_args, n=name: self._count(n))

    def _count(self, name: str) -> None:
        self.counts[name] += 1


def moved(model: ExplorerModel, dim: int, value: float) -> np.ndarray:
    z = model.z.copy()
    z[dim] = value
    return z


def test_model_package_imports_no_qt() -> None:
    check = ("import json, sys, vae_gui.model; print(json.dumps(sorted(m for m in sys.modules "
             "if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))))")
    result = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_a_new_checkpoint_resets_every_part_and_observers_see_the_new_z(bundled) -> None:
    explorer = ExplorerModel()
    seen = []
    explorer.checkpoint_changed.connect(lambda: seen.append(explorer.z.shape))
    explorer.directions.add(custom_slider("old", np.ones(3, np.float32), np.zeros(3, np.float32)))
    explorer.set_checkpoint(bundled, None, "computing...")
    assert seen == [(bundled.model.latent_dim,)]
    assert explorer.directions.specs == [] and not explorer.can_undo
    assert explorer.session.notes == {STATS_NOTE: "computing..."}
    assert np.array_equal(explorer.z, np.zeros(bundled.model.latent_dim, np.float32))


def test_undo_redo_and_a_gesture_is_one_step(model) -> None:
    start = model.z.copy()
    model.set_z(moved(model, 0, 1.0))
    model.begin_gesture()
    for value in (0.5, 1.0, 1.5):
        model.set_z(moved(model, 1, value))
    model.end_gesture()
    assert model.undo() and model.z[1] == 0 and model.z[0] == 1.0
    assert model.undo() and np.array_equal(model.z, start) and not model.can_undo
    assert model.redo() and model.z[0] == 1.0 and model.can_redo


def test_a_double_click_reset_is_one_undo_step_with_the_click_that_started_it(model) -> None:
    """A double-click on the groove: the first press jumps the slider (a gesture), the double-click resets the row.
    Undo must go back to before the double-click in one step."""
    before = moved(model, 2, 0.7)
    model.set_z(before)
    model.begin_gesture()                      # the press on the groove jumps to the click
    model.set_z(moved(model, 2, 2.5))
    model.end_gesture()
    model.begin_gesture()                      # the slider's own press handling, now on the handle: moves nothing
    model.end_gesture()
    model.face.amend_gesture(moved(model, 2, 0.0))     # the double-click resets the row
    assert model.z[2] == 0.0
    assert model.undo() and np.array_equal(model.z, before)


def test_a_reset_after_a_click_on_the_handle_is_its_own_step(model) -> None:
    """A press that moved nothing keeps no step; the reset is then an ordinary undoable edit."""
    before = moved(model, 2, 0.7)
    model.set_z(before)
    model.begin_gesture()
    model.end_gesture()
    model.face.amend_gesture(moved(model, 2, 0.0))
    assert model.undo() and np.array_equal(model.z, before)
    assert model.undo() and not model.can_undo


def test_the_same_direction_twice_is_refused_naming_the_first(model) -> None:
    latent_dim = model.latent_dim
    vector = np.arange(1, latent_dim + 1, dtype=np.float32)
    model.directions.add(custom_slider("smile", vector, model.mean_latent()))
    with pytest.raises(DuplicateDirectionError, match="'smile' already"):
        model.directions.add(custom_slider("smile (2)", vector, model.mean_latent()))
    assert [spec.label for spec in model.directions.specs] == ["smile"]
    model.directions.add(custom_slider("other", -vector, model.mean_latent()))
    assert len(model.directions.specs) == 2


def test_the_encoded_image_holds_until_z_moves(model) -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    z = moved(model, 0, 0.3)
    events = Recorder(source=model.face.source_changed)
    model.face.start_from(Source(image, image, "photo.png", z))
    assert model.face.encoded is not None and model.face.encoded.name == "photo.png"
    model.set_z(moved(model, 1, 1.0))
    assert model.face.encoded is None
    assert events.counts["source"] == 2           # shown, then gone (the comparison cannot disagree with z)
    model.undo()
    assert model.face.encoded is not None


def test_notes_are_sections_in_order_and_an_empty_text_removes_one(model) -> None:
    events = Recorder(notes=model.session.notes_changed)
    model.session.set_stats(None, "computing")
    model.session.set_note("labels", "3 labels read")
    model.session.set_note("labels", "3 labels read")          # no change, no event
    assert list(model.session.notes) == [STATS_NOTE, "labels"] and events.counts["notes"] == 2
    model.session.set_note("labels", "")
    assert list(model.session.notes) == [STATS_NOTE]


def test_replace_model_keeps_z_and_history(model, bundled) -> None:
    model.set_z(moved(model, 0, 1.0))
    events = Recorder(replaced=model.model_replaced, z=model.z_changed, checkpoint=model.checkpoint_changed)
    model.replace_model(bundled, "another hash")
    assert model.z[0] == 1.0 and model.can_undo and model.weights_hash == "another hash"
    assert events.counts == {"replaced": 1, "z": 1, "checkpoint": 0}


def test_slider_layout_refuses_an_unknown_mode_and_emits_only_on_change(model) -> None:
    events = Recorder(mode=model.slider_mode_changed)
    model.sliders.set_mode("pca")
    model.sliders.set_mode("pca")
    assert events.counts["mode"] == 1
    with pytest.raises(ValueError):
        model.sliders.set_mode("nonsense")


def test_snapshot_round_trip(model) -> None:
    model.sliders.set_mode("pca")
    model.set_z(moved(model, 3, -1.0))
    snapshot = model.snapshot()
    other = ExplorerModel()
    other.set_checkpoint(model.checkpoint)
    other.apply_snapshot(snapshot)
    assert other.slider_mode == "pca" and np.array_equal(other.z, model.z) and other.can_undo


def test_morph_comparison_and_follow_parts(model, bundled, tmp_path) -> None:
    events = Recorder(endpoint=model.morph.endpoint_changed, second=model.comparison.changed,
                      follow=model.follow.changed)
    model.morph.set_endpoint("A", model.z, "the mean face", by_user=False)
    assert model.morph.endpoints["A"].name == "the mean face" and np.array_equal(model.morph.z_of("A"), model.z)
    model.comparison.set_second(bundled)
    model.follow.start(tmp_path, "Following run")
    model.follow.stop()
    assert model.comparison.active and not model.follow.following
    assert events.counts == {"endpoint": 1, "second": 1, "follow": 2}


def test_a_new_checkpoint_morphs_from_the_mean_to_a_random_face_until_test_images_arrive(model) -> None:
    from trainer.latent.prepared import LatentData

    dim = model.latent_dim
    assert model.morph.endpoints["A"].name == "the mean face" and not model.morph.endpoints["A"].by_user
    assert model.morph.endpoints["B"].name == "a random face" and model.morph_path.shape == (8, dim)
    model.morph.set_endpoint("B", np.ones(dim, np.float32), "the current face")       # the user's pick stays
    tests = np.arange(3 * dim, dtype=np.float32).reshape(3, dim)
    model.set_data(LatentData(train_latents=tests, test_latents=tests))
    assert model.morph.endpoints["A"].name == "test image 1" and model.morph.endpoints["B"].name == "the current face"
    np.testing.assert_array_equal(model.morph_path[0], tests[0])
    np.testing.assert_array_equal(model.morph_path[-1], np.ones(dim))


def test_the_morph_path_follows_its_endpoints_kind_and_steps(model) -> None:
    events = Recorder(path=model.morph.path_changed)
    a, b = np.zeros(model.latent_dim, np.float32), np.full(model.latent_dim, 2.0, np.float32)
    model.morph.set_endpoint("A", a, "a")
    model.morph.set_endpoint("B", b, "b")
    model.morph.set_interpolation("lerp", 5)
    np.testing.assert_allclose(model.morph_path[:, 0], [0.0, 0.5, 1.0, 1.5, 2.0])
    model.morph.set_interpolation("lerp", 5)                     # no change, no event
    assert events.counts["path"] == 3
    with pytest.raises(ValueError, match="interpolation"):
        model.morph.set_interpolation("spline", 5)
    model.morph.clear()
    assert model.morph_path.size == 0 and events.counts["path"] == 4


def test_direction_groups_make_a_direction_and_a_new_checkpoint_empties_them(model, bundled) -> None:
    from vae_gui.model import EmptyGroupError

    dim = model.latent_dim
    events = Recorder(group=model.directions.group_changed)
    images = np.zeros((2, 4, 4, 3), np.uint8)
    model.directions.add_to_group("A", np.zeros((2, dim)), images)
    with pytest.raises(EmptyGroupError, match="each group"):
        model.directions.create_from_groups("smile", model.mean_latent())
    model.directions.add_to_group("B", np.ones((1, dim)), images[:1])
    model.directions.add_to_group("B", np.ones((1, dim)), images[:1])
    assert model.directions.group_size("B") == 2 and events.counts["group"] == 3
    spec = model.directions.create_from_groups("smile", model.mean_latent())
    assert spec.label == "smile" and model.custom_directions == [spec]
    model.directions.remove(spec.key)
    model.directions.add(spec)
    model.directions.clear()
    model.directions.create_from_groups("smile", model.mean_latent())
    assert model.directions.free_name("smile") == "smile (2)"
    model.selection.select([3, 1, 3])
    assert model.selection.indices == [1, 3]
    model.set_checkpoint(bundled)
    assert model.directions.group_size("A") == model.directions.group_size("B") == 0
    assert model.selection.indices == [] and model.custom_directions == []


def test_the_sampler_choice_lives_in_the_session(model, bundled) -> None:
    from trainer.latent.samplers import SamplerChoice

    session = model.session
    events = Recorder(sampler=session.sampler_changed)
    assert session.sampler_choice is None and session.needs_sampler_choice     # the bundled model stores none
    assert session.sampler == session.fallback_sampler == "prior"              # a VAE starts on its prior
    with pytest.raises(ValueError, match="sampler"):
        session.set_sampler("uniform")
    session.set_computed_choice(SamplerChoice("mixture", {"prior": -9.0, "mixture": -5.0}, 100))
    assert session.sampler == "mixture" and session.choice_computed and session.needs_sampler_choice
    session.set_sampler("gaussian")                                           # the user's pick...
    session.set_computed_choice(SamplerChoice("flow", {"prior": -9.0, "flow": -4.0}, 100))
    assert session.sampler == "gaussian" and session.sampler_choice.default == "flow"   # ...stays
    assert events.counts["sampler"] == 3
    model.set_checkpoint(bundled)
    assert session.sampler == "prior" and session.sampler_choice is None and not session.choice_computed


def test_a_stored_sampler_choice_is_the_default(bundled) -> None:
    import dataclasses

    evaluation = {**(bundled.eval_metrics or {}), "sampler": {"default": "gaussian", "n_fit": 10}}
    stored = dataclasses.replace(bundled, payload={**bundled.payload, "eval": evaluation})
    explorer = ExplorerModel()
    explorer.set_checkpoint(stored)
    assert explorer.session.sampler == "gaussian" and not explorer.session.needs_sampler_choice
