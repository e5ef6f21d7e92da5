"""Impasto's desktop window (PySide6). It never computes: all pixel work goes to
``gui.worker.WorkerHost`` jobs. Start it with ``gui.app.run_gui()``."""
