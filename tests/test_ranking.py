"""The score follows the playbook's ranking of mistakes (issue: coaching), on real synthesised reps
through the real recogniser: a clean rep beats a slow one, a short pause beats a filler, a skipped
step is worse, payment asked too early or a "so you want to do it?" worse still, two steps missing
worst of the single mistakes. Every problem comes with a tip, and the costliest is the focus."""

from __future__ import annotations

from dataclasses import replace

import pytest

from voicedrill.practice import score_file
from voicedrill.synth import Piece, build_rep, write_wav

GAP_S = 0.5


def base(drill) -> list[Piece]:
    return [Piece(s.example_line, s.id, GAP_S) for s in drill.steps]


def pause_before(pieces: list[Piece], step: str, seconds: float) -> list[Piece]:
    return [replace(p, pause_before=seconds) if p.label == step else p for p in pieces]


def without(pieces: list[Piece], *steps: str) -> list[Piece]:
    return [p for p in pieces if p.label not in steps]


def inserted(pieces: list[Piece], before: str, text: str) -> list[Piece]:
    spot = next(i for i, p in enumerate(pieces) if p.label == before)
    return [*pieces[:spot], Piece(text, "", 0.4), *pieces[spot:]]


def moved(pieces: list[Piece], step: str, before: str) -> list[Piece]:
    piece = next(p for p in pieces if p.label == step)
    rest = [p for p in pieces if p.label != step]
    spot = next(i for i, p in enumerate(rest) if p.label == before)
    return [*rest[:spot], piece, *rest[spot:]]


# best first; reps in one tier are about as bad as each other
TIERS = [
    {"clean": lambda p: p},
    {"clean but slow": lambda p: p},
    {"phone asked twice": lambda p: inserted(p, "email", p[1].text)},
    {"one 1.3 s pause": lambda p: pause_before(p, "payment", 1.3)},
    {"a filler": lambda p: inserted(p, "email", "Um,")},
    {"two 1.3 s pauses": lambda p: pause_before(pause_before(p, "payment", 1.3), "address", 1.3),
     "notes before the address": lambda p: moved(p, "notes", "address")},
    {"two filler words": lambda p: inserted(inserted(p, "email", "Um,"), "notes", "Uh,")},
    {"email skipped": lambda p: without(p, "email")},
    {"payment before the address": lambda p: moved(p, "payment", "address"),
     "“so you want to do it?”": lambda p: inserted(p, "name", "So you want to do it?")},
    {"email and notes skipped": lambda p: without(p, "email", "notes")},
    {"email skipped, a 4 s pause, “so you want to do it?” and a filler":
        lambda p: inserted(inserted(pause_before(without(p, "email"), "payment", 4.0), "name", "So you want to do it?"), "address", "Um,")},
]
WPM = {"clean but slow": 115}


@pytest.fixture(scope="module")
def scored(drill, sphinx, tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("ranking")
    reports = {}
    for number, (name, make) in enumerate((n, m) for tier in TIERS for n, m in tier.items()):
        audio, _ = build_rep(make(base(drill)), wpm=WPM.get(name, 170))
        path = folder / f"{number:02d}.wav"
        write_wav(path, audio)
        reports[name] = score_file(path, drill, sphinx)
    return reports


def test_scores_follow_the_playbook_ranking(scored):
    table = [[(name, scored[name].score) for name in tier] for tier in TIERS]
    for better, worse in zip(table, table[1:]):
        assert min(s for _, s in better) > max(s for _, s in worse), table
    for tier in table:
        assert max(s for _, s in tier) - min(s for _, s in tier) <= 6, tier  # "about as bad": within a few points


def test_every_problem_has_a_tip_and_the_costliest_is_the_focus(scored):
    for name, report in scored.items():
        tips = report.coaching.tips
        lost = sum(p.max_points - p.points for p in report.score_parts)
        if name == "clean":
            assert not tips and "Clean rep" in report.coaching.focus
            continue
        assert tips and report.coaching.focus == tips[0].tip and tips[0].points == max(t.points for t in tips), name
        assert sum(t.points for t in tips) >= lost - 0.1, name  # every lost point is explained by a tip


def test_tips_say_what_to_do_in_the_playbooks_words(scored):
    focus = {name: report.coaching.focus for name, report in scored.items()}
    assert "“Email?” right after the phone number" in focus["email skipped"]
    assert focus["payment before the address"].startswith("Ask for payment last")
    assert "“So you want to do it?”" in focus["“so you want to do it?”"]
    assert "faster" in focus["clean but slow"] and "words a minute" in focus["clean but slow"]
    assert "Don't pause between questions" in focus["one 1.3 s pause"] and "before payment" in focus["one 1.3 s pause"]
    assert "filler" in focus["a filler"]
