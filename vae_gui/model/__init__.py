"""The explorer's model: small evented parts with no Qt (like napari's components under its `_qt` widgets).

    session      Session        the open checkpoint, its statistics, encoded data, progress and info notes
    face         Face           the current z with undo/redo, and the image it was encoded from
    sliders      SliderLayout   which sliders the Sliders tab shows (mode, dims)
    directions   Directions     the user's own directions (Directions tab; atlas colourings)
    morph        Morph          the morph's endpoints A/B and its path
    comparison   Comparison     a second model beside the first (Compare tab)
    follow       Follow         the training run being followed

`ExplorerModel` composes them. Views take the part they mirror, observe its psygnal signals and write user actions
back; services write only to the model. Nothing here imports Qt (tests/test_explorer_model.py checks).
"""
from .comparison import Comparison
from .directions import Directions, DuplicateDirectionError
from .explorer import ExplorerModel
from .face import Face, Source
from .follow import Follow
from .morph import Morph
from .session import Session
from .sliders import SliderLayout

__all__ = ["Comparison", "Directions", "DuplicateDirectionError", "ExplorerModel", "Face", "Follow", "Morph",
           "Session", "SliderLayout", "Source"]
