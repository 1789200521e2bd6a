"""The explorer's state is the Qt-free vae_gui.model.ExplorerModel; this name stays for the views that import it."""
from ..model import ExplorerModel as ExplorerState

__all__ = ["ExplorerState"]
