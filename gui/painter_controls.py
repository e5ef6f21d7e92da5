"""The look in a painter's words: Style strength, Stroke size, Detail ↔ Broad strokes, Smoothness.

Each control is a slider over one mapping of TransferSettings fields; the exact numbers stay in
the settings (a preset's 1.4 is not rounded to a slider step), and a slider writes only when it
is moved. The mappings:

* Style strength (%) -> style_weight / content_weight: 50 % is the default balance and every
  25 % is ten times more (or less) style. The photo's content distance grows by about the same
  amount per doubling of the style weight (bench/study_look.py), so equal steps look equal.
* Stroke size (%) -> style_scale: the painting is seen at that size of the output before its
  strokes are measured; 25 %..400 %, a log scale (each 50 slider steps doubles it).
* Detail ↔ Broad strokes -> style_layers: the style weights of the first layer of each depth
  (relu1_1 .. relu5_1) form a geometric series, each depth ``falloff`` times the one before
  (1/16 = fine detail .. 1 = all depths alike; the default 1/4 is crowsonkb's 256:64:16:4:1), and
  their sum is kept at the default's so the balance does not move. Weights that are no such
  series (a preset that drops depth 1, a table edit) show as "custom" at the falloff whose mean
  depth is the same.
* Smoothness -> tv_weight: 0 (off), then 0.02..20 on a log scale.
"""

from __future__ import annotations

import math

from engine.settings import DEFAULT_STYLE_LAYERS, DEFAULT_STYLE_WEIGHT

STRENGTH_DECADE = 25.0  # percent of Style strength per tenfold style weight
BASE_RATIO = DEFAULT_STYLE_WEIGHT  # style_weight / content_weight at 50 %

SERIES_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_FALLOFF = 0.25
FALLOFF_RANGE = 4.0  # the slider's ends: DEFAULT_FALLOFF / 4 .. * 4
SERIES_TOTAL = sum(DEFAULT_STYLE_LAYERS[name] for name in SERIES_LAYERS)

STROKE_STEPS_PER_DOUBLING = 50
TV_MIN, TV_MAX = 0.02, 20.0
SLIDER_STEPS = 100  # detail/broad and stroke size run -100..100, smoothness 0..100


# --- style strength --------------------------------------------------------------------
def strength_for_ratio(ratio: float) -> float:
    """Style strength in percent (0..100) for style_weight / content_weight."""
    if not math.isfinite(ratio):
        return 100.0
    if ratio <= 0:
        return 0.0
    return max(0.0, min(100.0, 50 + STRENGTH_DECADE * math.log10(ratio / BASE_RATIO)))


def ratio_for_strength(percent: float) -> float:
    return BASE_RATIO * 10 ** ((percent - 50) / STRENGTH_DECADE)


def strength_text(ratio: float) -> str:
    """"50 %": what the Look panel and the Batch tab's summary show for a style/content ratio."""
    return f"{strength_for_ratio(ratio):.0f} %" if math.isfinite(ratio) else "style only"


def stroke_text(style_scale: float) -> str:
    return f"{100 * style_scale:.0f} %"


def smoothness_text(tv_weight: float) -> str:
    return f"{tv_weight:.2f}" if tv_weight else "off"


# --- stroke size -----------------------------------------------------------------------
def stroke_position(style_scale: float) -> int:
    position = round(STROKE_STEPS_PER_DOUBLING * math.log2(max(style_scale, 1e-6)))
    return max(-SLIDER_STEPS, min(SLIDER_STEPS, position))


def stroke_scale(position: int) -> float:
    return round(2 ** (position / STROKE_STEPS_PER_DOUBLING), 3)


# --- detail <-> broad strokes ----------------------------------------------------------
def series_weights(falloff: float) -> dict[str, float]:
    """Style weights of relu1_1..relu5_1, each ``falloff`` times the one before, summing to the
    default's total (falloff 1/4 gives exactly the default)."""
    raw = [falloff**depth for depth in range(len(SERIES_LAYERS))]
    scale = SERIES_TOTAL / sum(raw)
    return {name: weight * scale for name, weight in zip(SERIES_LAYERS, raw)}


def falloff_for_position(position: int) -> float:
    return DEFAULT_FALLOFF * FALLOFF_RANGE ** (position / SLIDER_STEPS)


def position_for_falloff(falloff: float) -> int:
    position = round(SLIDER_STEPS * math.log(falloff / DEFAULT_FALLOFF, FALLOFF_RANGE))
    return max(-SLIDER_STEPS, min(SLIDER_STEPS, position))


def mean_depth(style_layers: dict[str, float]) -> float | None:
    """The weighted mean block (1..5) of the style layers in use, None when none is."""
    used = {name: weight for name, weight in style_layers.items() if weight > 0}
    total = sum(used.values())
    if not total:
        return None
    return sum(int(name[4]) * weight for name, weight in used.items()) / total


def falloff_of(style_layers: dict[str, float]) -> tuple[float, bool]:
    """(falloff, exact): the series falloff with the same mean depth as ``style_layers`` and
    whether the weights are that series (what the slider would write)."""
    depth = mean_depth(style_layers)
    if depth is None:
        return DEFAULT_FALLOFF, False
    low, high = DEFAULT_FALLOFF / FALLOFF_RANGE, DEFAULT_FALLOFF * FALLOFF_RANGE
    for _ in range(40):  # mean depth grows with the falloff: bisect on a log scale
        middle = math.sqrt(low * high)
        if mean_depth(series_weights(middle)) < depth:
            low = middle
        else:
            high = middle
    falloff = math.sqrt(low * high)
    series = series_weights(falloff)
    exact = set(style_layers) == set(SERIES_LAYERS) and all(
        math.isclose(style_layers[name], series[name], rel_tol=1e-3) for name in SERIES_LAYERS
    )
    return falloff, exact


# --- smoothness ------------------------------------------------------------------------
def tv_for_position(position: int) -> float:
    if position <= 0:
        return 0.0
    return round(TV_MIN * (TV_MAX / TV_MIN) ** ((position - 1) / (SLIDER_STEPS - 1)), 4)


def position_for_tv(tv_weight: float) -> int:
    if tv_weight <= 0:
        return 0
    position = 1 + round((SLIDER_STEPS - 1) * math.log(tv_weight / TV_MIN, TV_MAX / TV_MIN))
    return max(1, min(SLIDER_STEPS, position))


__all__ = [
    "falloff_for_position", "falloff_of", "mean_depth", "position_for_falloff", "position_for_tv",
    "ratio_for_strength", "series_weights", "strength_for_ratio", "stroke_position", "stroke_scale",
    "tv_for_position",
]
