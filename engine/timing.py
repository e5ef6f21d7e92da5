"""Time as every front end shows it: one estimate of the time left, one way to write a duration."""

from __future__ import annotations


def eta(elapsed: float, done: float, left: float) -> float | None:
    """Seconds the ``left`` units of work take when ``done`` units took ``elapsed`` seconds (the
    same rate); None until some work is done."""
    if not done:
        return None
    return elapsed / done * max(0, left)


def format_duration(seconds: float | None) -> str:
    """"12 s", "3 min 05 s", "1 h 20 min"; "estimating" while unknown."""
    if seconds is None:
        return "estimating"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def time_left(seconds: float | None) -> str:
    """"3 min 05 s left", or "estimating time left" while unknown."""
    return f"{format_duration(seconds)} left" if seconds is not None else "estimating time left"


__all__ = ["eta", "format_duration", "time_left"]
