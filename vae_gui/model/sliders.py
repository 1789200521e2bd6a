"""Which sliders the Sliders tab shows: the mode (what a slider moves along) and, for latent axes, which dims."""
from __future__ import annotations

from psygnal import Signal

from trainer.latent.sliders import SLIDER_MODES


class SliderLayout:
    mode_changed = Signal(str)
    dims_changed = Signal()

    def __init__(self) -> None:
        self.mode = SLIDER_MODES[0]
        self.selected_dims: list[int] = []      # latent axes shown; [] = the top K of the chosen ranking

    def set_mode(self, mode: str) -> None:
        if mode not in SLIDER_MODES:
            raise ValueError(f"unknown slider mode {mode!r}")
        if mode != self.mode:
            self.mode = mode
            self.mode_changed.emit(mode)

    def set_selected_dims(self, dims: list[int]) -> None:
        dims = [int(d) for d in dims]
        if dims != self.selected_dims:
            self.selected_dims = dims
            self.dims_changed.emit()
