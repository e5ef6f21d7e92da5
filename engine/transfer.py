"""The optimisation loop of Gatys et al.: the pixels of the output are optimised directly.

J(G) = content_weight * J_content + style_weight * sum_l w_l * J_style^l + tv_weight * TV(G),
reached coarse to fine (steps of sqrt(2)), each scale starting from the last one's result.
``run`` serves the GUI worker, the command line and the batch queue alike: it calls back
between iterations and checks a stop flag, and nothing else in Impasto optimises pixels.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from PIL import Image

from engine import color, devices, heap, images, losses, masks, timing
from engine.errors import OutOfMemoryError
from engine.lbfgs import LBFGS
from engine.settings import MIN_SIZE, STEERABLE_FIELDS, TransferSettings
from engine.snapshots import Snapshot, SnapshotKeeper, is_due
from engine.vgg import VGGFeatures
from engine.weights import load_weights

LBFGS_HISTORY = devices.LBFGS_HISTORY
# L-BFGS keeps the pixels in 0..1 through a smooth penalty in the loss it minimises, not a clamp
# after each step: its curvature pairs then describe the function it steps on. Measured (256 px,
# one scale from the photo, 40 iterations, bf16, objective after the final clamp, tubingen x The
# Starry Night / x The Scream): clamp after each step 28.49 / 0.867 (The Starry Night's loss
# jumped 30- to 100-fold every few iterations and never settled); no box within a scale 0.831 /
# 1.442 (saturated paintings push pixels far past the box, and the final clamp undoes the fit);
# penalty 10: 0.797 / 1.364; penalty 1000 (BOX_WEIGHT) 0.713 / 0.727. Adam keeps the clamp: a
# projection after a first-order step is sound. Earlier variants (an active set, telling L-BFGS
# the clamped step) are measured in commit 6ae70c0's comment here.
BOX_WEIGHT = 1000.0
# IMPASTO_LBFGS=torch: torch.optim.LBFGS, as Impasto 0.1 stepped, for benchmarks (bench_speed.py "old")
TORCH_LBFGS = os.environ.get("IMPASTO_LBFGS") == "torch"
# IMPASTO_BOX=clamp: Impasto 0.1's box, a clamp after each L-BFGS step and no penalty, for benchmarks
# (bench_speed.py "old-0.1")
CLAMP_BOX = os.environ.get("IMPASTO_BOX") == "clamp"
MASK_CACHE = 8  # decoded masks a Stylizer keeps
PLATEAU_WINDOW = 10  # iterations over which the plateau test measures the loss's fall
# eager evaluations at each scale before its CUDA graph is captured (devices.use_cuda_graphs):
# lazy initialisation (cuBLAS and cuDNN handles, autograd's device thread) must happen outside
# a capture, and PyTorch's guide warms up on a side stream, as the eager ones here run
GRAPH_WARMUP = 2


@dataclass
class Progress:
    phase: str  # "loading", "preparing", "optimising"
    iteration: int = 0  # done so far, across all scales
    total: int = 0
    scale: int = 0  # index of the current scale
    scales: int = 1
    size: tuple[int, int] = (0, 0)  # (width, height) of the current scale
    content_loss: float = 0.0
    style_loss: float = 0.0
    tv_loss: float = 0.0
    loss: float = 0.0
    elapsed: float = 0.0
    eta: float | None = None  # seconds left, once it can be estimated
    fraction: float = 0.0  # of the run's estimated work done (scales ended early count as done)
    preview: Image.Image | None = None  # only every preview_interval_ms
    note: str = ""  # a remark for the user (a style image used smaller than asked), on a run's first report
    snapshot: Snapshot | None = None  # taken at this iteration (settings.snapshot_every)


@dataclass
class TransferResult:
    image: Image.Image
    stopped: bool
    iterations: int
    seconds: float
    settings: TransferSettings  # what ran: the settings it started with, the weights in force at the end
    losses: dict = field(default_factory=dict)
    steering: list[dict] = field(default_factory=list)  # [{"iteration": n, "changes": {field: value}}]
    snapshots: list[Snapshot] = field(default_factory=list)  # those kept under snapshot_memory_mb

    def recipe(self) -> dict:
        """What to save with the image: its settings, how the run was steered and what it did."""
        return self.settings.recipe(self.steering, self.run_record())

    def run_record(self) -> dict:
        """What actually ran: iterations done (of the most the settings allow) and whether it was
        stopped, so a recipe of a stopped run says so (RUN_KEY)."""
        return {"iterations": self.iterations, "planned": self.settings.total_iterations(), "stopped": self.stopped}


class Steering:
    """Hands new weights from any thread to a running optimisation (read between iterations)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: TransferSettings | None = None

    def update(self, settings: TransferSettings) -> None:
        with self._lock:
            self._pending = settings

    def take(self) -> TransferSettings | None:
        with self._lock:
            pending, self._pending = self._pending, None
            return pending


