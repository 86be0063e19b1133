"""The analysis core: timed words and a drill in, a scored rep report out. Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .align import align
from .data import CustomerTurn, HitKind, RepReport, Word
from .drills import Drill
from . import metrics


def clean_words(words: Sequence[Word]) -> list[Word]:
    """Sorted, finite, non-empty words; anything else from an engine is a bug, raised loudly."""
    for w in words:
        if not (math.isfinite(w.start) and math.isfinite(w.end)) or w.start < 0 or w.end < w.start:
            raise ValueError(f"recogniser gave an impossible time for {w.text!r}: {w.start}–{w.end}")
    return sorted((w for w in words if w.text.strip()), key=lambda w: (w.start, w.end))


def analyse(
    words: Sequence[Word],
    drill: Drill,
    engine: str,
    audio_s: float,
    silences: Sequence[tuple[float, float]] = (),
    turns: Sequence[CustomerTurn] = (),
    hushes: Sequence[tuple[float, float]] = (),
) -> RepReport:
    """Score one rep of a drill from its recognised words (and, if known, the audio's silences and
    hushes, SilenceTracker's, and the simulated customer's turns)."""
    words = clean_words(words)
    alignment = align(words, drill)
    steps = metrics.step_results(words, drill, alignment)
    pauses = metrics.pauses(words, drill, alignment, silences, turns, hushes)
    pace = metrics.pace(words, turns)
    fillers = metrics.fillers(words, alignment)
    forbidden = metrics.marks(words, alignment.hits, HitKind.FORBIDDEN)
    turn_results = metrics.customer_turns(words, drill, alignment, turns)
    unlike = metrics.unlike_the_drill(words, steps, fillers + forbidden)
    span = metrics.spoken_span(words, turns)
    score, parts, coaching = metrics.score(drill, steps, pauses, pace, fillers, forbidden, turn_results, unlike, alignment.loops, span)
    return RepReport(
        drill=drill.name,
        engine=engine,
        audio_s=round(audio_s, 3),
        words=tuple(words),
        steps=steps,
        order_ok=not alignment.out_of_order,
        order_notes=alignment.order_notes,
        pauses=pauses,
        pace=pace,
        duration_s=None if span is None else round(span, 3),
        fillers=fillers,
        forbidden=forbidden,
        extra=metrics.extra_speech(words, alignment),
        score=score,
        score_parts=parts,
        turns=turn_results,
        coaching=coaching,
    )
