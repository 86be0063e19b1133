"""Every shipped drill on synthesised reps: a clean rep passes, each seeded error is caught."""

from __future__ import annotations

import pytest

from voicedrill.drills import list_drills, load_drill
from voicedrill.practice import HESITATION_OVER_S, example_pieces, score_file
from voicedrill.report import steps_grid
from voicedrill.sphinx_engine import SphinxEngine
from voicedrill.synth import Piece
from voicedrill.targets import WHAT, judged

DRILLS = ["hard-close", "soft-to-hard", "micro-commitment", "first-close-recovery"]
GAP_S = 0.5


@pytest.fixture(scope="module")
def engines():
    loaded = {}

    def get(name):
        """Each drill loaded once, with a pocketsphinx engine biased to its script."""
        if name not in loaded:
            drill = load_drill(name)
            loaded[name] = (drill, SphinxEngine(drill))
        return loaded[name]

    return get


def script(drill, gap: float = GAP_S) -> list[Piece]:
    """The drill said through once: required steps, each after `gap` (or the pause it requires)."""
    pieces = []
    previous = None
    for step in drill.steps:
        if step.optional:
            continue
        low, _ = drill.pause_limits(previous, step.id) if previous else (0.0, 0.0)
        text = step.example_line
        pieces.append(Piece(text, step.id, max(gap, low + 0.5)))
        previous = step.id
    return pieces


def run(engines, make_rep, name, pieces, tag):
    drill, engine = engines(name)
    path, segments = make_rep(pieces, f"{name}-{tag}")
    return drill, score_file(path, drill, engine)


def required(drill):
    return [s.id for s in drill.steps if not s.optional]


def test_all_shipped_drills_are_listed_and_valid():
    found = {path.stem: drill for path, drill in list_drills()}
    assert set(DRILLS) <= set(found)
    assert all(not isinstance(found[name], Exception) for name in DRILLS)


@pytest.mark.parametrize("name", DRILLS)
def test_clean_rep_scores_all_steps_ok(engines, make_rep, name):
    drill = load_drill(name)
    drill, report = run(engines, make_rep, name, script(drill), "clean")
    status = {s.id: s.status for s in report.steps}
    assert all(status[s] == "ok" for s in required(drill)), status
    assert report.order_ok and not report.forbidden
    assert not any(p.flagged for p in report.pauses)
    assert report.score >= 90


