"""ExplorerModel: the explorer's parts composed, and the few changes that touch several parts at once."""
from __future__ import annotations

import numpy as np

from trainer.latent.explorer_state import ExplorerSnapshot
from trainer.latent.samplers import random_code_latent
from trainer.latent.stats import LatentStats
from trainer.training.checkpoint import LoadedCheckpoint

from .comparison import Comparison
from .directions import Directions
from .face import Face
from .follow import Follow
from .morph import SLOTS, Morph
from .selection import Selection
from .session import Session
from .sliders import SliderLayout


class ExplorerModel:
    """The parts, plus shortcuts to the values most views read (`model.z` is `model.face.z`; `model.z_changed` is
    `model.face.z_changed`): each value and signal is defined once, in its part."""

    def __init__(self) -> None:
        self.session = Session()
        self.face = Face()
        self.sliders = SliderLayout()
        self.directions = Directions()
        self.morph = Morph()
        self.comparison = Comparison()
        self.follow = Follow()
        self.selection = Selection()
        self.session.data_changed.connect(self._offer_test_images)
        # The signals most views observe, under the names they have always had.
        self.checkpoint_changed = self.session.checkpoint_changed
        self.model_replaced = self.session.model_replaced
        self.stats_changed = self.session.stats_changed
        self.data_changed = self.session.data_changed
        self.z_changed = self.face.z_changed
        self.history_changed = self.face.history_changed
        self.slider_mode_changed = self.sliders.mode_changed
        self.selected_dims_changed = self.sliders.dims_changed
        self.morph_changed = self.morph.path_changed
        self.directions_changed = self.directions.changed

    # ------------------------------------------------------------ changes of several parts

    def set_checkpoint(self, checkpoint: LoadedCheckpoint, stats: LatentStats | None = None,
                       stats_note: str = "") -> None:
        """A new model: the face goes to its data mean with no history; dims shown, the user's directions and groups
        (of another latent space) and the gallery selection are reset; the morph goes from the mean face to a random
        one until test images arrive. Observers of every part see the new model and the new z together."""
        latent_dim = checkpoint.model.latent_dim
        mean = np.asarray(stats.mean, np.float32) if stats is not None else np.zeros(latent_dim, np.float32)
        face_signals = (self.face.z_changed, self.face.history_changed, self.face.source_changed)
        quiet = (*face_signals, self.directions.changed, self.directions.group_changed, self.morph.path_changed,
                 self.morph.endpoint_changed, self.selection.changed)
        for signal in quiet:
            signal.block()
        try:
            self.face.reset(mean)
            self.directions.reset()
            self.selection.select([])
            self.morph.clear()
            self.morph.set_endpoint("A", mean, "the mean face", by_user=False)
            self.morph.set_endpoint("B", random_code_latent(stats, latent_dim, self.face.rng),    # a typical code
                                    "a random face", by_user=False)
            self.sliders.selected_dims = []
        finally:
            for signal in quiet:
                signal.unblock()
        self.session.open(checkpoint, stats, stats_note)
        for signal in (self.face.history_changed, self.face.source_changed, self.directions.changed,
                       self.selection.changed, self.morph.path_changed, self.face.z_changed):
            signal.emit()
        for slot in SLOTS:
            self.directions.group_changed.emit(slot)
            self.morph.endpoint_changed.emit(slot)

    def _offer_test_images(self) -> None:
        data = self.session.data
        self.morph.offer_test_images(data.test_latents if data is not None else None)

    def snapshot(self) -> ExplorerSnapshot:
        """What a saved explorer state file holds."""
        checkpoint = self.session.checkpoint
        return ExplorerSnapshot(checkpoint_path=str(checkpoint.path) if checkpoint is not None else "",
                                weights_hash=self.session.weights_hash, z=self.face.z.copy(),
                                slider_mode=self.sliders.mode, selected_dims=list(self.sliders.selected_dims))

    def apply_snapshot(self, snapshot: ExplorerSnapshot) -> None:
        """Restore a saved state's slider layout and z (an undoable edit)."""
        self.sliders.set_mode(snapshot.slider_mode)
        self.sliders.set_selected_dims(snapshot.selected_dims)
        self.face.set_z(snapshot.z)

    # ------------------------------------------------------------ shortcuts (read) to the parts

    checkpoint = property(lambda self: self.session.checkpoint)
    weights_hash = property(lambda self: self.session.weights_hash)
    stats = property(lambda self: self.session.stats)
    stats_note = property(lambda self: self.session.stats_note)
    data = property(lambda self: self.session.data)
    has_checkpoint = property(lambda self: self.session.has_checkpoint)
    latent_dim = property(lambda self: self.session.latent_dim)
    model = property(lambda self: self.session.model)
    is_variational = property(lambda self: self.session.is_variational)
    codes = property(lambda self: self.session.codes)
    z = property(lambda self: self.face.z)
    rng = property(lambda self: self.face.rng)
    can_undo = property(lambda self: self.face.can_undo)
    can_redo = property(lambda self: self.face.can_redo)
    slider_mode = property(lambda self: self.sliders.mode)
    selected_dims = property(lambda self: self.sliders.selected_dims)
    morph_path = property(lambda self: self.morph.path)
    custom_directions = property(lambda self: self.directions.specs)

    def mean_latent(self) -> np.ndarray:
        return self.session.mean_latent()

    # ------------------------------------------------------------ shortcuts (write) to the parts

    def set_z(self, z: np.ndarray, undoable: bool = True) -> None:
        self.face.set_z(z, undoable)

    def set_dim(self, dim: int, value: float) -> None:
        z = self.face.z.copy()
        z[dim] = value
        self.face.set_z(z)

    def reset_to_mean(self, undoable: bool = True) -> None:
        self.face.set_z(self.session.mean_latent(), undoable=undoable)

    def begin_gesture(self) -> None:
        self.face.begin_gesture()

    def end_gesture(self) -> None:
        self.face.end_gesture()

    def undo(self) -> bool:
        return self.face.undo()

    def redo(self) -> bool:
        return self.face.redo()

    def replace_model(self, checkpoint: LoadedCheckpoint, hash_of_weights: str) -> None:
        """New weights of the same latent size (a followed run): z, history, statistics and data stay."""
        self.session.replace_model(checkpoint, hash_of_weights)
        self.face.z_changed.emit()          # the same z is another face now

    def set_stats(self, stats: LatentStats | None, note: str = "") -> None:
        self.session.set_stats(stats, note)

    def set_data(self, data) -> None:
        self.session.set_data(data)

    def set_slider_mode(self, mode: str) -> None:
        self.sliders.set_mode(mode)

    def set_selected_dims(self, dims: list[int]) -> None:
        self.sliders.set_selected_dims(dims)

    def add_custom_direction(self, spec) -> None:
        self.directions.add(spec)

    def remove_custom_direction(self, key: str) -> None:
        self.directions.remove(key)

    def clear_custom_directions(self) -> None:
        self.directions.clear()
