"""The explorer's model: small evented parts with no Qt (like napari's components under its `_qt` widgets).

    session      Session        the open checkpoint, its statistics, encoded data, progress and info notes
    face         Face           the current z with undo/redo, and the image it was encoded from
    sliders      SliderLayout   which sliders the Sliders tab shows (mode, dims)
    directions   Directions     the user's own directions and the two groups they are made from (Directions tab;
                                atlas colourings)
    morph        Morph          the morph's endpoints A/B, lerp or slerp, steps, and the path (Morph tab; atlas)
    comparison   Comparison     a second model beside the first (Compare tab)
    follow       Follow         the training run being followed
    selection    Selection      the test images selected in the gallery

`ExplorerModel` composes them. Views take the part they mirror, observe its psygnal signals and write user actions
back; services write only to the model. Nothing here imports Qt (tests/test_explorer_model.py checks).
"""
from .comparison import Comparison
from .directions import Directions, DuplicateDirectionError, EmptyGroupError
from .explorer import ExplorerModel
from .face import Face, Source
from .follow import Follow
from .morph import Morph
from .selection import Selection
from .session import Session
from .sliders import SliderLayout

__all__ = ["Comparison", "Directions", "DuplicateDirectionError", "EmptyGroupError", "ExplorerModel", "Face",
           "Follow", "Morph", "Selection", "Session", "SliderLayout", "Source"]
