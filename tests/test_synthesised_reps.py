"""The whole pipeline on synthesised reps with known pauses: real TTS audio, real pocketsphinx."""

from __future__ import annotations

import pytest

from voicedrill.practice import score_file
from voicedrill.synth import Piece

from conftest import true_gap

PAUSE_TOLERANCE_S = 0.15


def statuses(report) -> dict[str, str]:
    return {s.id: s.status for s in report.steps}


def assert_pauses_true(report, segments) -> None:
    """Every measured pause between questions is within tolerance of the silence inserted."""
    assert report.pauses, "no pauses measured"
    for pause in report.pauses:
        expected = true_gap(segments, pause.from_step, pause.to_step)
        assert abs(pause.gap_s - expected) <= PAUSE_TOLERANCE_S, (pause, expected)


def test_clean_rep_all_steps_in_order(drill, sphinx, pieces, make_rep):
    path, segments = make_rep(pieces, "clean")
    report = score_file(path, drill, sphinx)
    assert statuses(report) == {s.id: "ok" for s in drill.steps}
    assert report.order_ok
    assert not report.forbidden
    assert [(p.from_step, p.to_step) for p in report.pauses] == [
        (a.id, b.id) for a, b in zip(drill.steps, drill.steps[1:])
    ]
    assert_pauses_true(report, segments)
    assert not any(p.flagged for p in report.pauses)
    assert report.score >= 90
    # each step is found inside the piece that said it (edge words may be misheard)
    for step, segment in zip(report.steps, segments):
        assert segment.start - 0.2 <= step.start < step.end <= segment.end + 0.2, (step, segment)


def test_skipped_step_is_missing(drill, sphinx, pieces, make_rep):
    skipped = [p for p in pieces if p.label != "address"]
    path, segments = make_rep(skipped, "skip")
    report = score_file(path, drill, sphinx)
    expected = {s.id: "ok" for s in drill.steps} | {"address": "missing"}
    assert statuses(report) == expected
    assert report.order_ok  # a skip is not an order error
    assert ("email", "notes") in [(p.from_step, p.to_step) for p in report.pauses]
    assert_pauses_true(report, segments)
    assert next(s for s in report.steps if s.id == "address").start is None


def test_swapped_steps_break_the_order(drill, sphinx, pieces, make_rep):
    swapped = list(pieces)
    swapped[4], swapped[5] = swapped[5], swapped[4]  # payment asked before the notes for the tech
    path, segments = make_rep(swapped, "swap")
    report = score_file(path, drill, sphinx)
    assert not report.order_ok
    status = statuses(report)
    assert {step for step, s in status.items() if s != "ok"} == {"payment"}  # payment said early, not the notes said after it as well
    assert status["payment"] == "out_of_order"
    assert any("payment must come after notes" in note for note in report.order_notes)
    assert [(p.from_step, p.to_step) for p in report.pauses][3:5] == [("address", "payment"), ("payment", "notes")]
    assert_pauses_true(report, segments)


def test_long_pause_is_flagged(drill, sphinx, pieces, make_rep):
    slow = [Piece(p.text, p.label, 2.0) if p.label == "payment" else p for p in pieces]
    path, segments = make_rep(slow, "long-pause")
    report = score_file(path, drill, sphinx)
    assert all(status == "ok" for status in statuses(report).values())
    flagged = [(p.from_step, p.to_step) for p in report.pauses if p.flagged]
    assert flagged == [("notes", "payment")]
    assert_pauses_true(report, segments)
    flow = next(p for p in report.score_parts if p.name == "flow")
    assert flow.points < flow.max_points


def test_forbidden_phrase_is_caught(drill, sphinx, pieces, make_rep):
    pushy = [pieces[0], Piece("So you want to do it?", "forbidden", 0.5), *pieces[1:]]
    path, segments = make_rep(pushy, "forbidden")
    report = score_file(path, drill, sphinx)
    assert [m.text for m in report.forbidden] == ["So you want to do it?"]
    said = next(s for s in segments if s.label == "forbidden")
    assert abs(report.forbidden[0].start - said.start) < 0.3
    assert all(status == "ok" for status in statuses(report).values())
    clean = next(p for p in report.score_parts if p.name == "clean")
    assert clean.points <= clean.max_points - 5
    # the phrase is speech, not pause: name → phone is the longer of the two silences around it
    name_phone = next(p for p in report.pauses if (p.from_step, p.to_step) == ("name", "phone"))
    assert abs(name_phone.gap_s - 0.5) <= PAUSE_TOLERANCE_S


@pytest.mark.parametrize("filler", ["Um,", "Uh"])
def test_filler_is_caught(drill, sphinx, pieces, make_rep, filler):
    hesitant = [*pieces[:2], Piece(filler, "filler", 0.4), *pieces[2:]]
    path, segments = make_rep(hesitant, f"filler-{filler}")
    report = score_file(path, drill, sphinx)
    said = next(s for s in segments if s.label == "filler")
    assert any(said.start - 0.3 <= m.start <= said.end + 0.3 for m in report.fillers), report.fillers
    assert all(status == "ok" for status in statuses(report).values())


def test_same_audio_same_report(drill, sphinx, pieces, make_rep):
    """A recogniser starts each rep fresh: results never depend on what was decoded before."""
    path, _ = make_rep(pieces, "clean")
    other, _ = make_rep([p for p in pieces if p.label != "address"], "skip")
    first = score_file(path, drill, sphinx)
    score_file(other, drill, sphinx)
    again = score_file(path, drill, sphinx)
    # posteriors may move in the third decimal; words, times and verdicts may not move at all
    assert [(w.text, w.start, w.end) for w in again.words] == [(w.text, w.start, w.end) for w in first.words]
    assert (again.steps, again.pauses, again.score) == (first.steps, first.pauses, first.score)
