"""The app's colours come from the palette: readable text tones and plot colours under a light and a dark palette,
and widgets that follow a palette change."""
import pyqtgraph as pg
import pytest
from palettes import application_palette, dark_palette
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from vae_gui import theme
from vae_gui.theme import Tone


def light_palette() -> QPalette:
    QApplication.instance().setStyle("Fusion")
    return QApplication.style().standardPalette()


PALETTES = {"light": light_palette, "dark": dark_palette}


def test_contrast_ratio_matches_wcag():
    assert theme.contrast(QColor("black"), QColor("white")) == pytest.approx(21.0)
    assert theme.contrast(QColor("#777777"), QColor("white")) == pytest.approx(4.48, abs=0.01)
    assert theme.contrast(QColor("#123456"), QColor("#123456")) == pytest.approx(1.0)


@pytest.mark.parametrize("name", PALETTES)
def test_every_text_tone_reads_on_window_and_view_backgrounds(qapp, name):
    with application_palette(PALETTES[name]()):
        colours = theme.current()
        assert colours.dark == (name == "dark")
        for tone in Tone:
            for background in (colours.window, colours.base):
                assert theme.contrast(colours.tone(tone), background) >= theme.TEXT_CONTRAST, (tone, background.name())
        assert theme.contrast(colours.banner_text, colours.banner_background) >= theme.TEXT_CONTRAST
        assert theme.contrast(colours.canvas_text, colours.canvas) >= 7
        assert theme.contrast(colours.canvas_muted, colours.canvas) >= theme.TEXT_CONTRAST


@pytest.mark.parametrize("name", PALETTES)
def test_plot_colours_follow_the_palette_and_read_on_it(qapp, name):
    with application_palette(PALETTES[name]()) as palette:
        colours = theme.current()
        assert colours.plot_background == palette.color(QPalette.ColorRole.Base)
        for colour in (*colours.series, colours.marker, colours.plot_guide):
            assert theme.contrast(colour, colours.plot_background) >= theme.GRAPHIC_CONTRAST, colour.name()
        scale = colours.colour_scale(32)
        # both ends of the atlas's scale read on the plot background (viridis's dark end did not on a dark one)
        for end in (scale[0], scale[-1]):
            assert theme.contrast(end, colours.plot_background) >= theme.GRAPHIC_CONTRAST, end.name()
        assert len({c.name() for c in scale}) > 24


def test_a_dark_palette_turns_an_unreadable_link_colour_readable(qapp):
    palette = dark_palette()
    assert theme.contrast(palette.color(QPalette.ColorRole.Link), palette.color(QPalette.ColorRole.Window)) < 3
    accent = theme.theme_for(palette).accent
    assert theme.contrast(accent, palette.color(QPalette.ColorRole.Window)) >= theme.TEXT_CONTRAST
    assert accent.hslHue() == QColor(palette.color(QPalette.ColorRole.Link)).hslHue()


def test_a_toned_label_follows_a_palette_change(qtbot):
    label = QLabel("a hint")
    qtbot.addWidget(label)
    with application_palette(light_palette()):
        theme.set_tone(label, Tone.MUTED)
        light = label.palette().color(QPalette.ColorRole.WindowText)
        assert light == theme.current().muted
        with application_palette(dark_palette()):
            dark = label.palette().color(QPalette.ColorRole.WindowText)
            assert dark == theme.current().muted and dark != light
            theme.set_tone(label, None)
            assert label.palette().color(QPalette.ColorRole.WindowText) == theme.current().text
        assert theme.tone_of(label) is None
        assert sum(child.objectName() == theme.TONE_PROPERTY for child in label.children()) == 1


def test_a_styled_plot_follows_a_palette_change(qtbot):
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.addLegend()
    plot.plot([0, 1], [1, 0], name="curve")
    with application_palette(light_palette()):
        theme.style_plot(plot)
        assert plot.backgroundBrush().color() == theme.current().plot_background
        with application_palette(dark_palette()):
            colours = theme.current()
            assert plot.backgroundBrush().color() == colours.plot_background
            assert plot.getPlotItem().getAxis("left").textPen().color() == colours.plot_foreground
            assert colours.plot_foreground.name() in plot.getPlotItem().legend.items[0][1].text \
                or plot.getPlotItem().legend.items[0][1].opts["color"] == colours.plot_foreground


def test_install_sets_and_keeps_pyqtgraph_defaults_from_the_palette(qapp):
    before = pg.getConfigOption("background"), pg.getConfigOption("foreground")
    try:
        with application_palette(light_palette()):
            theme.install(qapp)
            assert QColor(pg.getConfigOption("background")) == theme.current().plot_background
            with application_palette(dark_palette()):
                assert QColor(pg.getConfigOption("background")) == theme.current().plot_background
                assert QColor(pg.getConfigOption("foreground")) == theme.current().plot_foreground
    finally:
        pg.setConfigOptions(background=before[0], foreground=before[1])
