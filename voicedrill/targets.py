"""Personal targets: once a rep has three reps of a drill said by the script (every step, in order,
no forbidden phrase), their own recent best is the bar the next rep is judged against, at the
precision it is shown ("16.7s, target 16.7s" is met). Pure: reports in, targets and verdicts out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .data import RepReport, Target, Targets

MIN_REPS = 3  # reps of a drill before targets start
RECENT = 10  # targets come from the best of this many most recent reps said by the script
WHAT = ("time from the first line to the last", "longest pause between questions", "speaking pace")
# (as older histories stored the time: one figure, first word to last, that had a name per drill)
FORMERLY = {"time from first question to handoff": WHAT[0], "time from first question through the handoff": WHAT[0]}
# each is shown and judged to this many decimals: 16.7s, 0.3s, 190 words a minute (a pause to the tenth the
# tool measures it to: 0.27s was told it missed a 0.26s target, both far under the limit)
DECIMALS = dict(zip(WHAT, (1, 1, 0)))


def bests(past: Sequence[RepReport]) -> tuple[float | None, float | None, float | None] | None:
    """The best time, longest pause and pace among reps said by the script; time and pace only from
    reps at a pace inside the drill's band (a time only met by speaking too fast is no target: a
    rep told "slow down" was then held to the 12.8 s of a 235 wpm rep)."""
    done = [r for r in past if r.by_the_script]
    if not done:
        return None
    in_band = [r for r in done if r.pace_in_band]
    times = [r.duration_s for r in in_band if r.duration_s is not None]
    return (min(times, default=None), min(r.longest_pause_s or 0.0 for r in done), max((r.pace.speech_wpm for r in in_band), default=None))


def judged(report: RepReport, past: Sequence[RepReport]) -> RepReport:
    """The report with its targets judged, from the rep's recent reps of the same drill (oldest first).
    A rep that skipped or jumped a step meets no time or pause target (half a rep has half the
    pauses); one outside the pace band, no time or pace target."""
    recent = [r for r in past if r.by_the_script][-RECENT:]
    if len(recent) < MIN_REPS or not report.scored:  # (a rep of another drill was shown a pace target)
        return report
    time, pause, pace = bests(recent)
    values = (report.timed_s, report.judged_pause_s, report.pace.speech_wpm)  # (a rep that skipped or jumped a step: neither timed nor judged)
    results = tuple(Target(what, target, value, _met(what, value, target) and (what == WHAT[1] or report.pace_in_band))
                    for what, target, value in zip(WHAT, (time, pause, pace), values) if target is not None)
    return replace(report, targets=Targets(len(recent), results))


def _met(what: str, value: float | None, target: float) -> bool:
    """Is the value as good as the target, both as shown (DECIMALS)?"""
    if value is None:
        return False
    value, target = round(value, DECIMALS[what]), round(target, DECIMALS[what])
    return value >= target if what == "speaking pace" else value <= target


UNJUDGED = "Not timed or judged: a rep not said by the script (a step skipped or out of order, or a phrase to avoid)."


def figure(what: str, value: float | None) -> str:
    """A target's figure as every view shows it."""
    if value is None:
        return {WHAT[0]: "not timed", WHAT[1]: "not judged"}.get(what, "—")  # (why: UNJUDGED, said once)
    return f"{value:.{DECIMALS[what]}f}" + (" words a minute" if what == "speaking pace" else "s")
