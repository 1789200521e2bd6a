"""The installed Qt binding must not drop references to None (PySide6 6.12.0 does; the app refuses it)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from vae_gui import qt_binding
from vae_gui.app import main


def test_the_installed_binding_keeps_none_alive_across_void_calls(qtbot):
    label = QLabel("x")
    qtbot.addWidget(label)
    probe = QObject()
    assert qt_binding.leaked_none_references(lambda: label.setText("face")) == 0
    assert qt_binding.leaked_none_references(lambda: probe.setObjectName("probe")) == 0
    qt_binding.check_qt_binding()


def test_a_binding_that_drops_none_is_refused_with_the_fix(monkeypatch, capsys):
    monkeypatch.setattr(qt_binding, "leaked_none_references", lambda call, calls=qt_binding.PROBE_CALLS: calls)
    with pytest.raises(qt_binding.QtBindingError, match=r"PySide6-Essentials>=6.6,!=6.12.0"):
        qt_binding.check_qt_binding(python_version=(3, 11))
    monkeypatch.setattr("vae_gui.app.check_qt_binding", lambda: qt_binding.check_qt_binding(python_version=(3, 11)))
    assert main([]) == 1
    assert "reference-counting bug" in capsys.readouterr().err


def test_python_312_and_newer_need_no_check(monkeypatch):
    monkeypatch.setattr(qt_binding, "leaked_none_references", lambda call, calls=qt_binding.PROBE_CALLS: calls)
    qt_binding.check_qt_binding(python_version=(3, 12))      # no error: None is immortal there
