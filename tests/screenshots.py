"""Render every page of the main window to PNG, under the light and/or a dark palette, from the real app.

    python tests/screenshots.py --out /tmp/shots [--palette light dark] [--size 1366x768] [--train] [--full-atlas]
    python tests/screenshots.py --readme            # docs/screenshot_training.png, as the README shows it
    python tests/screenshots.py --readme-explorer   # docs/screenshot_explorer.png and docs/screenshot_atlas.png
    python tests/screenshots.py --budget CURVE FOLDER [--minutes M] [--size 1024x700]   # the Train tab's expectation
    python tests/screenshots.py --labels CHECKPOINT [--size 1024x700] [--out DIR]
                                                    # the "Your labels" sliders; --readme: docs/screenshot_labels.png

With --train the Train tab first trains a short run the way a user would (built-in faces, the default preset), so its
curves, images and KL chart are filled; otherwise the tab shows a fed example run. The Atlas tab shows 120 faces
unless --full-atlas waits for the whole data set's map (minutes on a busy machine). Not a test (pytest does not
collect it); it uses the tests' helpers (window_tour.py, palettes.py, test_gui_theme.py).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from event_loop import settle_for, wait_until  # noqa: E402

README_SHOT = HERE.parent / "docs" / "screenshot_training.png"
README_RUN = dict(synthetic_count=1500, epochs=4)         # what docs/screenshot_training.png shows
README_LABELS_SHOT = HERE.parent / "docs" / "screenshot_labels.png"
README_EXPLORER = HERE.parent / "docs" / "screenshot_explorer.png"
README_ATLAS = HERE.parent / "docs" / "screenshot_atlas.png"
README_FACE = 11                 # the explorer shots start from test image 12
README_ZOOM = 0.14               # the atlas shot shows this far around the current face, in map units
# A test face (its original and reconstruction beside the moved face), the age slider moved to 90% of its range with
# gender held fixed.
LABELS_SHOT = dict(face=4, number="age", held="gender", at=0.9, steps=7)
STRIP_FACE = 112                # px per face in the strip under the window




def keep_settings_aside(out: Path) -> None:
    """The Train tab remembers its form in QSettings when a run starts: here in the output folder, not the user's."""
    from PySide6.QtCore import QSettings

    for format_ in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(format_, QSettings.Scope.UserScope, str(out / "settings"))




def train_in_window(app, window, runs_dir: Path) -> None:
    """A short run started from the Train tab's form, as a user starts it."""
    import dataclasses

    panel = window.training_panel
    config = panel.setup_form.config()
    config = dataclasses.replace(
        config, data=dataclasses.replace(config.data, synthetic_count=README_RUN["synthetic_count"]),
        train=dataclasses.replace(config.train, epochs=README_RUN["epochs"], runs_dir=str(runs_dir),
                                  run_name="default-demo", time_budget_minutes=0.0))
    panel.setup_form.set_config(config)
    window.tabs.setCurrentWidget(panel)
    panel.start_training()
    wait_until(app, lambda: not panel.is_training, timeout_s=1800)


def shoot(palette_name: str, out: Path, size: tuple[int, int], train_runs: Path | None,
          full_atlas: bool = False) -> list[Path]:
    from palettes import application_palette, dark_palette
    from PySide6.QtWidgets import QApplication

    from test_gui_theme import feed_a_run, fill_atlas
    from vae_gui.app import create_application
    from vae_gui.explorer.atlas_plot import AtlasPlot
    from vae_gui.main_window import MainWindow
    from window_tour import pages

    app = create_application(["screenshots"])
    keep_settings_aside(out)
    app.setStyle("Fusion")
    palette = dark_palette() if palette_name == "dark" else QApplication.style().standardPalette()
    saved = []
    with application_palette(palette):
        window = MainWindow()
        window.resize(*size)
        window.show()
        wait_until(app, lambda: window.explorer_panel.state.data is not None)
        if train_runs is not None:
            train_in_window(app, window, train_runs)
        else:
            feed_a_run(window.training_panel.state)

        def settle() -> None:
            settle_for(app, 0.3)
            atlases = [plot for plot in window.findChildren(AtlasPlot) if plot.isVisible()]
            if atlases and not atlases[0].drawn_points and not full_atlas:
                fill_atlas(window)
            if atlases:
                wait_until(app, lambda: atlases[0].drawn_points > 0, timeout_s=1800)
                settle_for(app, 0.5)

        for page in pages(window, settle):
            path = out / f"{palette_name}-{page.replace(' / ', '-').replace(' ', '_').lower()}.png"
            window.grab().save(str(path))
            saved.append(path)
            print("saved", path, flush=True)
        window.close()
    return saved


