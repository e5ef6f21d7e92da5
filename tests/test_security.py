"""Security: Impasto never touches the network, never runs code from a weights file, and never
writes outside the output folder a batch was given."""

from __future__ import annotations

import json
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PySide6.QtWidgets import QMessageBox

import main
from engine.settings import TransferSettings
from gui.batch_panel import BatchPanel
from gui.main_window import MainWindow
from tests.helpers import content_image, style_image
from tests.test_robustness_cases import error_line, new_files, one_line, snapshot

ROOT = Path(__file__).resolve().parent.parent
WAIT_MS = 120_000
NETWORK_EXIT = 97  # what the audited process exits with on its first network event
FAST = ["--size", "32", "--iterations", "1", "--device", "cpu"]

# The hook is installed before anything of Impasto (or torch, or Qt) is imported, and it cannot
# be removed: any socket created, name looked up or URL opened afterwards ends the process.
AUDITED = """
import json, os, sys

def on_event(event, args):
    if event.startswith(("socket.", "urllib.", "http.client.", "ftplib.", "smtplib.", "webbrowser.")):
        os.write(2, f"NETWORK: {{event}} {{args!r}}\\n".encode())
        os._exit({code})

sys.addaudithook(on_event)
sys.path.insert(0, {root!r})
commands = json.loads(sys.argv[1])
if commands == "control: socket":
    import socket
    socket.socket()
elif commands == "control: lookup":
    import socket
    socket.getaddrinfo("localhost", 80)
elif commands == "control: url":
    import urllib.request
    urllib.request.urlopen("http://127.0.0.1:9/")
else:
    import main
    print(json.dumps([main.cli(argv) for argv in commands]))
"""


def run_audited(tmp_path: Path, commands) -> subprocess.CompletedProcess:
    driver = tmp_path / "audited.py"
    driver.write_text(AUDITED.format(code=NETWORK_EXIT, root=str(ROOT)), encoding="utf-8")
    return subprocess.run([sys.executable, str(driver), json.dumps(commands)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("control, event", [
    ("control: socket", "socket.__new__"), ("control: lookup", "socket.getaddrinfo"), ("control: url", "urllib.Request"),
])
def test_the_network_hook_catches_real_network_use(tmp_path, control, event):
    process = run_audited(tmp_path, control)
    assert process.returncode == NETWORK_EXIT and f"NETWORK: {event}" in process.stderr


def test_no_command_opens_a_network_connection(tmp_path):
    content, style = tmp_path / "photo.png", tmp_path / "style.png"
    content_image().save(content)
    style_image().save(style)
    (tmp_path / "in").mkdir()
    content_image(40, 32).save(tmp_path / "in" / "a.png")
    commands = [
        ["stylize", str(content), str(style), "-o", str(tmp_path / "stylized.png"), *FAST],
        ["batch", str(tmp_path / "in"), "--style", str(style), "-o", str(tmp_path / "out"), *FAST],
        ["--selftest"],
    ]
    if (ROOT / "cli" / "explore.py").is_file():
        commands.append(["explore", str(content), "--what", "features", "--size", "32", "--device", "cpu",
                         "-o", str(tmp_path / "sheet.png")])
    process = run_audited(tmp_path, commands)
    assert process.returncode == 0, process.stderr[-2000:]
    assert "NETWORK" not in process.stderr
    assert json.loads(process.stdout.strip().splitlines()[-1]) == [0] * len(commands)  # each did its work
    assert (tmp_path / "stylized.png").is_file() and (tmp_path / "out" / "a_style.png").is_file()


@pytest.fixture
def no_network(monkeypatch):
    """Every way Python opens a connection or looks a name up raises, and is recorded."""
    attempts: list[str] = []

    def refuse(name):
        def refused(*args, **kwargs):
            attempts.append(name)
            raise OSError(f"test: network use ({name}) is forbidden")

        return refused

    monkeypatch.setattr(socket, "socket", refuse("socket.socket"))
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "socketpair", "fromfd"):
        monkeypatch.setattr(socket, name, refuse(f"socket.{name}"))
    return attempts


def test_gui_run_save_and_batch_open_no_connection(qtbot, tmp_path, monkeypatch, no_network):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kwargs: warnings.append(args[2]))
    content, style = tmp_path / "photo.png", tmp_path / "style.png"
    content_image().save(content)
    style_image().save(style)
    settings = TransferSettings(size=32, start_size=32, iterations=1, device="cpu", preview_interval_ms=0)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    win.apply_settings(settings, with_images=False)
    assert win.load_content(str(content)) and win.add_styles([str(style)]) == 1
    with qtbot.waitSignal(win.run_finished, timeout=WAIT_MS):
        assert win.start()
    with qtbot.waitSignal(win.saved, timeout=WAIT_MS):
        assert win.save_to(str(tmp_path / "saved.png"))
    batch_panel = next(panel for panel in win.panels if isinstance(panel, BatchPanel))
    batch_panel.output_edit.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(batch_panel.planned, timeout=WAIT_MS):
        batch_panel.add_paths([str(content)])
    with qtbot.waitSignal(batch_panel.run_finished, timeout=WAIT_MS) as finished:
        assert batch_panel.start()
    assert finished.args[0].done == 1
    win.close()
    assert win.shutdown_clean and not warnings
    assert no_network == []
    assert "PySide6.QtNetwork" not in sys.modules  # nor Qt's own networking


