"""Personal targets: once a rep has three complete reps of a drill, their own recent best is the bar
the next rep is judged against. Pure: reports in, targets and verdicts out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .data import RepReport, Target, Targets

MIN_REPS = 3  # reps of a drill before targets start
RECENT = 10  # targets come from the best of this many most recent complete reps
WHAT = ("time from first question to handoff", "longest pause between questions", "speaking pace")


def bests(past: Sequence[RepReport]) -> tuple[float | None, float | None, float | None] | None:
    """The best time, longest pause and pace among complete reps (pace only from reps inside the drill's band)."""
    done = [r for r in past if r.complete]
    if not done:
        return None
    in_band = [r.pace.speech_wpm for r in done if all(p.points == p.max_points for p in r.score_parts if p.name == "pace")]
    times = [r.duration_s for r in done if r.duration_s is not None]
    return (min(times, default=None), min(r.longest_pause_s or 0.0 for r in done), max(in_band, default=None))


def judged(report: RepReport, past: Sequence[RepReport]) -> RepReport:
    """The report with its targets judged, from the rep's recent reps of the same drill (oldest first)."""
    recent = [r for r in past if r.complete][-RECENT:]
    if len(recent) < MIN_REPS:
        return report
    time, pause, pace = bests(recent)
    values = (report.handoff_s, report.longest_pause_s or 0.0, report.pace.speech_wpm)  # a rep that skipped a step is not timed
    results = tuple(
        Target(what, target, value, value is not None and (value >= target if what == "speaking pace" else value <= target))
        for what, target, value in zip(WHAT, (time, pause, pace), values)
        if target is not None
    )
    return replace(report, targets=Targets(len(recent), results))
