"""Fuzzing the pure analysis core: any word timeline gives a report or the project's own error.

The same examples on every run (CI must not fail at random); to search further, run these tests
with `derandomize=False` and a larger `max_examples` and pin what they find with `@example`.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from voicedrill.analysis import analyse
from voicedrill.data import CustomerTurn, RepReport, Word
from voicedrill.drills import load_drill
from voicedrill.metrics import silence_between
from voicedrill.report import to_json

DRILLS = {name: load_drill(name) for name in ("hard-close", "first-close-recovery", "soft-to-hard")}
VOCAB = sorted({t for d in DRILLS.values() for line in d.script_lines() for t in line.lower().split()})

times = st.floats(min_value=-5, max_value=120) | st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 1e-9])
texts = st.sampled_from(VOCAB) | st.text(max_size=12) | st.sampled_from(["", " ", "[unk]", "um", "e-mail", "what's", "'", "ünïcode"])
words = st.builds(Word, texts, times, times, st.floats(min_value=0, max_value=1))
sane_words = st.builds(
    lambda text, start, length: Word(text, start, start + length),
    texts,
    st.floats(min_value=0, max_value=60),
    st.floats(min_value=0, max_value=2),
)
spans = st.tuples(st.floats(min_value=0, max_value=60), st.floats(min_value=0, max_value=5)).map(lambda p: (p[0], p[0] + p[1]))
turns = st.builds(
    lambda kind, after, start, length: CustomerTurn(kind, after, "line", start, start + length),
    st.sampled_from(["cue", "answer", "hesitation"]),
    st.sampled_from([None, "name", "phone", "payment"]),
    st.floats(min_value=0, max_value=60),
    st.floats(min_value=0, max_value=5),
)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(words, max_size=40), st.sampled_from(sorted(DRILLS)))
def test_any_timeline_reports_or_refuses_clearly(timeline, name):
    try:
        report = analyse(timeline, DRILLS[name], "fuzz", 60.0)
    except ValueError as exc:  # an engine giving impossible times is a bug, raised as such
        assert "impossible time" in str(exc)
        return
    assert isinstance(report, RepReport) and 0 <= report.score <= 100
    to_json(report)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(sane_words, max_size=60),
    st.lists(spans, max_size=10),
    st.lists(turns, max_size=4),
    st.sampled_from(["hard-close", "first-close-recovery"]),
)
@example(  # the same word heard twice over a silence: its time is taken off the pause once, not twice
    [Word("a", 0, 0), Word("a", 0, 1), Word("a", 0, 1), Word("a", 3, 4), Word("a", 3, 4), Word("about", 0, 0), Word("address", 3, 3), Word("a", 0, 0)],
    [(0.0, 1.0)], [], "hard-close",
)
def test_sane_timelines_always_report(timeline, silences, customer, name):
    """Overlapping, unsorted, repeated words, arbitrary silences (and hushes) and customer turns: a valid report."""
    report = analyse(timeline, DRILLS[name], "fuzz", 60.0, sorted(silences), customer, hushes=sorted(silences))
    assert 0 <= report.score <= 100
    assert [s.id for s in report.steps] == [s.id for s in DRILLS[name].steps]
    assert all(p.gap_s >= 0 for p in report.pauses)
    assert all(t.latency_s is None or t.latency_s >= -0.05 for t in report.turns)
    to_json(report)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    st.floats(min_value=0, max_value=10),
    st.floats(min_value=0, max_value=3),
    st.lists(spans, max_size=6),
    st.lists(spans, max_size=6),
    st.lists(sane_words, max_size=6),
)
def test_a_breath_only_ever_adds_to_the_silences(end, gap, silences, hushes, spoken):
    """However the silences, hushes and words lie, a pause with its breaths is at least the pause
    without them and at most the gap (overlapping, unsorted, nested, outside the gap)."""
    start = end + gap
    alone = silence_between(end, start, silences, spoken)
    assert 0.0 <= alone <= silence_between(end, start, silences, spoken, hushes) <= gap + 1e-9
