"""Whether a window can open is found out before anything loads (no Qt abort, exit 134)."""

from __future__ import annotations

import socket

import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.io import check_output, display


@pytest.fixture
def x11(monkeypatch, tmp_path):
    """A clean environment whose local X sockets live in ``tmp_path``."""
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(display, "X11_SOCKETS", str(tmp_path))
    monkeypatch.setattr(display, "_opencv_has_gui", lambda: True)
    return tmp_path


def test_a_missing_or_silent_display_is_named(monkeypatch, x11):
    monkeypatch.delenv("DISPLAY", raising=False)
    assert display.display_problem() == "DISPLAY is not set"
    monkeypatch.setenv("DISPLAY", ":99")  # nothing listens at X99
    assert display.display_problem() == "no X server answers at DISPLAY=:99"
    monkeypatch.setenv("DISPLAY", "nonsense")
    assert "DISPLAY=nonsense" in display.display_problem()
    with pytest.raises(InputError, match="output window: cannot open a window: no X server"):
        check_output("window", None, False)


def test_a_listening_x_server_is_a_display(monkeypatch, x11):
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(x11 / "X7"))
        server.listen(1)
        monkeypatch.setenv("DISPLAY", ":7.0")
        assert display.display_problem() is None
        check_output("window:fullscreen", None, False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        monkeypatch.setenv("DISPLAY", f"127.0.0.1:{port - display.X11_TCP_BASE}")
        assert display.display_problem() is None
    monkeypatch.setenv("DISPLAY", f"127.0.0.1:{port - display.X11_TCP_BASE}")  # closed now
    assert display.display_problem().startswith("no X server answers")


def test_a_chosen_headless_qt_platform_or_a_gui_less_opencv(monkeypatch, x11):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display.display_problem() is None
    monkeypatch.setattr(display, "_opencv_has_gui", lambda: False)
    assert "no window support" in display.display_problem()
