"""Batch: stylize whole folders with one Stylizer, a crash-safe manifest and resumable runs.

``plan_batch`` scans the inputs and names every output; ``run_batch`` locks the output folder,
plans, and runs one ``engine.jobs`` job per item. The manifest (``impasto-batch.json`` in the
output folder, rewritten atomically) holds the settings and each item's state, so running the
same batch again skips what is done with the same settings and redoes what changed. No Qt here.

The concepts live in their own modules: ``items`` (items, states, progress, summary, errors),
``names`` (options and name templates), ``scan`` (finding inputs), ``manifest``, ``plan`` and
``runner`` (the sequence of jobs with pause, stop and its clock).
"""

from engine.batch.items import (
    DONE, FAILED, RUNNING, SKIPPED, STATES, WAITING, BatchError, BatchItem, BatchProgress, BatchStopped,
    BatchSummary,
)
from engine.batch.manifest import MANIFEST_NAME, read_manifest, settings_hash
from engine.batch.names import (
    DEFAULT_EXTENSION, DEFAULT_TEMPLATE, EXTENSIONS, TEMPLATE_FIELDS, BatchOptions, check_template,
    output_extension, render_name, style_label,
)
from engine.batch.plan import BatchPlan, plan_batch
from engine.batch.runner import LOCK_NAME, PauseGate, run_batch
from engine.batch.refine import REFINE_TEMPLATE, plan_refine, run_refine
from engine.batch.scan import scan_inputs

__all__ = [
    "DONE", "FAILED", "RUNNING", "SKIPPED", "STATES", "WAITING", "BatchError", "BatchItem", "BatchOptions",
    "BatchPlan", "BatchProgress", "BatchStopped", "BatchSummary", "DEFAULT_EXTENSION", "DEFAULT_TEMPLATE",
    "EXTENSIONS", "LOCK_NAME", "MANIFEST_NAME", "PauseGate", "STATES", "TEMPLATE_FIELDS", "check_template",
    "output_extension", "plan_batch", "plan_refine", "read_manifest", "render_name", "run_batch", "run_refine",
    "REFINE_TEMPLATE", "scan_inputs",
    "settings_hash", "style_label",
]