def shoot_budget(curve_file: Path, folder: Path, out: Path, size: tuple[int, int], minutes: float) -> Path:
    """The Train tab with an image folder and a time budget, stating what the budget buys by `curve_file` (a curve
    bench_budget_curve.py --out wrote): its preset, image size and batch size are chosen so the curve applies."""
    import dataclasses

    from trainer.evaluation.budget_curve import read_budget_curve
    from trainer.models.presets import preset_config
    from vae_gui.app import create_application
    from vae_gui.main_window import MainWindow

    app = create_application(["screenshots"])
    keep_settings_aside(out)
    curve = read_budget_curve(curve_file)
    window = MainWindow()
    window.resize(*size)
    window.show()
    panel = window.training_panel
    form = panel.setup_form
    form.budget_curve = curve
    config = form.config()
    config = dataclasses.replace(
        config, model=preset_config(curve.preset, image_size=curve.image_size),
        data=dataclasses.replace(config.data, source=str(folder), image_size=curve.image_size),
        train=dataclasses.replace(config.train, batch_size=curve.batch_size, time_budget_minutes=minutes))
    form.set_config(config)
    window.tabs.setCurrentWidget(panel)
    wait_until(app, lambda: form.folder_summary is not None)
    settle_for(app, 0.3)
    from PySide6.QtWidgets import QScrollArea
    panel.findChild(QScrollArea).ensureWidgetVisible(form.expectation_label)     # below the fold when short
    settle_for(app, 0.3)
    path = out / f"budget-{size[0]}x{size[1]}.png"
    window.grab().save(str(path))
    print("saved", path, "·", form.expectation_label.text(), flush=True)
    window.close()
    return path


def shoot_labels(checkpoint: Path, out: Path, size: tuple[int, int], photos: bool = True) -> Path:
    """The Explore tab's "Your labels" sliders on `checkpoint` (opened through the panel as a user opens it), with
    gender held fixed and a test face's age slider moved towards its old end, above a strip of that face decoded
    along the slider's range (the same person at each age); the checkpoint needs the label models
    `vae-train eval --store` writes. Without `photos` the data set's own images (the test gallery, the nearest
    training faces) are left out and the face is a generated one, not a test photo's reconstruction, so the picture
    holds nobody's photo (the README's)."""
    from PySide6.QtWidgets import QApplication

    from trainer.latent.sliders import traversal_latents

    from vae_gui.app import create_application
    from vae_gui.main_window import MainWindow

    app = create_application(["screenshots"])
    keep_settings_aside(out)
    app.setStyle("Fusion")
    window = MainWindow()
    window.resize(*size)
    window.show()
    panel = window.explorer_panel
    ready = []
    panel.latents_ready.connect(lambda: ready.append(True))
    if not panel.load_checkpoint(str(checkpoint)):
        raise SystemExit(f"could not open {checkpoint}")
    wait_until(app, lambda: ready and panel.state.stats is not None)
    tab = panel.sliders_tab
    if tab.readout.models is None:
        raise SystemExit(f"{checkpoint} holds no label models: run vae-train eval --store on it first")
    window.tabs.setCurrentWidget(panel)
    panel.tabs.setCurrentWidget(tab)
    panel.state.set_slider_mode("labels")
    tab.readout.held.setCurrentIndex(tab.readout.held.findData(LABELS_SHOT["held"]))
    if photos:
        panel.faces.start_from_test_image(LABELS_SHOT["face"])
    else:      # the README's: a generated face (a Gaussian fitted to the encoded test faces), nobody's photo
        from trainer.latent.samplers import make_sampler
        sampler = make_sampler("gaussian", panel.state.latent_dim, latents=panel.state.data.test_latents)
        panel.state.set_z(sampler.sample(LABELS_SHOT["face"] + 1, seed=0)[LABELS_SHOT["face"]])
    row = next(i for i, r in enumerate(tab.column.rows) if r.spec.key == f"label:{LABELS_SHOT['number']}")
    spec = tab.column.rows[row].spec
    ages = traversal_latents(spec, panel.state.z, LABELS_SHOT["steps"])
    tab.column.set_value(row, spec.low + LABELS_SHOT["at"] * (spec.high - spec.low))
    settle_for(app, 1.0)
    path = out / f"labels-{size[0]}x{size[1]}.png"
    original = panel.state.data.test_images[LABELS_SHOT["face"]] if photos else None
    if not photos:
        panel.window().statusBar().clearMessage()
        for widget in (panel.gallery, panel.gallery_label, panel.neighbours_strip):
            widget.hide()
        settle_for(app, 0.5)
    with_strip(window.grab().toImage(), panel.state.model, ages, spec, original).save(str(path))
    print("saved", path, flush=True)
    window.close()
    QApplication.processEvents()
    return path


