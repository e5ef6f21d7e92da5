"""The main window: a "Stylize" tab (inputs, live preview, look and settings) plus the batch and
explorer panels, menus and shortcuts. It never computes: runs and saves go to WorkerHosts.

What the tab is about lives in ``self.session`` (gui.session.Session): the panes and panels write
their edits into it and show what it holds; runs, saves and the other tabs read it."""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QFileDialog, QGroupBox, QHBoxLayout, QInputDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QScrollArea,
    QSizePolicy, QSplitter, QTabWidget, QToolButton, QVBoxLayout, QWidget,
)

from engine import images, jobs, masks
from engine.errors import ImpastoError, OutOfMemoryError, SettingsError
from engine.files import config_dir
from engine.settings import RUN_KEY, TransferSettings, preset_description
from engine.timing import format_duration, time_left
from engine.transfer import Progress
from gui.worker import WorkerHost, describe
from gui.about import show_about
from gui.clipboard import copy_image, pasted_paths
from gui.icons import glyph_icon
from gui.drop_panes import ContentPane, StylePane, can_accept, dropped_paths
from gui.estimate import Estimator, Speeds, draft_settings, resolve
from gui.film_strip import FilmStrip
from gui.jobs import (
    ContentFrame, RunOutcome, SavedFile, SnapshotFrame, continue_job, save_job, stylize_job, warm_up_job,
)
from gui.layer_table import LookPanel
from gui.look_history import LookHistory
from gui.mask_painter import MaskPainter
from gui.preview import PreviewPanel
from gui.recent import recent_labels
from gui.screens import fit_to_screen
from gui.session import Session
from gui.settings_panel import SettingsPanel
from gui.state import AppState

OPEN_FILTER = "Images (*.png *.jpg *.jpeg *.jfif *.tif *.tiff *.webp *.bmp *.gif);;All files (*)"
SAVE_FILTERS = {
    "PNG image (*.png)": ".png",
    "JPEG image (*.jpg *.jpeg)": ".jpg",
    "TIFF image (*.tif *.tiff)": ".tif",
    "WebP image (*.webp)": ".webp",
}
STATUS_MS = 8000
INPUTS_MIN_WIDTH = 210  # px, the Content and Style column with no style row


PROGRESS_STEPS = 1000


def frame_text(progress: Progress) -> str:
    width, height = progress.size
    return (
        f"Scale {progress.scale + 1}/{progress.scales} · {width}×{height} px · "
        f"iteration {progress.iteration}/{progress.total}"
    )


def loss_text(progress: Progress) -> str:
    return (
        f"Distance to photo {progress.content_loss:.3g} · to painting {progress.style_loss:.3g} · "
        f"speckle {progress.tv_loss:.3g} · loss {progress.loss:.4g}"
    )


