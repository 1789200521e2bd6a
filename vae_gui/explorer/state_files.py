"""Saving and restoring the explorer's state (z, slider mode, shown dims) as a small JSON file."""
from __future__ import annotations

from typing import Callable

from trainer.latent.explorer_state import ExplorerSnapshot, ExplorerStateError, load_explorer_state, save_explorer_state

from ..model import ExplorerModel
from .dialogs import STATE_FILTER
from .messages import Messages


class StateFiles:
    """Writes only to the model; `open_checkpoint` opens the checkpoint a state was saved for (CheckpointLoader.load)."""

    def __init__(self, model: ExplorerModel, messages: Messages, open_checkpoint: Callable[[str], bool]):
        self.state = model
        self.messages = messages
        self.open_checkpoint = open_checkpoint

    def save(self, path: str) -> None:
        try:
            save_explorer_state(path, self.state.snapshot())
        except ExplorerStateError as error:
            self.messages.error("Cannot save explorer state", f"{error.path}\n\n{error.reason}")
            return
        self.messages.say(f"Saved explorer state to {path}")

    def load(self, path: str) -> bool:
        """Restore z, slider mode and shown dims. Warns when the state was saved for other weights."""
        try:
            snapshot = load_explorer_state(path)
        except ExplorerStateError as error:
            self.messages.error("Cannot load explorer state", f"{error.path}\n\n{error.reason}")
            return False
        if not self.state.has_checkpoint and not self.open_checkpoint(snapshot.checkpoint_path):
            return False
        if snapshot.weights_hash != self.state.weights_hash and not self._accept_other_weights(snapshot, path):
            return False
        try:       # everything checked before any setting changes: nothing half-applied
            snapshot.check_fits(self.state.latent_dim, path)
        except ExplorerStateError as error:
            self.messages.error("Cannot load explorer state", f"{error.path}\n\n{error.reason}")
            return False
        self.state.apply_snapshot(snapshot)
        self.messages.say(f"Loaded explorer state from {path}")
        return True

    def _accept_other_weights(self, snapshot: ExplorerSnapshot, path: str) -> bool:
        current = self.state.checkpoint.path
        fits = snapshot.z.size == self.state.latent_dim
        message = (f"{path} was saved for the checkpoint {snapshot.checkpoint_path or '(unknown)'}, "
                   f"but the open checkpoint {current} has different weights, so the same z gives a different "
                   "face.")
        if fits:
            message += " The state was applied anyway."
        else:
            message += (f" Its z has {snapshot.z.size} values and this model has {self.state.latent_dim} latent "
                        "dimensions, so it was not applied. Open the checkpoint it was saved for first.")
        self.messages.warning("Explorer state from another checkpoint", message)
        return fits

    def ask_save(self) -> None:
        if self.state.has_checkpoint:
            path = self.messages.dialogs.save_path("Save explorer state", STATE_FILTER, "explorer_state.json")
            if path:
                self.save(path)

    def ask_load(self) -> None:
        path = self.messages.dialogs.open_path("Load explorer state", STATE_FILTER)
        if path:
            self.load(path)