# ---------------------------------------------------------------- weights files


class _Payload:
    """Unpickling this runs code: it writes the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('the weights file ran code')",))


def evil_weights(path: Path, marker: Path, layout: str) -> Path:
    state = {"conv1_1.weight": _Payload(marker), "conv1_1.bias": torch.zeros(64)}
    if layout == "torch zip":
        torch.save(state, path)
    else:
        with open(path, "wb") as file:
            pickle.dump(state, file)
    return path


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("layout", ["torch zip", "plain pickle"])
@pytest.mark.parametrize("command", ["stylize", "batch", "explore"])
def test_cli_never_runs_code_from_a_weights_file(command, layout, tmp_path, capsys):
    marker = tmp_path / "pwned.txt"
    weights = evil_weights(tmp_path / "evil.pth", marker, layout)
    content, style = tmp_path / "photo.png", tmp_path / "style.png"
    content_image().save(content)
    style_image().save(style)
    argv = {
        "stylize": ["stylize", str(content), str(style), "-o", str(tmp_path / "out.png")],
        "batch": ["batch", str(content), "--style", str(style), "-o", str(tmp_path / "out")],
        "explore": ["explore", str(content), "--what", "features", "-o", str(tmp_path / "sheet.png")],
    }[command]
    before = snapshot(tmp_path)
    assert main.cli([*argv, *FAST, "--weights", str(weights)]) == 2
    message = error_line(capsys.readouterr().err)
    assert "evil.pth is not a usable weights file" in message
    assert not marker.exists()
    assert not [name for name in new_files(before, snapshot(tmp_path)) if name.endswith(".png")]


# ---------------------------------------------------------------- output names


@pytest.mark.parametrize("template", [
    "../{stem}.{ext}", "{style}/../../{stem}.{ext}", "/tmp/{stem}.{ext}", "C:/out/{stem}.{ext}", "..\\{stem}.{ext}",
])
def test_batch_tab_refuses_templates_that_leave_the_output_folder(template, qtbot, tmp_path):
    style = tmp_path / "style.png"
    style_image().save(style)
    (tmp_path / "in").mkdir()
    content_image().save(tmp_path / "in" / "a.png")
    panel = BatchPanel(lambda: TransferSettings(styles=[str(style)], size=32, start_size=32, iterations=1,
                                                device="cpu"))
    qtbot.addWidget(panel)
    try:
        panel.output_edit.setText(str(tmp_path / "out"))
        panel.template_edit.setText(template)
        panel.add_paths([str(tmp_path / "in")])
        before = snapshot(tmp_path)
        assert not panel.start()
        assert "outside the output folder" in one_line(panel.status_label.text())
        assert not panel.busy and new_files(before, snapshot(tmp_path)) == set()
        assert not (tmp_path / "out").exists()
    finally:
        assert panel.shutdown()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("layout", ["torch zip", "plain pickle"])
def test_refused_weights_file_message_is_plain_and_gives_no_unsafe_advice(layout, tmp_path, capsys):
    weights = evil_weights(tmp_path / "evil.pth", tmp_path / "pwned.txt", layout)
    content, style = tmp_path / "photo.png", tmp_path / "style.png"
    content_image().save(content)
    style_image().save(style)
    assert main.cli(["stylize", str(content), str(style), "-o", str(tmp_path / "o.png"), *FAST,
                     "--weights", str(weights)]) == 2
    message = error_line(capsys.readouterr().err)
    assert message.isprintable() and "\x1b" not in message  # no terminal escape codes
    assert "refused" in message and "can still be loaded" not in message and "weights_only" not in message