def shoot_explorer_readme(out: Path) -> None:
    """docs/screenshot_explorer.png (the Sliders tab) and docs/screenshot_atlas.png (the PCA map of the whole data
    set coloured by a true factor, zoomed in around the current face until the points are faces), 1400x900, light."""
    from palettes import application_palette
    from PySide6.QtWidgets import QApplication

    from vae_gui.app import create_application
    from vae_gui.main_window import MainWindow

    app = create_application(["screenshots"])
    keep_settings_aside(out)
    app.setStyle("Fusion")
    with application_palette(QApplication.style().standardPalette()):
        window = MainWindow()
        window.resize(1400, 900)
        window.show()
        explorer = window.explorer_panel
        wait_until(app, lambda: explorer.state.data is not None and explorer.neighbours_strip.ready)
        explorer.faces.start_from_test_image(README_FACE)
        explorer.tabs.setCurrentWidget(explorer.sliders_tab)
        settle_for(app, 1.0)
        window.grab().save(str(README_EXPLORER))
        print("wrote", README_EXPLORER, flush=True)
        atlas = explorer.atlas_tab
        explorer.tabs.setCurrentWidget(atlas)
        wait_until(app, lambda: atlas.map is not None and atlas.plot.drawn_points > 0, timeout_s=1800)
        atlas.colour.setCurrentIndex(atlas.colour.findData("factor:hair_color"))
        x, y = atlas.plot.marker.position
        atlas.plot.setRange(xRange=(x - README_ZOOM, x + README_ZOOM), yRange=(y - README_ZOOM, y + README_ZOOM),
                            padding=0)
        wait_until(app, lambda: atlas.plot.thumbnail_count > 0)
        settle_for(app, 1.0)
        window.grab().save(str(README_ATLAS))
        print("wrote", README_ATLAS, flush=True)
        explorer.shutdown()
        window.close()


def with_strip(shot, model, latents, spec, original):
    """The window's image with the `original` image and a row of faces decoded from `latents` under it, each
    captioned with the slider's value there ("age 23 years")."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QImage, QPainter

    from trainer.latent.codec import decode_latents
    from trainer.latent.label_directions import rounded
    from vae_gui.qt_images import array_to_qimage

    shot.setDevicePixelRatio(1.0)            # under QT_SCALE_FACTOR the grab has twice the pixels: keep them all
    faces = list(decode_latents(model, latents, exact=True))
    captions = [f"{spec.label} {rounded(spec.value(z))} {spec.unit}".strip() for z in latents]
    if original is not None:
        faces, captions = [original, *faces], ["the test image", *captions]
    caption = 22
    result = QImage(shot.width(), shot.height() + STRIP_FACE + caption + 16, QImage.Format.Format_RGB32)
    result.fill(QColor("white"))
    painter = QPainter(result)
    painter.drawImage(0, 0, shot)
    left = (shot.width() - len(faces) * (STRIP_FACE + 8)) // 2
    for i, (face, text) in enumerate(zip(faces, captions)):
        x, y = left + i * (STRIP_FACE + 8), shot.height() + 8
        painter.drawImage(QRect(x, y, STRIP_FACE, STRIP_FACE), array_to_qimage(face))
        painter.drawText(QRect(x, y + STRIP_FACE, STRIP_FACE, caption), Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--palette", nargs="+", choices=("light", "dark"), default=["light", "dark"])
    parser.add_argument("--size", default="1366x768")
    parser.add_argument("--train", action="store_true", help="train a short run in the Train tab first")
    parser.add_argument("--full-atlas", action="store_true", help="wait for the atlas of the whole data set")
    parser.add_argument("--readme", action="store_true", help=f"write {README_SHOT.relative_to(HERE.parent)} "
                        f"(with --labels: {README_LABELS_SHOT.relative_to(HERE.parent)})")
    parser.add_argument("--readme-explorer", action="store_true",
                        help=f"write {README_EXPLORER.relative_to(HERE.parent)} and {README_ATLAS.name}")
    parser.add_argument("--labels", type=Path, metavar="CHECKPOINT", help="the Your labels sliders of this checkpoint")
    parser.add_argument("--budget", nargs=2, type=Path, metavar=("CURVE", "FOLDER"),
                        help="the Train tab's expectation for FOLDER by the curve file CURVE")
    parser.add_argument("--minutes", type=float, default=10.0, help="the time budget --budget shows")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    if args.budget is not None:
        shoot_budget(*args.budget, args.out, size, args.minutes)
        return 0
    if args.readme_explorer:
        shoot_explorer_readme(args.out)
        return 0
    if args.labels is not None:
        shot = shoot_labels(args.labels, args.out, size, photos=not args.readme)
        if args.readme:
            README_LABELS_SHOT.write_bytes(shot.read_bytes())
            print("wrote", README_LABELS_SHOT)
        return 0
    runs = args.out / "runs" if (args.train or args.readme) else None
    if args.readme:
        shots = shoot("light", args.out, size, runs)
        train = next(path for path in shots if path.name == "light-train.png")
        README_SHOT.write_bytes(train.read_bytes())
        print("wrote", README_SHOT)
        return 0
    for name in args.palette:
        shoot(name, args.out, size, runs, args.full_atlas)
    return 0


if __name__ == "__main__":
    sys.exit(main())