@pytest.mark.parametrize("name", DRILLS)
def test_skipped_step_is_missing(engines, make_rep, name):
    drill = load_drill(name)
    pieces = script(drill)
    skipped = pieces[len(pieces) // 2]
    drill, report = run(engines, make_rep, name, [p for p in pieces if p is not skipped], "skip")
    status = {s.id: s.status for s in report.steps}
    assert status[skipped.label] == "missing"
    assert all(status[s] == "ok" for s in required(drill) if s != skipped.label), status


@pytest.mark.parametrize("name", DRILLS)
def test_swapped_steps_are_out_of_order(engines, make_rep, name):
    drill = load_drill(name)
    pieces = script(drill)
    group = {s.id: s.group for s in drill.steps}
    # the first adjacent pair that is not free to swap (not one group), with no required pause around it
    i = next(
        k for k in range(1, len(pieces) - 1)
        if not (group[pieces[k].label] and group[pieces[k].label] == group[pieces[k + 1].label])
        and drill.pause_limits(pieces[k - 1].label, pieces[k].label)[0] == 0
    )
    swapped = list(pieces)
    swapped[i], swapped[i + 1] = Piece(pieces[i + 1].text, pieces[i + 1].label, GAP_S), Piece(pieces[i].text, pieces[i].label, GAP_S)
    drill, report = run(engines, make_rep, name, swapped, "swap")
    assert not report.order_ok
    bad = {s.id for s in report.steps if s.status == "out_of_order"}
    assert bad & {pieces[i].label, pieces[i + 1].label}, (bad, pieces[i].label, pieces[i + 1].label)


@pytest.mark.parametrize("name", DRILLS)
def test_forbidden_phrase_is_caught(engines, make_rep, name):
    drill = load_drill(name)
    pieces = script(drill)
    phrase = drill.forbidden[0]
    pushy = [*pieces[:2], Piece(phrase.capitalize() + ".", "forbidden", GAP_S), *pieces[2:]]
    drill, report = run(engines, make_rep, name, pushy, "forbidden")
    assert phrase in [m.text for m in report.forbidden]


@pytest.mark.parametrize("name", DRILLS)
def test_too_long_pause_is_flagged(engines, make_rep, name):
    drill = load_drill(name)
    pieces = script(drill)
    k = next(k for k in range(1, len(pieces)) if drill.pause_limits(pieces[k - 1].label, pieces[k].label)[0] == 0)
    _, high = drill.pause_limits(pieces[k - 1].label, pieces[k].label)
    slow = [Piece(p.text, p.label, high + 1.0) if i == k else p for i, p in enumerate(pieces)]
    drill, report = run(engines, make_rep, name, slow, "slow")
    flagged = [(p.from_step, p.to_step) for p in report.pauses if p.flagged]
    assert flagged == [(pieces[k - 1].label, pieces[k].label)]


def test_first_close_recovery_requires_a_pause(engines, make_rep):
    """Here a pause is required: taking no breath is flagged; taking one is not."""
    drill = load_drill("first-close-recovery")
    pieces = script(drill)
    assert pieces[1].label == "concern" and pieces[1].pause_before >= 1.5
    rushed = [pieces[0], Piece(pieces[1].text, "concern", 0.3), *pieces[2:]]
    _, report = run(engines, make_rep, "first-close-recovery", rushed, "rushed")
    pause = next(p for p in report.pauses if (p.from_step, p.to_step) == ("breathe", "concern"))
    assert pause.flagged and pause.gap_s < pause.min_s == 1.5
    flow = next(p for p in report.score_parts if p.name == "flow")
    assert "required pause" in flow.why
    _, calm = run(engines, make_rep, "first-close-recovery", pieces, "clean")
    pause = next(p for p in calm.pauses if (p.from_step, p.to_step) == ("breathe", "concern"))
    assert not pause.flagged and pause.gap_s >= 1.5
    # the breath is no pause between questions: the rep that took it has the shorter longest pause,
    # and meets the pause target the rushed one sets (found by a new user: it was 2.0 s, target 0.6 s)
    assert calm.longest_pause_s < 1.0 and report.by_the_script
    pause_target = next(t for t in judged(calm, [report] * 3).targets.results if t.what == WHAT[1])
    assert pause_target.met, pause_target


def test_probes_may_come_in_any_order(engines, make_rep):
    drill = load_drill("first-close-recovery")
    pieces = script(drill)
    probes = [i for i, p in enumerate(pieces) if p.label.startswith("probe-")]
    shuffled = list(pieces)
    for i, j in zip(probes, reversed(probes)):
        shuffled[i] = Piece(pieces[j].text, pieces[j].label, GAP_S)
    _, report = run(engines, make_rep, "first-close-recovery", shuffled, "probes-reversed")
    assert report.order_ok, report.order_notes
    assert all(s.status == "ok" for s in report.steps)


def test_soft_close_again_after_a_concern(engines, make_rep):
    """Seed 00's loop: soft close, address the concern, soft close again, then the hard close."""
    drill = load_drill("soft-to-hard")
    lines = {s.id: s.line for s in drill.steps}
    loop = [
        Piece(lines["soft"], "soft", GAP_S),
        Piece(lines["concern"], "concern", GAP_S),
        Piece("Would you be interested in getting started?", "soft2", GAP_S),  # seed 00, a listed variant
        *[Piece(lines[s], s, GAP_S) for s in ("name", "email", "payment")],
    ]
    _, report = run(engines, make_rep, "soft-to-hard", loop, "loop")
    status = {s.id: s.status for s in report.steps}
    assert status == {"soft": "ok", "concern": "ok", "name": "ok", "email": "ok", "payment": "ok"}
    assert next(s for s in report.steps if s.id == "soft").count == 2
    assert report.order_ok


def test_going_hard_to_soft_is_an_order_error(engines, make_rep):
    drill = load_drill("soft-to-hard")
    lines = {s.id: s.line for s in drill.steps}
    backwards = [Piece(lines[s], s, GAP_S) for s in ("name", "soft", "email", "payment")]
    _, report = run(engines, make_rep, "soft-to-hard", backwards, "hard-to-soft")
    assert not report.order_ok


def test_soft_close_again_after_the_hard_close_began_is_an_order_error(engines, make_rep):
    """Seed 00: soft to hard, not hard to soft. The soft close may come again after a concern, not
    once the name was asked with no concern answered; the tip says so."""
    drill = load_drill("soft-to-hard")
    lines = {s.id: s.line for s in drill.steps}
    back = [
        Piece(lines["soft"], "soft", GAP_S),
        Piece(lines["name"], "name", GAP_S),
        Piece("Would you be interested in getting started?", "soft2", GAP_S),
        *[Piece(lines[s], s, GAP_S) for s in ("email", "payment")],
    ]
    _, report = run(engines, make_rep, "soft-to-hard", back, "back-to-soft")
    assert report.order_notes == ("soft close came again after name",)
    assert {s.id: s.status for s in report.steps}["soft"] == "out_of_order"
    assert "You went back to a soft close after the name." in " ".join(t.tip for t in report.coaching.tips)
    assert {s.id: s.loop for s in report.steps if s.loop} == {"soft": "came again after name"}  # the first was in its place
    assert [row[1].text for row in steps_grid(report).rows][0] == "came again after name"  # the scorecard's row, not "out of order"


def test_a_concern_answered_then_straight_to_the_name_is_told_to_soft_close_again(engines, make_rep):
    """Seed 00: "Answer their concern. Then soft close again." Answered, then straight on to the
    name, scored 100 "Clean rep" (found by a new user)."""
    drill = load_drill("soft-to-hard")
    lines = {s.id: s.line for s in drill.steps}
    _, report = run(engines, make_rep, "soft-to-hard", [Piece(lines[s], s, GAP_S) for s in ("soft", "concern", "name", "email", "payment")], "no-soft-again")
    assert report.order_notes == ("concern not followed by soft close again",)
    assert report.coaching.focus.startswith("You answered the concern, then went straight on. Soft close again first: “Does this sound like")
    assert report.score_parts[1].why == "soft close again after concern"  # it read "… after concern out of order" (found by a new user)
    assert {s.id: s.loop for s in report.steps if s.loop} == {"concern": "not followed by soft close"}  # its row: not "out of order"


def test_a_concern_answered_after_the_name_then_a_soft_close_again_is_the_loop(engines, make_rep):
    """The customer hesitates after the name or the email (customer.py): the rep answers the concern
    and soft closes again, as the drill asks; neither was out of order (found by a review)."""
    drill = load_drill("soft-to-hard")
    lines = {s.id: s.line for s in drill.steps}
    loop = [Piece(lines[s], s, GAP_S) for s in ("soft", "name", "concern")]
    loop += [Piece("Would you be interested in getting started?", "soft2", GAP_S), *[Piece(lines[s], s, GAP_S) for s in ("email", "payment")]]
    _, report = run(engines, make_rep, "soft-to-hard", loop, "concern-after-name")
    assert report.order_ok and {s.id: s.status for s in report.steps} == dict.fromkeys(lines, "ok")


TIGHT = """name = "tight"
[rules]
last = ["pay", "bye"]
[[rules.pauses]]
from = "name"
to = "phone"
max_s = 0.2
[[rules.pauses]]
from = "phone"
to = "pay"
max_s = 30.0
[[steps]]
id = "name"
line = "What's the best name for the account?"
[[steps]]
id = "phone"
line = "And what's a good phone number for you?"
[[steps]]
id = "pay"
line = "Are you using a credit or debit card today?"
[[steps]]
id = "bye"
line = "You're all set."
"""


@pytest.mark.parametrize("name", [*DRILLS, "tight"])
def test_the_example_rep_hesitates_once_clearly_and_keeps_required_pauses(name, tmp_path):
    """`check --example` shows one flagged pause: 0.6 s over the drill's limit (first-close-
    recovery's 1.6 s against 1.5 s was near enough to be measured under it), never where a pause
    rule of the drill's own governs the gap (a 30 s allowance made a 30.6 s silence), and every
    other gap within its limits (a 0.3 s gap where 0.2 s is allowed was a second flagged pause)."""
    if name == "tight":
        (tmp_path / "tight.toml").write_text(TIGHT)
        name = str(tmp_path / "tight.toml")
    drill = load_drill(name)
    pieces = example_pieces(drill)
    gaps = [(drill.pause_limits(a.label, b.label), b) for a, b in zip(pieces, pieces[1:])]
    over = [(b, b.pause_before - high, (low, high)) for (low, high), b in gaps if not low <= b.pause_before <= high]
    assert [round(by, 6) for _, by, _ in over] == [HESITATION_OVER_S]
    assert over[0][2] == (0.0, drill.max_pause_s)