class MainWindow(QMainWindow):
    run_finished = Signal(object)  # RunOutcome of a finished or stopped run
    saved = Signal(str)  # path of a file just written

    def __init__(self, state: AppState | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Impasto")
        self.setAcceptDrops(True)
        self.state = state if state is not None else AppState()
        self.host = WorkerHost(self)  # style-transfer runs
        self.io_host = WorkerHost(self)  # saving, so a save never waits for (or stops) a run
        self.panels: list[QWidget] = []
        self.outcome: RunOutcome | None = None
        self._save_path: str | None = None
        self._saving_result = False  # the save in flight writes the run's result (not a snapshot)
        self._last_frame: tuple | None = None  # the newest live frame and its caption
        self.restored_result: str | None = None  # an Impasto image restored from, to continue
        self.session = Session(parent=self)
        self.look_history = LookHistory(self.session, self)  # undo/redo of look edits
        self.unsaved = False  # a finished or stopped result (not a draft) that no Save has written yet
        self._drafting = False  # the run in progress is a Draft
        self.estimator = Estimator(Speeds(self.state.store))  # the time beside Start
        self._speed_mark: Progress | None = None  # the last scale's first report: speed is measured from it
        self._stylize_status = ""
        self._fitted_shown = False
        self.shutdown_clean: bool | None = None
        self.adam_warmed = False  # torch's optimiser imports paid (warm_up_job), once Adam is chosen
        self._build_stylize_tab()
        self._build_actions()
        self._build_menus()
        self._build_view_actions()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.stylize_tab, "Stylize")
        self.setCentralWidget(self.tabs)
        self._add_panels()
        self.tabs.currentChanged.connect(self._update_run_actions)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._connect_workers()
        self._restore()
        self.look_history.forget()  # what was restored is where undo stops
        self.show_estimate()
        self._set_running(False)
        self._warm_up_for_adam()

    # ================================================================== layout
    def _build_stylize_tab(self) -> None:
        self.content_pane = ContentPane()
        self.style_pane = StylePane()
        inputs = QWidget()
        inputs_layout = QVBoxLayout(inputs)
        inputs_layout.addWidget(self.content_pane, 2)
        self.masks_button = QToolButton(text="Paint Masks…", toolTip="Paint where each style applies (Ctrl+M)")
        self.masks_button.clicked.connect(self.show_mask_painter)
        inputs_layout.addWidget(self.masks_button, 0, Qt.AlignRight)
        self.mask_painter: MaskPainter | None = None
        inputs_layout.addWidget(self.style_pane, 3)
        inputs.setMinimumWidth(INPUTS_MIN_WIDTH)
        # as wide as a style row needs (the splitter squeezed it to 210 px at the window's minimum)
        self.style_pane.changed.connect(lambda: QTimer.singleShot(0, lambda: inputs.setMinimumWidth(
            max(INPUTS_MIN_WIDTH, inputs_layout.minimumSize().width())  # once the new row is laid out
        )))
        self.inputs_panel = inputs
        self.style_pane.setFocusPolicy(Qt.ClickFocus)  # so Paste knows a click chose the style pane

        self.preview = PreviewPanel()
        self.preview.view.setAcceptDrops(False)  # drops on the preview go to the window
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.addWidget(self.preview, 1)
        self.film_strip = FilmStrip()
        self.film_strip.chosen.connect(self.show_snapshot)
        self.film_strip.live_requested.connect(self.show_live)
        self.film_strip.continue_requested.connect(self.continue_run)
        centre_layout.addWidget(self.film_strip)
        centre_layout.addLayout(self._build_run_bar())

        self.look_panel = LookPanel(self.session.settings)
        self.settings_panel = SettingsPanel()
        look_box = QGroupBox("Look")
        QVBoxLayout(look_box).addWidget(self.look_panel)
        settings_box = QGroupBox("Settings")
        QVBoxLayout(settings_box).addWidget(self.settings_panel)
        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.addWidget(look_box, 1)
        controls_layout.addWidget(settings_box)
        controls_layout.addStretch(0)  # the slack while the layer table is folded (Settings stay up)

        def fold(shown: bool) -> None:
            controls_layout.setStretchFactor(look_box, int(shown))
            controls_layout.setStretch(controls_layout.count() - 1, int(not shown))

        self.look_panel.advanced_button.toggled.connect(fold)
        fold(self.look_panel.advanced_button.isChecked())
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setFocusPolicy(Qt.NoFocus)  # no invisible Tab stop; it still scrolls to the focused field
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(controls.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self.controls_panel = scroll

        self.splitter = QSplitter(Qt.Horizontal)
        for index, widget in enumerate((inputs, centre, scroll)):
            self.splitter.addWidget(widget)
            self.splitter.setCollapsible(index, False)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 700, 360])
        self.stylize_tab = self.splitter

        self._bind_session()
        self.content_pane.files_dropped.connect(self._on_content_dropped)
        self.content_pane.drop_failed.connect(lambda m: self._warn("Cannot use the dropped data", m))
        self.content_pane.open_requested.connect(self.open_content_dialog)
        self.style_pane.files_dropped.connect(self._on_styles_dropped)
        self.style_pane.drop_failed.connect(lambda m: self._warn("Cannot use the dropped data", m))
        self.style_pane.add_requested.connect(self.add_styles_dialog)
        self.look_panel.preset_applied.connect(self._on_preset_applied)
        self.look_history.preset_shown.connect(self.look_panel.show_applied)
        self.look_panel.message.connect(lambda m: self._warn("Preset", m))

    def _bind_session(self) -> None:
        """Widgets write their edits into the session; the session's changes made elsewhere (a
        recipe, a preset, the out-of-memory offer) are shown by the widgets that own them."""
        session = self.session
        self.content_pane.changed.connect(session.set_content)
        for signal in (self.style_pane.changed, self.style_pane.blend_changed):
            signal.connect(self._on_style_pane_changed)
        self.look_panel.look_changed.connect(lambda: session.edit(self.look_panel.apply_to, origin=self.look_panel))
        self.settings_panel.changed.connect(
            lambda: session.edit(self.settings_panel.apply_to, origin=self.settings_panel)
        )
        self.settings_panel.quality.valueChanged.connect(session.set_quality)
        session.quality_changed.connect(self.settings_panel.quality.setValue)
        session.settings_changed.connect(self._show_settings)
        session.settings_changed.connect(self._warm_up_for_adam)
        session.settings_changed.connect(self.show_estimate)
        session.steerable_changed.connect(self._steer)  # weights and blends steer a running job
        session.content_changed.connect(
            lambda path: self.setWindowTitle(f"{Path(path).name} — Impasto" if path else "Impasto")
        )

    def _on_style_pane_changed(self) -> None:
        """The pane's styles and blends, each keeping the mask painted for it (the pane shows none)."""
        mask_of = {style.path: style.mask for style in self.session.styles}
        styles = [dataclasses.replace(style, mask=mask_of.get(style.path, "")) for style in self.style_pane.styles()]
        self.session.set_styles(styles, origin=self.style_pane)

    def _show_settings(self, fields, origin) -> None:
        settings = self.session.settings()
        for panel in (self.look_panel, self.settings_panel):
            if origin is not panel and fields & panel.FIELDS:
                panel.load(settings)
        self.look_panel.show_preset_state(settings)

    def _build_run_bar(self) -> QVBoxLayout:
        self.draft_button = QToolButton()
        self.start_button = QToolButton()
        self.stop_button = QToolButton()
        for button in (self.draft_button, self.start_button, self.stop_button):
            button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.loss_label = QLabel(" ")
        self.loss_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.loss_label.setToolTip(
            "How far the picture still is from the photo's arrangement, from the painting's manner, and how "
            "much speckle it has: lower is closer; the loss weighs them together as Style strength and "
            "Smoothness say. It falls fast at first, then levels off; a scale whose picture stops changing "
            "ends early."
        )
        self.estimate_label = QLabel(" ")
        row = QHBoxLayout()
        row.addWidget(self.draft_button)
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        row.addWidget(self.progress_bar, 1)
        layout = QVBoxLayout()
        layout.addLayout(row)
        # one line each: side by side, a long device name and the loss widened the window past 1280 px
        layout.addWidget(self.estimate_label)
        layout.addWidget(self.loss_label)
        return layout

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open Content…", self.open_content_dialog, QKeySequence.Open)
        self.add_styles_action = self._action("&Add Style Images…", self.add_styles_dialog, "Ctrl+Shift+O")
        self.restore_action = self._action("&Restore Settings from Image…", self.restore_from_dialog)
        self.save_action = self._action("&Save", self.save, QKeySequence.Save)
        self.save_as_action = self._action("Save &As…", self.save_as, QKeySequence.SaveAs)
        self.quit_action = self._action("&Quit", self.close, QKeySequence.Quit)
        # Start and Stop act on the visible tab: Ctrl+Return on Batch starts the batch
        self.start_action = self._action("&Start Final Run", self.start_current_tab, "Ctrl+Return")
        self.start_action.setIconText("Final")  # the button beside Draft
        self.start_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.start_action.setToolTip("Start the final run at the output size (Ctrl+Return)")
        self.draft_action = self._action("Start &Draft", lambda: self.start(draft=True), "Ctrl+Shift+Return")
        self.draft_action.setIconText("Draft")
        self.draft_action.setToolTip("A small, fast run of the same look to judge it (Ctrl+Shift+Return)")
        self.stop_action = self._action("S&top", self.stop_current_tab, "Esc")
        self.stop_action.setToolTip("Stop after the current iteration (Esc); the image so far can be saved")
        self.continue_action = self._action("&Continue", self.continue_run, "Ctrl+Shift+Return")
        self.continue_action.setToolTip("Go on from the result (or the snapshot shown) at its size")
        self.refine_action = self._action("&Refine to… px", self.refine)
        self.refine_action.setIconText("Refine to… px")  # a button's text would otherwise lose the "…"
        self.refine_action.setToolTip("Carry the result (or the snapshot shown) on to a larger size")
        self.film_strip.add_buttons(self.refine_action)  # "Continue from here" is the strip's own (Run ▸ Continue too)
        self.fit_action = self._action("&Fit in View", self.preview.view.zoom_fit, "Ctrl+0")
        self.actual_action = self._action("&Actual Pixels (1:1)", self.preview.view.zoom_actual, "Ctrl+1")
        self.masks_action = self._action("Paint &Masks…", self.show_mask_painter, "Ctrl+M")
        self.start_button.setDefaultAction(self.start_action)
        self.draft_button.setDefaultAction(self.draft_action)
        self.stop_button.setDefaultAction(self.stop_action)
        self.undo_action = self.look_history.stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.Undo)
        self.redo_action = self.look_history.stack.createRedoAction(self, "&Redo")
        redo_keys = [QKeySequence("Ctrl+Shift+Z")]  # everywhere, besides the platform's own (Ctrl+Y, ...)
        redo_keys += [key for key in QKeySequence.keyBindings(QKeySequence.Redo) if key not in redo_keys]
        self.redo_action.setShortcuts(redo_keys)  # a key listed twice would be ambiguous: neither fires
        for action in (self.undo_action, self.redo_action):
            self.addAction(action)

    def _action(self, text: str, slot: Callable, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda checked=False: slot())
        self.addAction(action)  # shortcuts work even while the menu bar is hidden
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.add_styles_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addAction(self.restore_action)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        run_menu = bar.addMenu("&Run")
        run_menu.addAction(self.draft_action)
        run_menu.addAction(self.start_action)
        run_menu.addAction(self.stop_action)
        run_menu.addSeparator()
        run_menu.addAction(self.continue_action)
        run_menu.addAction(self.refine_action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.fit_action)
        view_menu.addAction(self.actual_action)
        view_menu.addSeparator()
        view_menu.addAction(self.masks_action)

    def _add_panels(self) -> None:
        """The Batch and Explorer tabs: ``Panel(settings_source, parent)`` with ``busy`` and
        ``shutdown()``, ``settings_source`` being ``session.settings``; each runs on its own
        worker thread."""
        from gui.batch_panel import BatchPanel
        from gui.explorer_panel import ExplorerPanel

        for panel_class, title in ((BatchPanel, "Batch"), (ExplorerPanel, "Explorer")):
            panel = panel_class(self.session.settings, self)
            self.panels.append(panel)
            self.tabs.addTab(panel, title)
            if hasattr(panel, "edit_settings_requested"):  # the Batch tab's "Edit…" beside its settings
                panel.edit_settings_requested.connect(lambda: self.tabs.setCurrentWidget(self.stylize_tab))

    # ================================================================== view, edit and help
    def _build_view_actions(self) -> None:
        """Zoom keys, hiding the side panels, copy/paste of images, Show in Folder and About."""
        view = self.preview.view
        self.zoom_in_action = self._action("Zoom &In", lambda: view.zoom_step(1), QKeySequence.ZoomIn)
        self.zoom_in_action.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self.zoom_out_action = self._action("Zoom &Out", lambda: view.zoom_step(-1), QKeySequence.ZoomOut)
        self.zoom_out_action.setShortcuts([QKeySequence("Ctrl+-")])
        # Tab hides the panels only while the preview has the focus (click the image): elsewhere
        # it keeps moving between fields, as keyboard users expect
        self.panels_action = self._action("Hide Side &Panels", self.toggle_side_panels)
        self.panels_action.setCheckable(True)
        self.panels_action.setShortcut(QKeySequence(Qt.Key_Tab))
        self.panels_action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.removeAction(self.panels_action)
        view.setFocusPolicy(Qt.ClickFocus)  # a click gives it the focus; tabbing through fields skips it
        view.addAction(self.panels_action)
        self.copy_action = self._action("&Copy Image", self.copy_shown_image, QKeySequence.Copy)
        self.paste_action = self._action("&Paste Image", self.paste_image, QKeySequence.Paste)
        self.paste_action.setToolTip("Paste as the content photo, or as a style when the Style pane has the focus")
        self.paste_style_action = self._action("Paste as &Style", lambda: self.paste_image(as_style=True),
                                               "Ctrl+Shift+V")
        self.show_folder_action = self._action("Show in &Folder", self.show_saved_in_folder)
        self.show_folder_action.setEnabled(False)
        self.about_action = self._action("&About Impasto", lambda: show_about(self, self.session.device))
        self.about_action.setMenuRole(QAction.AboutRole)
        self.show_folder_link = QLabel()
        self.show_folder_link.setToolTip("Open the folder of the file just saved")
        self.show_folder_link.linkActivated.connect(lambda _: self.show_saved_in_folder())
        self.show_folder_link.setVisible(False)
        self.statusBar().addPermanentWidget(self.show_folder_link)
        self._paint_icons()

        menus = {menu.title(): menu for menu in (a.menu() for a in self.menuBar().actions()) if menu}
        file_menu, view_menu = menus["&File"], menus["&View"]
        file_menu.insertAction(self.quit_action, self.show_folder_action)
        file_menu.insertSeparator(self.quit_action)
        edit_menu = menus["&Edit"]  # Undo and Redo of look edits, then the images
        edit_menu.addSeparator()
        for action in (self.copy_action, self.paste_action, self.paste_style_action):
            edit_menu.addAction(action)
        view_menu.addAction(self.zoom_in_action)
        view_menu.addAction(self.zoom_out_action)
        view_menu.addSeparator()
        view_menu.addAction(self.panels_action)
        self.menuBar().addMenu("&Help").addAction(self.about_action)

    def showEvent(self, event):
        super().showEvent(event)
        if not self._fitted_shown:  # now the window manager's frame (title bar) is known too
            self._fitted_shown = True
            QTimer.singleShot(0, lambda: fit_to_screen(self))

    def _paint_icons(self) -> None:
        """Start and Stop icons in the palette's text colour: legible on light and dark palettes
        (and the link, whose rich text keeps its colour until set again)."""
        self.start_action.setIcon(glyph_icon("play", self.palette()))
        self.draft_action.setIcon(glyph_icon("draft", self.palette()))
        self.stop_action.setIcon(glyph_icon("stop", self.palette()))
        link = self.palette().color(QPalette.Link).name()
        self.show_folder_link.setText(f'<a href="#" style="color: {link}">Show in folder</a>')

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange and hasattr(self, "start_action"):
            self._paint_icons()

    def toggle_side_panels(self) -> None:
        """Tab (on the preview): the image alone in the Stylize tab, or the panels back."""
        hidden = self.inputs_panel.isVisible()
        self.inputs_panel.setVisible(not hidden)
        self.controls_panel.setVisible(not hidden)
        self.panels_action.setChecked(hidden)
        self.tabs.setCurrentWidget(self.stylize_tab)

    def _on_stylize_tab(self) -> bool:
        return self.tabs.currentWidget() is self.stylize_tab

    def copy_shown_image(self) -> bool:
        if not self._on_stylize_tab():  # the keys belong to the visible tab
            return False
        if not copy_image(self.preview.view.shown_image()):
            self.show_status("Nothing to copy yet: the preview is empty")
            return False
        self.show_status("Image copied")
        return True

    def paste_image(self, as_style: bool | None = None) -> None:
        """An image from the clipboard as the content, or as a style (Paste as Style, or Paste
        while the Style pane has the focus)."""
        if not self._on_stylize_tab():
            return
        if as_style is None:
            focus = self.focusWidget()
            as_style = focus is not None and (focus is self.style_pane or self.style_pane.isAncestorOf(focus))
        try:
            paths = pasted_paths()
        except ImpastoError as exc:
            self.show_status(str(exc))
            return
        if as_style:
            self.add_styles(paths)
        else:
            self.load_content(paths[0])

    def show_saved_in_folder(self) -> bool:
        """Open the folder of the last saved file in the system's file manager."""
        if not self._save_path:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self._save_path).parent)))

    # ================================================================== settings
    def apply_settings(self, settings: TransferSettings, with_images: bool = True) -> None:
        """Put ``settings`` in the session (every widget shows it); with ``with_images``, also its
        content and styles (those whose files still exist)."""
        if settings.snapshot_every:  # the film strip holds the interval; the session (so the Batch tab) none
            self.film_strip.every.setValue(settings.snapshot_every)
            settings = settings.replace(snapshot_every=0)
        self.session.load(settings)
        self.look_panel.load(self.session.settings())
        self.settings_panel.load(self.session.settings())
        if with_images:
            self._restore_images(settings)
            self._restore_masks(settings)

    def _restore_masks(self, settings: TransferSettings) -> None:
        """Give each restored style the mask ``settings`` had for it (after the panes took the images)."""
        mask_of = dict(zip(settings.styles, settings.style_masks))
        styles = [dataclasses.replace(style, mask=mask_of.get(style.path, "")) for style in self.session.styles]
        self.session.set_styles(styles)

    def _restore_images(self, settings: TransferSettings) -> None:
        problems = []
        if settings.content:
            try:
                self.content_pane.set_image(settings.content)
            except ImpastoError as exc:
                problems.append(str(exc))
        styles = [p for p in settings.styles if os.path.isfile(p)]
        problems += [f"Image not found: {Path(p).name}" for p in settings.styles if p not in styles]
        blends = settings.style_blend if len(settings.style_blend) == len(settings.styles) else []
        blend_of = dict(zip(settings.styles, blends))
        if styles:
            self.style_pane.clear()
        for path in styles:
            try:
                self.style_pane.add_image(path, blend_of.get(path, 1.0))
            except ImpastoError as exc:
                problems.append(str(exc))
        if problems:
            self.show_status("; ".join(problems))

    def _on_preset_applied(self, settings: TransferSettings) -> None:
        name = self.look_panel.applying
        self.look_history.preset_change = (self.look_panel.applied_preset(), name)  # undo shows it again
        self.session.load(settings)
        self.look_history.preset_change = None
        description = preset_description(name) if name else ""
        if not name:
            self.show_status("Look back to the defaults")  # Reset
        else:
            self.show_status(f"Preset {name}: {description}" if description else f"Preset {name} applied")

    # ================================================================== inputs
    def load_content(self, path: str, remember: bool = True) -> bool:
        dropping_masks = self._masks_painted_for_another(path)
        if dropping_masks and not self._ask_to_drop_masks(path):
            return False
        try:
            self.content_pane.set_image(path)
        except ImpastoError as exc:
            self._warn("Cannot open the content image", str(exc))
            return False
        if dropping_masks:  # only now: an unreadable photo keeps the old one and its masks
            self.session.update(style_masks=[])
        if remember:
            self.state.add_recent("content", path)
            self.state.set_last_folder("content", path)
        return True

    def _masks_painted_for_another(self, path: str) -> bool:
        """Masks are painted for one photo: whether opening ``path`` would drop them."""
        return any(self.session.settings().style_masks) and os.path.abspath(path) != os.path.abspath(self.session.content)

    def _ask_to_drop_masks(self, path: str) -> bool:
        answer = QMessageBox.question(
            self, "Discard the masks?",
            f"The masks were painted for {Path(self.session.content).name}.\n\n"
            f"Open {Path(path).name} and discard them? (Export them first from the mask painter to keep them.)",
        )
        return answer == QMessageBox.Yes

    def show_mask_painter(self) -> MaskPainter:
        if self.mask_painter is None:
            self.mask_painter = MaskPainter(self.session, self)
            self.mask_painter.message.connect(self.show_status)
        self.mask_painter.show()
        self.mask_painter.raise_()
        self.mask_painter.activateWindow()
        return self.mask_painter

    def add_styles(self, paths: list[str]) -> int:
        """Add each readable image that is not a style already; one message lists those that are
        not readable, the status line names those already there. Returns how many were added."""
        problems, repeated = [], []
        for path in paths:
            if self.style_pane.has(path):
                repeated.append(Path(path).name)
                continue
            try:
                self.style_pane.add_image(path)
            except ImpastoError as exc:
                problems.append(str(exc))
                continue
            self.state.add_recent("style", path)
            self.state.set_last_folder("style", path)
        if problems:
            self._warn("Cannot add style image", "\n".join(problems))
        if repeated:
            verb = "is already a style" if len(repeated) == 1 else "are already styles"
            self.show_status(f"{', '.join(repeated)} {verb}")
        return len(paths) - len(problems) - len(repeated)

    def _on_content_dropped(self, paths: list[str]) -> None:
        if self.offer_recipe(paths[0]):
            return
        self.load_content(paths[0])
        if len(paths) > 1:
            self.show_status("Only the first dropped image is used as content; drop the others on Style")

    def _on_styles_dropped(self, paths: list[str]) -> None:
        if len(paths) == 1 and self.offer_recipe(paths[0]):
            return
        self.add_styles(paths)

    def dragEnterEvent(self, event):
        # only on the Stylize tab: elsewhere a stray drop must not replace the content photo
        if self.tabs.currentWidget() is self.stylize_tab and can_accept(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event):
        """A drop outside the panes: restore a recipe, or else use the image as content."""
        try:
            paths = dropped_paths(event.mimeData())
        except ImpastoError as exc:
            self._warn("Cannot use the dropped data", str(exc))
            return
        if not paths:
            return
        event.acceptProposedAction()
        self._on_content_dropped(paths)

    def offer_recipe(self, path: str) -> bool:
        """If ``path`` is an Impasto image, ask whether to restore its settings. True when they
        were restored (or the question was answered and the drop is handled)."""
        try:
            recipe = images.read_recipe(path)
        except ImpastoError:
            return False  # not readable: the caller reports it when it tries to load the image
        if recipe is None:
            return False
        answer = QMessageBox.question(
            self, "Restore settings?",
            f"{Path(path).name} was made with Impasto.\n\nRestore the settings it was made with?\n"
            "(No: use it as an image instead.)",
        )
        if answer != QMessageBox.Yes:
            return False
        if self.restore_recipe(recipe, Path(path).name):
            self.restored_result = path
        return True

    def restore_recipe(self, recipe: dict, source: str) -> bool:
        try:
            settings = TransferSettings.from_dict(recipe, strict=False).validate(need_images=False)
        except (ImpastoError, TypeError, ValueError) as exc:
            self._warn("Cannot restore settings", f"The recipe in {source} is not usable: {exc}")
            return False
        self.apply_settings(settings)
        self.show_status(f"Settings restored from {source}{_run_remark(recipe.get(RUN_KEY))}", 0)
        return True

    # --- dialogs --------------------------------------------------------------------------
    def _folder(self, kind: str) -> str:
        return self.state.last_folder(kind) or self.state.last_folder("content") or str(Path.home())

    def open_content_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open content photo", self._folder("content"), OPEN_FILTER)
        if path:
            self.load_content(path)

    def add_styles_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add style images", self._folder("style"), OPEN_FILTER)
        if paths:
            self.add_styles(paths)

    def restore_from_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Restore settings from an Impasto image", self._folder("save"), OPEN_FILTER
        )
        if not path:
            return
        try:
            recipe = images.read_recipe(path)
        except ImpastoError as exc:
            self._warn("Cannot restore settings", str(exc))
            return
        if recipe is None:
            self._warn("Cannot restore settings", f"{Path(path).name} holds no Impasto settings.")
            return
        if self.restore_recipe(recipe, Path(path).name):
            self.restored_result = path

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = self.state.recent_files()
        for role, title in (("content", "Content"), ("style", "Style")):
            entries = [path for kind, path in recent if kind == role]
            if entries:
                menu.addSection(title)
            for path, label in zip(entries, recent_labels(entries)):
                action = menu.addAction(label)
                action.setToolTip(path)
                action.setStatusTip(path)
                action.triggered.connect(lambda checked=False, r=role, p=path: self.open_recent(r, p))
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
            return
        menu.addSeparator()
        menu.addAction("Clear Recent", self.state.clear_recent)

    def open_recent(self, role: str, path: str) -> None:
        if role == "content":
            self.load_content(path)
        else:
            self.add_styles([path])

    # ================================================================== running
    @property
    def busy(self) -> bool:
        return self.host.busy

    def start_current_tab(self) -> bool:
        """Start (Ctrl+Return) what the visible tab runs: a stylize run, the batch, the explorer."""
        panel = self.tabs.currentWidget()
        if panel is self.stylize_tab:
            return self.start()
        start = getattr(panel, "start", None) or getattr(panel, "run", None)
        return bool(start()) if start else False

    def stop_current_tab(self) -> None:
        """Stop (Esc) the visible tab's job only."""
        panel = self.tabs.currentWidget()
        if panel is self.stylize_tab:
            self.stop()
            return
        stop = getattr(panel, "cancel", None) or getattr(panel, "stop", None)
        if stop:
            stop()

    def may_discard(self, action: str) -> bool:
        """True when nothing would be lost, or the user agreed to lose it (Cancel keeps it)."""
        lost = []
        if self.host.busy:
            lost.append("the running stylize job")
        elif self.unsaved:
            lost.append("the unsaved result")
        if action == "quit":
            lost += [f"the running {title} job" for title, panel in self._tab_panels() if getattr(panel, "busy", False)]
        if not lost:
            return True
        answer = QMessageBox.question(
            self, "Discard work?", f"{action.capitalize()} discards {' and '.join(lost)}.\n\n"
            "Cancel keeps it (Save As keeps a result).",
            QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Cancel,
        )
        return answer != QMessageBox.Cancel

    def _tab_panels(self):
        return [(self.tabs.tabText(self.tabs.indexOf(panel)).lower(), panel) for panel in self.panels]

    def start(self, draft: bool = False) -> bool:
        """Start a run of the session's settings; ``draft``: a small, fast one (draft_settings)."""
        if self.host.busy:
            return False
        if not self.may_discard("starting a new run"):
            return False
        settings = self._run_settings()
        if settings is None:
            return False
        self.state.save_settings(settings)
        if draft:
            settings = draft_settings(settings)
        self._drafting = draft
        self._launch(stylize_job(settings), settings)
        return True

    def _run_settings(self) -> TransferSettings | None:
        """The session's settings for a new run (a seed picked, the film strip's snapshot
        interval), or None after saying why they cannot run."""
        settings = self.session.settings().replace(snapshot_every=self.film_strip.snapshot_every())
        if settings.seed is None:  # "Random": pick one now so the recipe can reproduce the run
            settings = settings.replace(seed=random.randrange(2**31))
        try:
            settings.validate()
            masks.check(settings.style_masks, len(settings.styles))
        except ImpastoError as exc:
            self.show_status(f"Cannot start: {exc}")
            return None
        return settings

    def _launch(self, job, settings: TransferSettings) -> None:
        self._speed_mark = None
        self.outcome = None
        self.unsaved = False
        self.restored_result = None
        self._last_frame = None
        self.film_strip.start(settings.snapshot_memory_mb)
        self._save_path = None
        self.show_folder_action.setEnabled(False)
        self.show_folder_link.setVisible(False)
        self.preview.view.clear()
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat("Loading…")
        self.loss_label.setText(" ")
        self.host.submit(job)
        self._set_running(True)
        self.show_status("Loading images and the network…", 0)

    def stop(self) -> None:
        if self.host.busy:
            self.host.stop()
            self.show_status("Stopping after this iteration…", 0)

    def _steer(self) -> None:
        """Hand the new weights to the running optimisation (it picks them up next iteration)."""
        if not self.host.busy:
            return
        settings = self.session.settings()
        try:
            settings.validate(need_images=False)
        except SettingsError as exc:
            self.show_status(f"Not applied to the running job: {exc}")
            return
        self.host.steer(settings)
        self.show_status("New weights applied to the running optimisation")

    def _connect_workers(self) -> None:
        self.host.progress.connect(self._on_progress)
        self.host.preview.connect(self._on_preview)
        self.host.partial.connect(self._on_partial)
        self.host.finished.connect(self._on_finished)
        self.host.failed.connect(self._on_failed)
        self.io_host.finished.connect(self._on_saved)
        self.io_host.failed.connect(lambda error: self._warn("Could not save", describe(error)))

    def _on_progress(self, progress: Progress) -> None:
        if progress.note:  # once per run: only its first report carries it
            self.show_status(progress.note, 0)
        if progress.phase == "loading":
            return
        # by work done, not iterations: a scale costs as much as its pixels, and may end early
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setValue(round(progress.fraction * PROGRESS_STEPS))
        if progress.phase == "preparing":
            self.progress_bar.setFormat(f"Preparing scale {progress.scale + 1}/{progress.scales}…")
            return
        self.progress_bar.setFormat(f"%p%  ·  {time_left(progress.eta)}")
        if self._speed_mark is None and progress.scale == progress.scales - 1:
            self._speed_mark = progress
        self.loss_label.setText(loss_text(progress))

    def _on_preview(self, frame, progress: Progress) -> None:
        self._last_frame = (frame, frame_text(progress))
        if self.film_strip.current() is None:  # a snapshot the user picked stays in view
            self.preview.show_frame(frame, frame_text(progress))

    def _on_partial(self, payload) -> None:
        if isinstance(payload, ContentFrame):
            self.preview.show_content(payload.image)
            self.show_status(
                "Optimising… look edits (strength, brushwork, smoothness, layers, blends) steer the running job", 0
            )
        elif isinstance(payload, SnapshotFrame):
            self.film_strip.add(payload)

    def _on_finished(self, outcome) -> None:
        if isinstance(outcome, RunOutcome):
            self.outcome = outcome
            self.unsaved = not self._drafting  # a draft is a look to judge: replacing it asks nothing
        self._set_running(False)
        if not isinstance(outcome, RunOutcome):
            return
        result = outcome.result
        self._learn_speed(outcome)
        width, height = result.image.size
        self.film_strip.forget_choice()
        self.preview.show_frame(outcome.image, f"Result · {width}×{height} px · {result.iterations} iterations")
        self.progress_bar.setFormat("Stopped at %p%" if result.stopped else "Done")
        if not result.stopped:
            self.progress_bar.setValue(self.progress_bar.maximum())
        verb = "Stopped after" if result.stopped else "Done:"
        self.show_status(
            f"{verb} {result.iterations} iterations in {format_duration(result.seconds)} — Save As keeps it", 0
        )
        self.run_finished.emit(outcome)

    def _warm_up_for_adam(self, *_changed) -> None:
        """Once Adam is the optimiser, pay torch's one-off optimiser imports in the background, so
        that neither the launch (L-BFGS needs none of it) nor an Adam run stalls the window."""
        if not self.adam_warmed and self.session.settings().optimizer == "adam":
            self.adam_warmed = True
            self.io_host.submit(warm_up_job)

    def show_estimate(self) -> None:
        """The estimated time beside Start, for the current size, iterations and device."""
        text, tooltip = self.estimator.text(self.session.settings())
        self.estimate_label.setText(text)
        self.estimate_label.setToolTip(tooltip)

    def _learn_speed(self, outcome: RunOutcome) -> None:
        """Refine this device's measured speed with the run that just ended, from the last scale's
        iterations after its first: the first pass at each new size carries one-off costs (a first
        128 px run here took 17.7 s, the same run again 1.7 s; its last scale ran as fast both
        times). A run stopped before its last scale teaches nothing."""
        mark, result = self._speed_mark, outcome.result
        device = resolve(result.settings.device)
        if mark is None or device is None:
            return
        width, height = mark.size
        work = (result.iterations - mark.iteration) * width * height / 1e6
        if self.estimator.speeds.record(device.id, result.seconds - mark.elapsed, work):
            self.show_estimate()

    def _on_failed(self, error: BaseException) -> None:
        message = describe(error)
        self._set_running(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Failed")
        self.show_status(message, 0)
        size = error.suggested_size if isinstance(error, OutOfMemoryError) else None
        if size is None:
            QMessageBox.warning(self, "Stylizing failed", message)
            return
        answer = QMessageBox.question(
            self, "Out of memory", f"{message}\n\nSet the output size to {size} px?"
        )
        if answer == QMessageBox.Yes:
            self.session.limit_size(size)

    def _set_running(self, running: bool) -> None:
        has_result = self.outcome is not None
        self.save_action.setEnabled(has_result)
        self.save_as_action.setEnabled(has_result or self.film_strip.current() is not None)
        self.continue_action.setEnabled(not running)
        self.refine_action.setEnabled(not running)
        self._update_run_actions()

    def _update_run_actions(self) -> None:
        """Start and Stop enabled as the visible tab allows (the panels refuse while busy)."""
        on_stylize = self.tabs.currentWidget() is self.stylize_tab
        running = self.host.busy if on_stylize else getattr(self.tabs.currentWidget(), "busy", False)
        self.start_action.setEnabled(not running)
        self.draft_action.setEnabled(on_stylize and not self.host.busy)
        self.stop_action.setEnabled(running or not on_stylize)

    # ================================================================== snapshots and continuing
    def show_snapshot(self, frame: SnapshotFrame) -> None:
        """Show a snapshot from the film strip (before/after and 1:1 work on it as on any frame);
        Save As and Continue from here then act on it."""
        width, height = frame.snapshot.image.size
        caption = f"Snapshot · {width}×{height} px · iteration {frame.snapshot.iteration}"
        self.preview.show_frame(frame.image, caption)
        self.save_as_action.setEnabled(True)

    def show_live(self) -> None:
        """Back from a snapshot to the run: its newest frame, or its result."""
        self.film_strip.forget_choice()
        if self.outcome is not None and not self.busy:
            result = self.outcome.result
            self.preview.show_frame(self.outcome.image, f"Result · {result.image.width}×{result.image.height} px")
        elif self._last_frame is not None:
            self.preview.show_frame(*self._last_frame)
        self._set_running(self.busy)

    def _shown_result(self) -> RunOutcome | None:
        """What Save As writes: the snapshot shown, else the run's result."""
        frame = self.film_strip.current()
        if frame is not None:
            return RunOutcome(frame.job_result(), frame.image)
        return self.outcome

    def _continue_source(self, frame: SnapshotFrame | None):
        """(file to continue from, a result to write there first or None, size to go on to or
        None for its own), or None when there is nothing to continue. A snapshot goes on to the
        current output size (the rest of the run's schedule). A snapshot or an unsaved result is
        written to the app's folder of continued pictures, so the lineage names a file."""
        frame = frame or self.film_strip.current()
        if frame is not None:
            size = max(self.session.settings().size, *frame.snapshot.image.size)
            return self._parent_file(frame.settings, frame.snapshot.iteration), frame.job_result(), size
        if self.restored_result:
            return self.restored_result, None, None
        if self.outcome is not None:
            if self._save_path:
                return self._save_path, None, None
            result = self.outcome.job
            return self._parent_file(result.settings, result.result.iterations), result, None
        return None

    @staticmethod
    def _parent_file(settings: TransferSettings, iteration: int) -> str:
        stem = Path(settings.content).stem or "impasto"
        return str(config_dir() / "continued" / f"{stem}_{iteration}_{random.randrange(16**8):08x}.png")

    def continue_run(self, frame: SnapshotFrame | None = None, size: int | None = None) -> bool:
        """A new run from ``frame`` (a snapshot), the snapshot shown, the Impasto image restored
        from, or the last result, with the current settings, at ``size`` (default: its own)."""
        if self.host.busy:
            self.show_status("Stop the run first, then continue from the snapshot or result you pick")
            return False
        source = self._continue_source(frame)
        if source is None:
            self.show_status("Nothing to continue: run first, or drop an image Impasto made and restore its settings")
            return False
        settings = self._run_settings()
        if settings is None:
            return False
        path, unsaved, own_size = source
        self._drafting = False
        self._launch(continue_job(settings, path, size or own_size, unsaved), settings)
        return True

    def refine(self, size: int | None = None) -> bool:
        """Continue at a larger size, asked for unless given."""
        if size is None:
            size, accepted = QInputDialog.getInt(
                self, "Refine to… px", "Long side of the refined picture, in pixels:",
                max(self.session.settings().size * 2, 32), 16, 16384, 64,
            )
            if not accepted:
                return False
        return self.continue_run(size=size)

    # ================================================================== saving
    def save(self) -> None:
        if self._save_path and self.film_strip.current() is None:
            self.save_to(self._save_path)
        else:
            self.save_as()

    def save_as(self) -> None:
        shown = self._shown_result()
        if shown is None:
            self.show_status("Nothing to save yet: start a run first")
            return
        suffix = self.state.save_suffix()
        settings = shown.result.settings
        stem = Path(settings.content).stem or "impasto"
        if settings.styles:
            stem += f"-{Path(settings.styles[0]).stem}"
        folder = self.state.last_folder("save") or str(Path(settings.content).parent)
        chosen = next(name for name, s in SAVE_FILTERS.items() if s == suffix)
        path, selected = QFileDialog.getSaveFileName(
            self, "Save As", os.path.join(folder, stem + suffix), ";;".join(SAVE_FILTERS), chosen
        )
        if not path:
            return
        if Path(path).suffix.lower() not in images.SUPPORTED_SUFFIXES:
            path += SAVE_FILTERS.get(selected, ".png")
        self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Write the last result, or the snapshot shown, to ``path`` in the worker (atomic,
        recipe embedded)."""
        shown = self._shown_result()
        if shown is None:
            self.show_status("Nothing to save yet: start a run first")
            return False
        quality = self.session.quality
        try:
            jobs.guard_output(shown.job.settings, path, quality)  # the job layer's one rule
        except ImpastoError as exc:
            self._warn("Cannot save", str(exc))
            return False
        self._saving_result = shown is self.outcome
        self.io_host.submit(save_job(shown, path, quality))
        self.show_status(f"Saving {Path(path).name}…")
        return True

    def _on_saved(self, saved) -> None:
        if not isinstance(saved, SavedFile):
            return
        path = str(saved.path)
        if self._saving_result:  # Save writes the result here again; a snapshot saved is a file apart
            self._save_path = path
        self.unsaved = self.unsaved and (self.outcome is None or self.outcome.job.saved != saved.path)
        self.state.set_last_folder("save", path)
        self.state.set_save_suffix(".jpg" if saved.path.suffix.lower() == ".jpeg" else
                                   ".tif" if saved.path.suffix.lower() == ".tiff" else saved.path.suffix.lower())
        self.show_status(f"Saved {path}")
        self.show_folder_action.setEnabled(True)
        self.show_folder_link.setVisible(True)
        self.saved.emit(path)

    # ================================================================== messages
    def show_status(self, message: str, timeout_ms: int = STATUS_MS) -> None:
        """Info for the user about the Stylize tab; 0 keeps it until the next message. The other
        tabs have their own status lines, so this one shows only while Stylize is visible."""
        self._stylize_status = message if timeout_ms == 0 else ""
        if not hasattr(self, "tabs") or self.tabs.currentWidget() is self.stylize_tab:
            self.statusBar().showMessage(message, timeout_ms)

    def _on_tab_changed(self) -> None:
        on_stylize = self.tabs.currentWidget() is self.stylize_tab
        if on_stylize and self._stylize_status:
            self.statusBar().showMessage(self._stylize_status)
        elif not on_stylize:
            self.statusBar().clearMessage()
        self.show_folder_link.setVisible(on_stylize and bool(self._save_path))

    def _warn(self, title: str, message: str) -> None:
        self.show_status(message.splitlines()[0])
        QMessageBox.warning(self, title, message)

    # ================================================================== state
    def _restore(self) -> None:
        geometry = self.state.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1320, 860)
        fit_to_screen(self)
        window_state = self.state.window_state()
        if window_state is not None:
            self.restoreState(window_state)
        splitter = self.state.splitter_state()
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.session.set_quality(self.state.quality())
        self.apply_settings(self.state.settings())
        for problem in self.state.problems:
            self.show_status(problem)

    def remember(self) -> None:
        self.state.save_window(self.saveGeometry(), self.saveState(), self.splitter.saveState())
        self.state.save_settings(self.session.settings())
        self.state.set_quality(self.session.quality)
        self.state.sync()

    def closeEvent(self, event):
        if not self.may_discard("quit"):
            event.ignore()  # Cancel: the window, its run and its result stay
            return
        self.remember()
        if self.mask_painter is not None:
            self.mask_painter.close()
        results = [self.host.shutdown(), self.io_host.shutdown()]
        for panel in self.panels:
            result = panel.shutdown()
            results.append(result if isinstance(result, bool) else True)
        self.shutdown_clean = all(results)
        event.accept()


def _run_remark(run) -> str:
    """What a recipe's run record (RUN_KEY) adds to "Settings restored": that it was stopped."""
    if not isinstance(run, dict) or not run.get("stopped"):
        return ""
    return (f" — that picture was stopped after {run.get('iterations', '?')} of {run.get('planned', '?')} "
            "iterations; Final runs them all")
