"""Refine a folder of earlier results to a new size: each one continued from its own recipe
(engine.continuation), with the same manifest, skipping and resuming as any batch.

What a refine batch "ran with", for the manifest and its skip test, is the request: the new size
and the options given on top of every recipe (``overrides``). A result is skipped when it was
refined before with the same request and has not changed since (its size and mtime, as for any
batch input). Results without a recipe, or whose recipe names inputs that are gone, fail with
that line and the batch goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from engine import continuation
from engine.batch.items import FAILED, BatchItem, path_key
from engine.batch.manifest import Manifest, now, settings_hash
from engine.batch.names import BatchOptions
from engine.batch.plan import BatchPlan, _assign_outputs, _initial_state, _named_items, output_folder
from engine.batch.runner import PauseGate, _Runner, run_in_folder
from engine.batch.scan import scan_inputs
from engine.errors import ImpastoError
from engine.jobs import Job
from engine.settings import TransferSettings

REFINE_TEMPLATE = "{stem}.{ext}"


@dataclass
class RefinePlan(BatchPlan):
    parents: dict = field(default_factory=dict)  # item index -> (continuation.Parent, its run's settings)


def refine_request(size: int, overrides: dict) -> TransferSettings:
    """The settings the manifest records for a refine batch: the size and the overrides."""
    return TransferSettings(size=size, start_size=size).replace(**overrides).validate(need_images=False)


def plan_refine(inputs: Iterable, size: int, overrides: dict, options: BatchOptions) -> RefinePlan:
    """Scan ``inputs`` for results, read each one's recipe and name its output; writes nothing."""
    inputs = list(inputs)
    request = refine_request(size, overrides)
    options.validate()
    out = output_folder(inputs, options)
    found, problems = scan_inputs(inputs, out, options.recursive)
    manifest = Manifest.load(out)
    created = manifest.created or now()
    digest = settings_hash(request, options.quality)
    items, parents = [], {}
    input_keys = {path_key(source) for source, _ in found}
    for index, (source, folder) in enumerate(found, 1):
        try:
            parent = continuation.read_parent(source)
            settings = continuation.continued(parent, parent.settings.replace(**overrides), size)
            continuation.check_inputs(parent, settings)
        except ImpastoError as exc:
            items.append(BatchItem(index=index, source=str(source), state=FAILED, reason=str(exc), error=exc))
            continue
        # named as a stylize batch names it, {style} from the result's own recipe
        items += _named_items([(source, folder)], settings, options, created[:10])
        items[-1].index = index
        parents[index] = (parent, settings)
        input_keys.update(path_key(path) for path in settings.input_paths())  # no output over a photo or style
    _assign_outputs(items, manifest, out, input_keys)
    for item in items:
        _initial_state(item, manifest, digest, parents[item.index][1] if item.index in parents else request)
    for path, reason in problems:
        items.append(BatchItem(index=len(items) + 1, source=path, state=FAILED, reason=reason))
    return RefinePlan(request, options, items, digest, created, manifest, parents=parents)


class _RefineRunner(_Runner):
    shares_stylizer = False  # each result has its own styles and settings

    def _job(self, item: BatchItem) -> Job:
        parent, settings = self.plan.parents[item.index]
        return Job(settings, item.output, self.plan.options.quality, lineage=parent.lineage())


def run_refine(
    inputs: Iterable,
    size: int,
    overrides: dict,
    options: BatchOptions,
    on_plan: Callable | None = None,
    on_item: Callable | None = None,
    on_progress: Callable | None = None,
    should_stop: Callable[[], bool] | None = None,
    pause: PauseGate | None = None,
):
    """Refine every result found in ``inputs`` to ``size``, as ``run_batch`` runs a batch."""
    inputs = list(inputs)
    out = output_folder(inputs, options.validate())
    return run_in_folder(
        out, lambda: plan_refine(inputs, size, overrides, options), on_plan,
        lambda plan: _RefineRunner(plan, on_item, on_progress, should_stop, pause, None).run(),
    )


__all__ = ["REFINE_TEMPLATE", "RefinePlan", "plan_refine", "refine_request", "run_refine"]