StepCallback = Callable[[Progress], None]
StopCheck = Callable[[], bool]


def scale_work(settings: TransferSettings, size: tuple[int, int]) -> list[int]:
    """The most work each scale of a run on an image of ``size`` takes, in pixels x iterations
    (what an iteration costs grows with its pixels): what progress fractions and ETAs count."""
    dims = [images.fit_size(*size, side) for side in settings.scale_sizes()]
    return [w * h * n for (w, h), n in zip(dims, settings.scale_iterations())]


class _Stopped(Exception):
    pass


class Stylizer:
    """Holds the network and the style images, so a batch prepares them once for many contents."""

    def __init__(self, settings: TransferSettings, styles: list[Image.Image] | None = None):
        self.settings = settings.validate(need_images=False)
        self.device = devices.resolve_device(settings.device)
        devices.configure(self.device)
        self.compute_dtype = devices.autocast_dtype(self.device, settings.precision)
        self.winograd = devices.use_winograd(self.device, self.compute_dtype)
        self.channels_last = devices.use_channels_last(self.device) and not self.winograd
        weights = load_weights(settings.weights)
        # the frozen network is cast once, not by autocast on every forward pass
        self.model = VGGFeatures(weights, "pool5", settings.pooling, self.compute_dtype, self.winograd).to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.style_images = styles if styles is not None else [images.load_image(p) for p in settings.styles]
        self._gram_cache: dict = {}
        self._masks: dict[str, Image.Image] = {}  # decoded masks by their spec (file or data URI)

    # --- features ----------------------------------------------------------------------
    def features(self, image: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        if image.shape[1] == 1:  # luminance-only transfer feeds grey images
            image = image.expand(-1, 3, -1, -1)
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return self.model(image, layers)

    def _style_side(self, index: int, long_side: int) -> int:
        """The style image's long side at a scale whose output is ``long_side``: style_scale of
        it, but never more than the image's own size (enlarging would blur its strokes)."""
        wanted = max(16, round(long_side * self.settings.style_scale))
        return min(wanted, max(self.style_images[index].size))

    def size_note(self, long_side: int) -> str:
        """One line naming the style images used smaller than asked at ``long_side``, or ""."""
        wanted = max(16, round(long_side * self.settings.style_scale))
        notes = []
        for index, image in enumerate(self.style_images):
            native = self._style_side(index, long_side)
            if native < wanted:
                paths = self.settings.styles
                name = Path(paths[index]).name if index < len(paths) and paths[index] else f"style image {index + 1}"
                notes.append(f"{name} is only {native} px, so it is used at that size, not enlarged to {wanted} px "
                             "(which would blur its strokes)")
        return "; ".join(notes)

    def _style_tensor(self, index: int, long_side: int, content: torch.Tensor) -> torch.Tensor:
        size = self._style_side(index, long_side)
        style = images.pil_to_tensor(images.resize_long_side(self.style_images[index], size)).to(self.device)
        mode = self.settings.preserve_colors
        if mode == "match":
            style = color.match_colors(style, content)
        elif mode == "luminance":
            style = color.match_luminance(color.luminance(style), color.luminance(content))
        return style

    def style_grams(self, long_side: int, layers, content: torch.Tensor, run_cache: dict) -> list[dict]:
        """Gram matrices of each style image at this scale. They are shared by every content
        image of a batch, unless the colour mode adapts the style to each content: then they
        live in the run's own ``run_cache``."""
        cache = self._gram_cache if self.settings.preserve_colors == "none" else run_cache
        cached = cache.setdefault(long_side, [{} for _ in self.style_images])
        for index, grams in enumerate(cached):
            missing = [name for name in layers if name not in grams]
            if missing:
                with torch.no_grad():
                    feats = self.features(self._style_tensor(index, long_side, content), missing)
                    grams.update({name: losses.gram_matrix(feats[name]).detach() for name in missing})
        return cached

    def mask(self, spec: str, index: int) -> Image.Image:
        """The mask ``spec`` names, decoded once for every scale; the oldest of the
        masks a run is steered through (a new one with every painted stroke) are let go."""
        if spec not in self._masks:
            if len(self._masks) >= MASK_CACHE:
                del self._masks[next(iter(self._masks))]
            self._masks[spec] = masks.decode(spec, masks.label(index))
        return self._masks[spec]

    # --- the run ------------------------------------------------------------------------
    def stylize(
        self,
        content: Image.Image,
        on_step: StepCallback | None = None,
        should_stop: StopCheck | None = None,
        steering: Steering | None = None,
        init_image: Image.Image | None = None,
    ) -> TransferResult:
        try:
            return _Run(self, content, on_step, should_stop, steering, init_image).execute()
        finally:
            heap.release()  # the run's activations, kept for reuse while it ran (engine/heap.py)


class _Run:
    """One content image through every scale of the schedule."""

    def __init__(self, stylizer, content, on_step, should_stop, steering, init_image):
        self.stylizer = stylizer
        self.settings = stylizer.settings
        self.steered_settings = self.settings  # the settings in force: the start, plus the weights steered since
        self.content = content
        self.on_step = on_step or (lambda progress: None)
        self.should_stop = should_stop or (lambda: False)
        self.steering = steering
        self.init_image = init_image
        self.sizes = self.settings.scale_sizes()
        self.counts = self.settings.scale_iterations()
        self.dims = [images.fit_size(*content.size, side) for side in self.sizes]
        self.note = stylizer.size_note(self.sizes[-1]) if self.settings.active_style_layers() else ""
        self.work = scale_work(self.settings, content.size)
        self.done_iterations = 0
        self.done_work = 0
        self.skipped_work = 0  # of scales a plateau ended early
        self.started = time.perf_counter()
        self.last_preview = 0.0
        self.last_losses: dict = {}
        self.steering_log: list[dict] = []
        self.gram_cache: dict = {}  # style targets adapted to this content (colour modes)
        self.snapshots = SnapshotKeeper(self.settings.snapshot_memory_mb)
        self.graphs = devices.use_cuda_graphs(stylizer.device)
        self.graph: _GraphedObjective | None = None
        self.warmup_stream = torch.cuda.Stream() if self.graphs else None  # the eager evaluations before a capture
        self.eager_evaluations = 0  # since the scale began or its objective changed

    def execute(self) -> TransferResult:
        device = self.stylizer.device
        width, height = self.dims[-1]
        devices.check_fits(device, height, width, self.sizes[-1], self.stylizer.winograd)
        image = None
        stopped = False
        for scale, (side, (w, h)) in enumerate(zip(self.sizes, self.dims)):
            try:
                image = self._scale(scale, side, w, h, image)
            except _Stopped as stop:
                image, stopped = stop.args[0], True
            except (RuntimeError, MemoryError) as exc:
                if not devices.is_out_of_memory(exc):
                    raise
                devices.empty_cache(device)
                raise self._out_of_memory(device, scale, side) from None
            if stopped:
                break
        if image is None:  # stopped before the first iteration
            image = images.pil_to_tensor(self.content.resize(self.dims[0], Image.LANCZOS)).to(device)
        return TransferResult(
            image=self._to_pil(image),
            stopped=stopped,
            iterations=self.done_iterations,
            seconds=time.perf_counter() - self.started,
            settings=self.steered_settings,
            losses=self.last_losses,
            steering=self.steering_log,
            snapshots=list(self.snapshots.snapshots),
        )

    def _out_of_memory(self, device, scale: int, side: int) -> OutOfMemoryError:
        """The error to show, naming a size that should fit: the last scale that did, or half this
        one; never one at or above the size that just failed."""
        smaller = self.sizes[scale - 1] if scale else max(MIN_SIZE, side // 2)
        if smaller >= side:
            return OutOfMemoryError(f"Ran out of {device.type.upper()} memory at {side} px; try another device.")
        return OutOfMemoryError(
            f"Ran out of {device.type.upper()} memory at {side} px; try {smaller} px or another device.",
            suggested_size=smaller,
        )

    # --- one scale -----------------------------------------------------------------------
    def _scale(self, scale: int, side: int, w: int, h: int, previous: torch.Tensor | None) -> torch.Tensor:
        device = self.stylizer.device
        self._report("preparing", scale, w, h)
        content_rgb = images.pil_to_tensor(self.content.resize((w, h), Image.LANCZOS)).to(device)
        self.content_rgb = content_rgb
        luminance_only = self.settings.preserve_colors == "luminance"
        self.content_input = color.luminance(content_rgb) if luminance_only else content_rgb
        x = self._initial(previous, w, h).requires_grad_(True)
        self._prepare_targets(side)
        count, history = self.counts[scale], []
        optimizer = self._optimizer(x, count)
        for done in range(1, count + 1):
            if self.should_stop():
                raise _Stopped(x.detach())
            new_weights = self.steering.take() if self.steering else None
            steered = self._steered(new_weights) if new_weights is not None else self.steered_settings
            if steered != self.steered_settings:
                self.steered_settings = steered
                self._prepare_targets(side)
                optimizer = self._optimizer(x, count - done + 1)  # the old history belongs to the old objective
                self._drop_graph()  # it holds the old targets and weights
                history = []
            self._step(x, optimizer)
            self.done_iterations += 1
            self.done_work += w * h
            history.append(self.last_losses["loss"])
            ended = done == count or self._plateaued(history)
            if ended:
                self.skipped_work += (count - done) * w * h
            self._report("optimising", scale, w, h, x, last_of_scale=ended)
            if ended:
                break
        self._drop_graph()  # its pool holds this scale's activations
        return x.detach()

    def _step(self, x: torch.Tensor, optimizer) -> None:
        """One optimiser step; Adam's is projected onto the displayable box 0..1 (L-BFGS has the
        box in its loss: BOX_WEIGHT)."""
        optimizer.step(lambda: self._closure(x, optimizer))
        if CLAMP_BOX or isinstance(optimizer, torch.optim.Adam):
            with torch.no_grad():
                x.clamp_(0, 1)

    def _plateaued(self, history: list[float]) -> bool:
        """The loss fell less than ``plateau`` (a fraction) per iteration over the last window."""
        tolerance = self.settings.plateau
        if not tolerance or len(history) <= PLATEAU_WINDOW:
            return False
        before, now = history[-1 - PLATEAU_WINDOW], history[-1]
        # a loss that rose over the window is L-BFGS recovering from a bad step, not a plateau
        return 0 <= before - now < tolerance * PLATEAU_WINDOW * abs(now)

    def _steered(self, new: TransferSettings) -> TransferSettings:
        """The run's settings with the new weights, layers and blend (STEERABLE_FIELDS) and
        nothing else of ``new``: size, scale, colour mode... stay what the run started with. A
        blend or masks for another set of styles are ignored. Each change goes into the steering log
        (masks by a short summary: a painted mask changes with every stroke)."""
        changes = {name: getattr(new, name) for name in STEERABLE_FIELDS}
        if len(new.style_blend) != len(self.stylizer.style_images):
            changes["style_blend"] = self.steered_settings.style_blend
        if new.style_masks and len(new.style_masks) != len(self.stylizer.style_images):
            changes["style_masks"] = self.steered_settings.style_masks
        steered = self.steered_settings.replace(**changes).validate(need_images=False)
        changed = {name: getattr(steered, name) for name in STEERABLE_FIELDS
                   if getattr(steered, name) != getattr(self.steered_settings, name)}
        if "style_masks" in changed:
            changed["style_masks"] = masks.summary(changed["style_masks"])
        if changed:
            self.steering_log.append({"iteration": self.done_iterations, "changes": changed})
        return steered

    def _initial(self, previous, w, h) -> torch.Tensor:
        channels = self.content_input.shape[1]
        if previous is not None:  # bicubic overshoots at sharp edges: clamp to displayable pixels
            return F.interpolate(previous, size=(h, w), mode="bicubic", align_corners=False).clamp_(0, 1)
        if self.settings.init == "noise":
            generator = torch.Generator().manual_seed(self.settings.seed or 0)
            return torch.rand((1, channels, h, w), generator=generator).to(self.stylizer.device)
        if self.settings.init == "image":
            source = self.init_image or images.load_image(self.settings.init_image)
            start = images.pil_to_tensor(source.resize((w, h), Image.LANCZOS)).to(self.stylizer.device)
            return color.luminance(start) if channels == 1 else start
        return self.content_input.clone()

    def _prepare_targets(self, side: int) -> None:
        weights = self.steered_settings
        self.content_layers = weights.content_layers_at(side)
        self.style_layers = weights.active_style_layers()
        with torch.no_grad():
            feats = self.stylizer.features(self.content_input, self.content_layers)
            self.content_targets = {name: f.detach().float() for name, f in feats.items()}
        self.style_targets = {}
        self.regions = None  # guided Grams per masked region, or None: every style everywhere
        if self.style_layers and self.stylizer.style_images:
            per_style = self.stylizer.style_grams(side, self.style_layers, self.content_rgb, self.gram_cache)
            blended = losses.blend_grams(per_style, weights.blend_weights(len(per_style)))
            self.style_targets = {name: blended[name] for name in self.style_layers}
            self.regions = self._regions(per_style, self.style_targets)
        self.needed_layers = set(self.content_layers) | set(self.style_targets)
        if not self.style_targets:
            self.style_layers = {}

    def _regions(self, per_style: list[dict], blended: dict) -> list | None:
        """(weight, mask by layer, style Grams by layer) for each style's region, plus the blend
        over what no mask covers when mask_uncovered is "blend"; None when no style has a mask.
        A region's weight is its style's share of the blend times the number of styles, so equal
        blends give every region the whole style weight, as one unmasked style has."""
        settings = self.steered_settings
        if not any(settings.style_masks):
            return None
        height, width = self.content_rgb.shape[-2:]
        names = list(self.style_layers)
        blends = settings.blend_weights(len(per_style))
        regions, coverage = [], []
        for index, (spec, grams, blend) in enumerate(zip(settings.style_masks, per_style, blends)):
            if spec:
                full = masks.mask_tensor(self.stylizer.mask(spec, index), width, height, self.stylizer.device)
            else:
                full = torch.ones((1, 1, height, width), device=self.stylizer.device)
            by_layer = masks.layer_masks(full, names)
            coverage.append(by_layer)
            if float(full.sum()) > 0 and blend > 0:
                regions.append((blend * len(per_style), by_layer, {name: grams[name] for name in names}))
        if settings.mask_uncovered == "blend":
            rest = masks.uncovered(coverage)
            if float(rest[names[0]].sum()) > 0:
                regions.append((1.0, rest, blended))
        return regions

    def _optimizer(self, x: torch.Tensor, steps: int):
        """Adam, or L-BFGS keeping no more pairs than the ``steps`` it will take can give."""
        if self.settings.optimizer == "adam":
            return torch.optim.Adam([x], lr=self.settings.learning_rate)
        if TORCH_LBFGS:
            return torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=LBFGS_HISTORY)
        return LBFGS(x, history=min(LBFGS_HISTORY, steps))

    def _closure(self, x: torch.Tensor, optimizer) -> torch.Tensor:
        """The objective at x, its gradient left in x.grad: replayed from the scale's CUDA graph
        once there is one, else evaluated eagerly."""
        if self.graphs and self.graph is None and self.eager_evaluations >= GRAPH_WARMUP:
            self.graph = _GraphedObjective.capture(lambda: self._evaluate(x), x)
            self.graphs = self.graph is not None  # a failed capture: eager for the rest of the run
        if self.graph is not None:
            figures = self.graph.replay()
        else:
            optimizer.zero_grad(set_to_none=True)
            with _on_side_stream(self.warmup_stream if self.graphs else None):
                figures = self._evaluate(x)
            self.eager_evaluations += 1
        values = figures.tolist()  # one wait for a GPU
        self.last_losses = dict(zip(("content", "style", "tv", "loss"), values[:4]))
        return figures[4]

    def _drop_graph(self) -> None:
        self.graph = None
        self.eager_evaluations = 0

    def _evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """Computes the objective's gradient into x.grad and returns content, style, tv, the
        objective and the minimised loss (the objective plus the box) as one float32 tensor."""
        feats = self.stylizer.features(x, self.needed_layers)
        zero = x.new_zeros(())
        content = losses.content_loss(feats, self.content_targets, self.content_layers) if self.content_layers else zero
        if not self.style_layers:
            style = zero
        elif self.regions is None:
            style = losses.style_loss(feats, self.style_targets, self.style_layers)
        else:
            style = losses.guided_style_loss(feats, self.regions, self.style_layers) if self.regions else zero
        tv = losses.total_variation(x)
        w = self.steered_settings
        loss = w.content_weight * content + w.style_weight * style + w.tv_weight * tv
        box = 0.0 if CLAMP_BOX else BOX_WEIGHT * losses.out_of_box(x)
        minimised = loss + box  # the objective, and the box (not reported)
        minimised.backward()
        return torch.stack([v.detach().float() for v in (content, style, tv, loss, minimised)])

    # --- reporting ---------------------------------------------------------------------
    def _report(self, phase: str, scale: int, w: int, h: int, x: torch.Tensor | None = None,
                last_of_scale: bool = False) -> None:
        now = time.perf_counter()
        elapsed = now - self.started
        total_work = sum(self.work) - self.skipped_work
        eta = timing.eta(elapsed, self.done_work, total_work - self.done_work)
        preview = snapshot = None
        due = (now - self.last_preview) * 1000 >= self.settings.preview_interval_ms
        if x is not None and is_due(self.settings.snapshot_every, self.done_iterations, last_of_scale):
            snapshot = Snapshot(self._to_pil(x.detach()), self.done_iterations, scale, last_of_scale)
            self.snapshots.add(snapshot)
        if x is not None and (due or last_of_scale):
            preview = snapshot.image if snapshot else self._to_pil(x.detach())
            self.last_preview = now
        note, self.note = self.note, ""  # told once, on the run's first report
        self.on_step(
            Progress(
                phase=phase,
                iteration=self.done_iterations,
                total=self.settings.total_iterations(),
                scale=scale,
                scales=len(self.sizes),
                size=(w, h),
                content_loss=self.last_losses.get("content", 0.0),
                style_loss=self.last_losses.get("style", 0.0),
                tv_loss=self.last_losses.get("tv", 0.0),
                loss=self.last_losses.get("loss", 0.0),
                elapsed=elapsed,
                eta=eta,
                fraction=self.done_work / total_work if total_work else 0.0,
                preview=preview,
                note=note,
                snapshot=snapshot,
            )
        )

    def _to_pil(self, x: torch.Tensor) -> Image.Image:
        if x.shape[1] == 1:
            content = self.content_rgb
            if content.shape[-2:] != x.shape[-2:]:
                content = F.interpolate(content, size=x.shape[-2:], mode="bilinear", align_corners=False)
            x = color.with_chroma(x, content)
        return images.tensor_to_pil(x.float().clamp(0, 1).cpu())


class _GraphedObjective:
    """One scale's objective and gradient, captured as a CUDA graph over the scale's pixels ``x``
    (updated in place by the optimiser), its targets and weights; each replay refills the figures
    and x.grad, the tensors the capture allocated."""

    def __init__(self, graph, figures: torch.Tensor):
        self.graph, self.figures = graph, figures

    @classmethod
    def capture(cls, evaluate: Callable[[], torch.Tensor], x: torch.Tensor) -> _GraphedObjective | None:
        x.grad = None  # the backward pass in the capture allocates the gradient replays refill
        torch.cuda.empty_cache()  # the warm-up's cached blocks, so that the graph's pool can have them
        try:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                figures = evaluate()
        except RuntimeError:  # out of memory too: the graph's pool may be what did not fit
            x.grad = None
            torch.cuda.empty_cache()
            return None
        return cls(graph, figures)

    def replay(self) -> torch.Tensor:
        self.graph.replay()
        return self.figures


@contextmanager
def _on_side_stream(stream: torch.cuda.Stream | None):
    """Runs the block on ``stream`` (None: where it is), ordered after and before the current one's work."""
    if stream is None:
        yield
        return
    main = torch.cuda.current_stream()
    stream.wait_stream(main)
    with torch.cuda.stream(stream):
        yield
    main.wait_stream(stream)


def run(
    settings: TransferSettings,
    on_step: StepCallback | None = None,
    should_stop: StopCheck | None = None,
    steering: Steering | None = None,
    content: Image.Image | None = None,
    styles: list[Image.Image] | None = None,
) -> TransferResult:
    """Stylize ``settings.content`` with ``settings.styles`` (or the images passed in)."""
    settings.validate(need_images=content is None)
    devices.resolve_device(settings.device)  # a missing GPU fails before any image is read
    report = on_step or (lambda progress: None)
    report(Progress(phase="loading", total=settings.total_iterations(), scales=len(settings.scale_sizes())))
    content_image = content if content is not None else images.load_image(settings.content)
    stylizer = Stylizer(settings, styles)
    if should_stop and should_stop():
        return TransferResult(content_image, True, 0, 0.0, settings)
    return stylizer.stylize(content_image, on_step, should_stop, steering)
