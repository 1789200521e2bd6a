"""Help > Guide (a short HTML page in a dialog) and Help > About (versions)."""
from __future__ import annotations

import html

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from trainer.package import __version__
from trainer.training.checkpoint import FORMAT_VERSION
from trainer.latent.sliders import FACTOR_LABEL_MIN_SCORE
from trainer.latent.stats import active_definition
from trainer.models.losses import NEGATIVE_LOSS_EXPLAINED
from trainer.user_folders import cache_folder, runs_folder


def app_version() -> str:
    """The app's version: trainer/package.py, the one source the package metadata is built from."""
    return __version__


def about_text() -> str:
    return (f"<h3>VAE Face Explorer {app_version()}</h3>"
            "<p>Train autoencoders and variational autoencoders on 64x64 faces, watch them learn, and explore "
            "what they learned.</p>"
            f"<p>Checkpoint format version {FORMAT_VERSION} (the app opens files of this version).<br>"
            "Checkpoints are read without running any code they might hold.</p>"
            f"<p>Caches: {html.escape(str(cache_folder()))}<br>"
            f"Runs (by default): {html.escape(str(runs_folder()))}<br>"
            f"Settings: {html.escape(QSettings().fileName())}</p>")


GUIDE_HTML = f"""
<h2>VAE Face Explorer: a short guide</h2>
<p>An <b>autoencoder</b> squeezes each 64&times;64 face through a short list of numbers, its <i>latent code</i>
<b>z</b>, and draws the face again from it. A <b>variational autoencoder (VAE)</b> also makes the codes of all faces
fill a standard normal cloud, so any point near the origin decodes to a plausible new face: moving a number moves
the face smoothly.</p>

<h3>The tabs</h3>
<ul>
<li><b>Explore</b>: the large face is decoded from z. <i>Sliders</i> move one latent dimension (or a principal or
factor direction) at a time; type a value into the box beside a slider, double-click a slider to reset it.
<i>Samples</i> shows random faces from the prior or from a fit to the encoded data. <i>Morph</i> walks between two
faces and saves the walk as a strip or a GIF. <i>Traversals</i> shows every direction at once. <i>Directions</i>
makes a slider from two groups of images (e.g. not smiling / smiling); <i>Hold fixed</i> moves along one attribute
while keeping another where it is. <i>Closed-form (SeFa) directions</i> (a slider mode and traversal rows) are the
directions that change the decoder's first layer most, found from its weights alone, no data needed.
<i>Variations</i> shows random steps of a chosen strength around the current face: click one to continue from it. The strip at the bottom holds test images:
double-click one to start from it. <i>Atlas</i> draws every encoded image on one map (PCA or t-SNE): zoom in to see
the faces, hover for a file name, click to load a face; the red ring is the current face. <i>Colour</i> can
also be a direction you made in <i>Directions</i>. <i>Nearest training
faces</i> (under the face) shows the training images closest to the current face: a generated face that looks just
like one of them is a copy, not a new face. <i>Compare</i> opens a second model beside this one, driven by the same
sliders. <i>File &gt; Follow run directory</i> reloads the model whenever a training run saves a new checkpoint.</li>
<li><b>Train</b>: choose data (the built-in synthetic faces or a folder of images), a preset and settings, press
Start and watch the loss curves, reconstructions, samples and the KL per dimension. Pause, stop (a checkpoint is
saved), resume, compare runs, and open the result in the explorer.</li>
</ul>

<h3>The numbers</h3>
<ul>
<li><b>KL</b> (nats): how far the encoder's distribution for a face is from the prior N(0, I), averaged over the test
images; per dimension, how much information that dimension carries.</li>
<li><b>Active dimension</b>: {html.escape(active_definition(True))} {html.escape(active_definition(False))}
The Train tab, the Explore tab and the
evaluation report all count the same way.</li>
<li><b>-ELBO</b>: reconstruction loss + KL per image, the quantity a VAE minimizes (lower is better).</li>
<li><b>Below zero?</b> {html.escape(NEGATIVE_LOSS_EXPLAINED)}</li>
<li><b>PSNR</b> (dB): reconstruction quality from the pixel error; higher is better (20 dB is blurry, 30 dB is
close).</li>
<li><b>SSIM</b>: structural similarity of reconstruction and original, 0 to 1; higher is better.</li>
<li><b>MIG</b>: mutual information gap, 0 to 1, on the synthetic faces whose true factors (smile, glasses, ...) are
known: how much each factor is captured by a single dimension. Higher means more disentangled.</li>
<li><b>~ glasses 0.80</b> next to a slider: the true factor this dimension tells most about, with its normalized
mutual information less what chance gives (0 to 1). Shown only when it beats the same test images with their
factors shuffled, and from {FACTOR_LABEL_MIN_SCORE:g}.</li>
</ul>

<h3>Keyboard</h3>
<table cellpadding="3">
<tr><td>Ctrl+O</td><td>open a checkpoint</td></tr>
<tr><td>Ctrl+S</td><td>save the face (choose its size)</td></tr>
<tr><td>Ctrl+Shift+C</td><td>copy the face</td></tr>
<tr><td>Ctrl+Z / Ctrl+Shift+Z</td><td>undo / redo a face edit (a slider drag is one step)</td></tr>
<tr><td>arrows, Page Up/Down</td><td>move the focused slider 1% / 10% of its range</td></tr>
<tr><td>Ctrl+Return</td><td>start training</td></tr>
<tr><td>Ctrl+P</td><td>pause / resume training</td></tr>
<tr><td>F1</td><td>this guide</td></tr>
<tr><td>Ctrl+Q</td><td>quit (asks first while a run trains)</td></tr>
</table>
"""


class GuideDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("VAE Face Explorer guide")
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(GUIDE_HTML)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(640, 600)
