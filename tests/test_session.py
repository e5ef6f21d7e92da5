"""gui.session: the one observable object the Stylize tab's widgets bind to."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from engine.jobs import Style
from engine.settings import TransferSettings
from gui.main_window import MainWindow
from gui.session import Session
from tests.qt_helpers import dialogs  # noqa: F401  (autouse fixture)


def test_session_notifies_what_changed(qtbot):
    session = Session()
    seen = []
    session.settings_changed.connect(lambda fields, origin: seen.append((set(fields), origin)))
    with qtbot.waitSignal(session.content_changed) as content:
        session.setProperty("content", "photo.png")  # a Qt property, bindable from Qt
    assert content.args == ["photo.png"] and session.settings().content == "photo.png"
    with qtbot.waitSignal(session.styles_changed), qtbot.waitSignal(session.steerable_changed):
        session.set_styles([Style("a.png", 2.0), Style("b.png")], origin="pane")
    assert session.styles == [Style("a.png", 2.0), Style("b.png", 1.0)]
    assert seen[-1] == ({"styles", "style_blend"}, "pane")
    with qtbot.waitSignal(session.device_changed):
        session.device = "cpu"
    session.update(size=512)  # unchanged: no signal
    assert seen[-1][0] == {"device"}
    session.limit_size(200)  # the first scale (128 px) already fits
    assert (session.settings().size, session.settings().start_size) == (200, 128)
    session.limit_size(100)  # the first scale shrinks with the output
    assert (session.settings().size, session.settings().start_size) == (100, 100)


def test_loading_settings_keeps_the_images_unless_asked(qtbot):
    session = Session(TransferSettings(content="c.png", styles=["s.png"]))
    session.load(TransferSettings(content="other.png", styles=[], iterations=7))
    assert session.settings().content == "c.png" and session.settings().styles == ["s.png"]
    assert session.settings().iterations == 7
    session.load(TransferSettings(content="other.png"), with_images=True)
    assert session.settings().content == "other.png" and session.styles == []


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow()
    qtbot.addWidget(win)
    yield win
    win.close()


def test_widgets_write_into_the_session_and_show_what_it_holds(window, tmp_path):
    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    Image.new("RGB", (40, 30), (200, 100, 50)).save(photo)
    Image.new("RGB", (30, 30), (20, 40, 160)).save(painting)
    session = window.session
    assert window.load_content(str(photo)) and session.content == str(photo)
    assert window.windowTitle().startswith("photo.png")
    assert window.add_styles([str(painting)]) == 1
    assert session.styles == [Style(str(painting), 1.0)]
    window.style_pane.rows[0].blend.setValue(2.5)
    assert session.styles == [Style(str(painting), 2.5)]
    window.settings_panel.iterations.setValue(42)
    assert session.settings().iterations == 42
    session.limit_size(300)  # e.g. the out-of-memory offer: the size box shows it
    assert window.settings_panel.size_box.value() == 300
    session.update(style_weight=40.0, content_weight=1.0)
    assert window.look_panel.style_weight == 40.0
    session.set_quality(80)
    assert window.settings_panel.quality.value() == 80
    window.settings_panel.quality.setValue(70)
    assert session.quality == 70
    assert Path(session.settings().content).name == "photo.png"
