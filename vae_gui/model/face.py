"""The current face: its latent code z, the undo/redo history of edits, and the image it was encoded from."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal

MAX_HISTORY = 200


@dataclass(frozen=True)
class Source:
    """An image the face was encoded from, its reconstruction, and a caption for the comparison."""
    image: np.ndarray
    reconstruction: np.ndarray
    name: str
    z: np.ndarray
    note: str = ""          # a hint shown with the caption (why a photo comes back a cartoon)

    @property
    def mean_error(self) -> float:
        """Mean absolute pixel error of the reconstruction, in 0..255."""
        return float(np.abs(self.image.astype(np.float32) - self.reconstruction.astype(np.float32)).mean())


class Face:
    z_changed = Signal()
    history_changed = Signal()          # undo/redo availability changed
    source_changed = Signal()           # `encoded` changed: an image was encoded, or z moved away from it

    def __init__(self) -> None:
        self.z = np.zeros(0, np.float32)
        self.rng = np.random.default_rng()
        self._source: Source | None = None
        # Undo history: z before each edit. A gesture (a slider drag, begin_gesture .. end_gesture) is one step.
        self._undo: list[np.ndarray] = []
        self._redo: list[np.ndarray] = []
        self._gesture = False
        self._gesture_step_last = False      # the last edit was a gesture that kept its step (see amend_gesture)
        self._kept_before_gesture = False

    # ------------------------------------------------------------ the encoded image

    @property
    def encoded(self) -> Source | None:
        """The image the face was encoded from, while z has not moved since; else None."""
        source = self._source
        return source if source is not None and np.array_equal(source.z, self.z) else None

    def start_from(self, source: Source) -> None:
        """Move to the code of an encoded image (an undoable edit); `encoded` is that image until z moves."""
        self._source = Source(source.image, source.reconstruction, source.name,
                              np.asarray(source.z, np.float32).reshape(-1).copy(), source.note)
        self.set_z(source.z)
        self.source_changed.emit()

    # ------------------------------------------------------------ moving

    def reset(self, z: np.ndarray) -> None:
        """A new model: start at `z` with no history and no encoded image."""
        self.z = np.asarray(z, dtype=np.float32).reshape(-1).copy()
        self._source = None
        self._undo, self._redo, self._gesture, self._gesture_step_last = [], [], False, False
        self.history_changed.emit()
        self.source_changed.emit()
        self.z_changed.emit()

    def set_z(self, z: np.ndarray, undoable: bool = True) -> None:
        """Move to `z`. An undoable move (every user edit) can be taken back with undo(); during a gesture only the z
        before the gesture is recorded."""
        z = np.asarray(z, dtype=np.float32).reshape(-1)
        if z.shape != self.z.shape:
            raise ValueError(f"z has {z.size} values; this model has {self.z.size} latent dimensions")
        if undoable and not self._gesture and not np.array_equal(z, self.z):
            self._record()
        self._move(z)

    def amend_gesture(self, z: np.ndarray) -> None:
        """Move to `z` as part of the gesture just ended, when the last edit was one (a double-click's reset belongs
        to the click that started it, which may have jumped the slider); else an ordinary undoable move."""
        if self._gesture_step_last:
            self._move(np.asarray(z, dtype=np.float32).reshape(-1))
            if self._undo and np.array_equal(self._undo[-1], self.z):     # back where the gesture started
                self._undo.pop()
                self._gesture_step_last = False
                self.history_changed.emit()
        else:
            self.set_z(z)

    def _move(self, z: np.ndarray) -> None:
        was_encoded = self.encoded is not None
        self.z = z.copy()
        self.z_changed.emit()
        if was_encoded and self.encoded is None:
            self.source_changed.emit()

    # ------------------------------------------------------------ undo / redo

    def _record(self) -> None:
        self._undo.append(self.z.copy())
        del self._undo[:-MAX_HISTORY]
        self._redo.clear()
        self._gesture_step_last = False
        self.history_changed.emit()

    def begin_gesture(self) -> None:
        """A continuous edit starts (slider pressed): the moves until end_gesture() undo as one step."""
        if not self._gesture and self.z.size:
            kept_before = self._gesture_step_last
            self._record()
            self._gesture = True
            self._kept_before_gesture = kept_before

    def end_gesture(self) -> None:
        if self._gesture:
            self._gesture = False
            self._gesture_step_last = True
            if self._undo and np.array_equal(self._undo[-1], self.z):    # a click that moved nothing: as if none
                self._undo.pop()
                self._gesture_step_last = self._kept_before_gesture
                self.history_changed.emit()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._gesture = self._gesture_step_last = False
        self._redo.append(self.z.copy())
        target = self._undo.pop()
        self.history_changed.emit()
        self._move(target)
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._gesture_step_last = False
        self._undo.append(self.z.copy())
        target = self._redo.pop()
        self.history_changed.emit()
        self._move(target)
        return True
