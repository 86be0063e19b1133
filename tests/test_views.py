"""One saved rep, every view (issue: coaching): the scorecard, the history table, the export, the
page and the JSON only format the verdicts stored with the rep, in plain words, at 80 columns and up."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from rich.console import Console

from voicedrill.analysis import analyse
from voicedrill.data import Word
from voicedrill.drills import list_drills, load_drill
from voicedrill.history import Session, Store
from voicedrill.progress import export, render_history
from voicedrill.report import render, render_drill_list, render_summary, to_dict
from voicedrill.webpage import page

JARGON = ("articulation", "Off-script", "out_of_order", "flow ", "clean ", " wpm", "Forbidden", "Fillers")


def said(drill, gaps: dict[str, float], skip: tuple[str, ...] = (), extra: dict[str, str] | None = None) -> list[Word]:
    """The drill's lines as timed words, `gaps[step]` seconds of silence before a step, `extra` words said before one."""
    words, t = [], 0.5
    for step in drill.steps:
        if step.id in skip:
            continue
        t += gaps.get(step.id, 0.3)
        for token in ((extra or {}).get(step.id, "") + " " + step.line).split():
            words.append(Word(token.strip(",.?!").lower(), round(t, 3), round(t + 0.25, 3)))
            t += 0.28
    return words


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Two reps in a history: a hard close with a skipped step, a filler and a 1.8 s pause; a
    first-close-recovery whose required 2.5 s breath was held (accepted, longer than the usual limit)."""
    hard, recovery = load_drill("hard-close"), load_drill("first-close-recovery")
    hard_rep = analyse(said(hard, {"payment": 1.8}, skip=("email",), extra={"address": "um"}), hard, "fake", 30.0)
    recovery_rep = analyse(said(recovery, {"concern": 2.5}), recovery, "fake", 60.0)
    store = Store(tmp_path_factory.mktemp("views") / "history.db")
    for drill, report in ((hard, hard_rep), (recovery, recovery_rep)):
        store.save_rep(Session.of("check", drill, "fake", "none"), 1, report, "rep.wav")
    reps = store.reps()
    store.close()
    return reps


def text_of(draw, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    draw(console)
    return console.file.getvalue()


def test_the_verdicts_are_the_stored_ones_in_every_view(saved):
    hard, recovery = saved
    breath = next(p for p in recovery.report.pauses if p.to_step == "concern")
    assert breath.gap_s > recovery.max_pause_s and not breath.flagged  # accepted: a required pause, held
    assert recovery.report.flagged_pauses == 0 and hard.report.flagged_pauses == 1
    rows = list(csv.DictReader(io.StringIO(export(saved, "csv"))))
    assert [int(r["flagged_pauses"]) for r in rows] == [1, 0] and [int(r["steps_missing"]) for r in rows] == [1, 0]
    assert [int(r["score"]) for r in rows] == [hard.report.score, recovery.report.score]
    history = Console(file=io.StringIO(), width=120, color_system="truecolor")
    render_history(saved, history)
    lines = history.file.getvalue().splitlines()
    red = "\x1b[31m"
    assert red in next(line for line in lines if "hard-close" in line)  # its flagged pause is red
    assert red not in next(line for line in lines if "first-close" in line)  # the accepted breath is not
    html = page(saved)
    assert html.count("class='n bad'") == 1 and "Next rep:" in html and "unclear" in html or "skipped" in html
    for rep in saved:
        assert json.loads(export([rep], "jsonl"))["report"] == to_dict(rep.report)
    one = page(saved[:1])
    assert "a recording checked · " in one and " · speech recogniser: fake, none</p>" in one  # (not "engine fake (none) · check")
    meta = one.split("<p class=meta>")[1].split("</p>")[0]
    assert "recogniser" not in meta  # the rep's own words first; what heard it is small print at the end
    assert "recording: rep.wav · " in one and "<th>pause</th>" in one and "<th>gap</th>" not in one


def test_a_rep_has_one_number_in_every_view(saved):
    """One rep read "rep 3", "rep 16" and "s14 #3" on one screen (found by a manager): it is named
    by its number, its place in its session said in words ("Rep 2 (1st of s2)"), never "#N"."""
    html = page(saved)
    assert all(f"<h2 id='rep-{r.id}'>Rep {r.id} (1st of s{r.session}) — " in html for r in saved)
    history = text_of(lambda c: render_history(saved, c), 120)
    rows = [line for line in history.splitlines() if re.match(r"\s+\d+\s+s\d+\s", line)]
    assert len(rows) == 2 and not any(re.search(r"#\d", line) for line in history.splitlines())
    from dataclasses import replace

    assert replace(saved[0], id=0, session=0).called == "a rep waiting on this computer"  # (its chart read "rep 0 (1st of s0)")


@pytest.mark.parametrize("number, said", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"),
                                          (21, "21st"), (22, "22nd"), (23, "23rd"), (101, "101st"), (111, "111th"), (112, "112th")])
def test_a_reps_place_in_its_session_is_said_in_words(number, said):
    from voicedrill.data import in_session

    assert in_session(14, number) == f"{said} of s14"


def test_json_carries_the_coaching(saved):
    hard = to_dict(saved[0].report)
    assert set(hard["coaching"]) == {"focus", "tips", "unlike"} and hard["coaching"]["unlike"] is False
    assert hard["coaching"]["focus"] == hard["coaching"]["tips"][0]["tip"]
    assert {t["about"] for t in hard["coaching"]["tips"]} == {"email", "pause before payment", "filler words"}
    assert all(set(t) >= {"about", "tip"} for t in hard["coaching"]["tips"])


@pytest.mark.parametrize("width", [80, 120])
def test_scorecard_in_plain_words_and_nothing_cut(saved, width):
    for rep in saved:
        text = text_of(lambda c: render(rep.report, c, title=f"Rep {rep.id}"), width)
        assert text.startswith("Next rep: ") and "…" not in text
        text = " ".join(text.split())
        assert not [word for word in JARGON if word in text], text
        for label in ("steps said", "in order", "pauses between questions", "speaking pace", "words to avoid"):
            assert label in text
    hard = " ".join(text_of(lambda c: render(saved[0].report, c), width).split())
    assert "skipped" in hard and "Filler words" in hard and "You skipped the email" in hard


@pytest.mark.parametrize("width", [80, 120])
def test_tables_fit_without_cutting_values_or_names(saved, width):
    history = text_of(lambda c: render_history(saved, c), width)
    listing = text_of(lambda c: render_drill_list(list_drills(), c), width)
    summary = text_of(lambda c: render_summary([r.report for r in saved], c, numbers=[r.id for r in saved]), width)
    for text in (history, listing, summary):
        assert "…" not in text and max(len(line) for line in text.splitlines()) <= width
    for name in ("hard-close", "first-close-recovery", "micro-commitment", "soft-to-hard"):
        assert re.search(rf"\b{name}\b", listing), listing
    # a history two people share has a "who" column: at 80 columns the score was cut off the right edge
    from dataclasses import replace

    shared = text_of(lambda c: render_history([saved[0], replace(saved[1], user="bernadette")], c), width)
    rows = [line for line in shared.splitlines() if re.match(r"\s+\d+\s+s\d+\s", line)]
    assert "score" in shared.splitlines()[1] and [line.split()[-1] for line in rows] == [str(r.report.score) for r in saved], shared




@pytest.mark.parametrize("chatter, shown", [
    ({"phone": "nice weather we are having today"}, "1 stretch"),
    ({"phone": "nice weather we are having today", "notes": "my cousin builds boats out west"}, "2 stretches"),
])
def test_speech_off_the_script_is_counted_in_words(drill, chatter, shown):
    report = analyse(said(drill, {s: 0.8 for s in chatter}, extra=chatter), drill, "fake", 30.0)
    text = " ".join(text_of(lambda console: render(report, console), 200).split())
    assert f"Said off the script: {shown}, starting at" in text

@pytest.mark.parametrize(("trend", "words"), [
    (15.0, "climbing about 15.0 points a rep"),
    (-10.0, "slipping about 10.0 points a rep — fix what the last rep's “Next rep” says"),
    (0.2, "holding steady — pick one tip"),
])
def test_the_run_trend_in_words(trend, words):
    """The run's closing line says where the score is heading and what to do, not a signed slope."""
    from voicedrill.report import summary_line

    first, last = (70, 40) if trend < 0 else (40, 70)
    line = summary_line({"first_score": first, "last_score": last, "best_rep": 3, "best_score": 70, "low_rep": 2, "low_score": 40, "trend_per_rep": trend})
    assert words in line and "+" not in line


def test_a_trend_the_first_and_last_reps_contradict_is_not_told():
    """"First rep 36 → last rep 86; … slipping about 3.1 points a rep" (found by a new user)."""
    from voicedrill.report import summary_line

    line = summary_line({"first_score": 36, "last_score": 86, "best_rep": 2, "best_score": 100, "low_rep": 1, "low_score": 36, "trend_per_rep": -3.1})
    assert "slipping" not in line and "up and down from rep to rep" in line
    level = summary_line({"first_score": 50, "last_score": 50, "best_rep": 3, "best_score": 90, "low_rep": 1, "low_score": 50, "trend_per_rep": 6.0})
    assert "climbing" not in level and "up and down" in level
    dipped = summary_line({"first_score": 90, "last_score": 90, "best_rep": 1, "best_score": 90, "low_rep": 2, "low_score": 60, "trend_per_rep": 0.0})
    assert "holding steady" not in dipped and "up and down" in dipped  # (90, 60, 90: a dip is no steady run)


def test_a_rep_not_scored_is_left_out_of_first_last_best_and_trend(drill):
    """A rep of another drill (asked whether it is the drill meant) reads 0 but is no score: a run
    of 100 then that rep read "First rep 100 → last rep 0 … slipping" (found by a new user)."""
    from dataclasses import replace

    from test_history import sample_report

    from voicedrill.report import reps_grid, summary, summary_line

    report = sample_report(drill)
    other = replace(report, score=0, coaching=replace(report.coaching, unlike=True))
    reports = [replace(report, score=score) for score in (80, 90)] + [other] + [replace(report, score=95), other]
    info = summary(reports)
    line = summary_line(info)
    assert line.startswith("First rep 80 → last rep 95; best: rep 4 (95); climbing") and " 0" not in line
    assert [row[-1].text for row in reps_grid(info).rows] == ["80", "90", "not scored", "95", "not scored"]
    assert summary_line(summary([other, other])) == "None of these reps was scored: little of what was said is like this drill's lines."
    assert summary_line(summary([other, replace(report, score=70)])) == "Score 70 (rep 2). A run of ten reps shows how it flows from rep to rep."
    # every view of that rep says so: its heading, a chart's title, the CSV (a review found "score 0" in each)
    from voicedrill.report import score_words

    assert score_words(other) == "not scored" and score_words(report) == f"score {report.score}"
    from voicedrill.report import score_line

    why = "not scored: little of what was said is like this drill's lines"
    unlike = replace(other, score_parts=tuple(replace(p, points=0, why=why) for p in report.score_parts))
    assert score_line(unlike) == "Not scored: little of what was said is like this drill's lines."  # once, not "Score 0/100 — …" five times


def test_two_reps_are_not_a_trend(drill):
    """Two reps, 60 then 80, were "climbing about 20.0 points a rep — it's starting to flow" (found
    by a new user): first → last says that much; a trend is told from three reps."""
    from dataclasses import replace

    from test_history import sample_report

    from voicedrill.report import summary, summary_line

    reports = [replace(sample_report(drill), score=score) for score in (60, 80, 85)]
    two, three = summary(reports[:2]), summary(reports)
    assert "trend_per_rep" not in two and "climbing" not in summary_line(two) and "60 → last rep 80" in summary_line(two)
    assert "climbing about 12.5 points a rep" in summary_line(three)


def test_a_run_back_to_100_after_a_dip_says_so_and_is_not_told_to_fix_it(drill):
    """"fix what the last rep's Next rep says" when that rep's Next rep said "Clean rep" (found by a
    new user); then 100, 100, 85, 100 read "slipping about 1.5 points a rep" and 100, 85, 100
    "holding steady at 100" beside the 85 (found by a manager)."""
    from dataclasses import replace

    from test_history import sample_report

    from voicedrill.report import summary, summary_line

    for scores in ((100, 100, 85, 100), (100, 85, 100)):
        line = summary_line(summary([replace(sample_report(drill), score=s) for s in scores]))
        assert line.endswith("; back to 100 after a dip to 85 (rep 3) — say the next one just like the last" if len(scores) == 4
                             else "; back to 100 after a dip to 85 (rep 2) — say the next one just like the last"), line
        assert "fix" not in line and "slipping" not in line and "steady" not in line
    # a dip is five points under both ends; a run that only began at 100 climbed to it; a steep slide is still slipping (found by a review)
    told = {scores: summary_line(summary([replace(sample_report(drill), score=s) for s in scores])).split("; ")[-1]
            for scores in ((40, 20, 100), (90, 89, 95, 100), (100, 90, 80, 70, 60, 65), (70, 69, 70), (90, 60, 90))}
    assert [words.split(" about")[0].split(" —")[0] for words in told.values()] == ["climbing", "climbing", "slipping", "holding steady", "up and down from rep to rep"]
    one = {"reps": 1, "best_rep": 4, "best_score": 86}
    assert summary_line(one) == "Score 86 (rep 4). A run of ten reps shows how it flows from rep to rep."
    assert summary_line(one, stopped=True) == "Score 86 (rep 4)."  # a run of ten stopped after one: not told to run ten


def test_a_dip_long_ago_is_not_told_as_todays(drill):
    """A person's progress over 30 reps, one dip to 60 at rep 3 and 100 since, read "back to 100
    after a dip to 60 (rep 3)" for good (found by a manager): the trend and a dip come from the
    latest ten reps, and the line says so; a run of ten still reads as a whole."""
    from dataclasses import replace

    from test_history import sample_report

    from voicedrill.report import TREND_WINDOW, summary, summary_line

    scores = [100, 100, 60, *[100] * 27]
    line = summary_line(summary([replace(sample_report(drill), score=s) for s in scores]))
    assert line == f"First rep 100 → last rep 100; best: rep 1 (100); over the last {TREND_WINDOW} scored reps, holding steady at 100 — keep it flowing, faster and more natural each time"
    for at in (26, 21):  # (21: the window's first rep, told from the rep before it; it read "climbing", found by a review)
        recent_dip = summary_line(summary([replace(sample_report(drill), score=60 if n == at else 100) for n in range(1, 31)]))
        assert recent_dip.endswith(f"over the last {TREND_WINDOW} scored reps, back to 100 after a dip to 60 (rep {at}) — say the next one just like the last")
    run = summary_line(summary([replace(sample_report(drill), score=s) for s in [100, 60, *[100] * 8]]))
    assert "over the last" not in run and run.endswith("; back to 100 after a dip to 60 (rep 2) — say the next one just like the last")


def test_a_climb_after_an_early_high_is_a_climb(drill):
    """90, then 40 climbing by 5 a rep to 85 (eleven reps) read "up and down": the window's rise was
    taken from rep 1's 90 (found by a review). A climb is told from the window's own first rep."""
    from dataclasses import replace

    from test_history import sample_report

    from voicedrill.report import summary, summary_line

    scores = [90, *range(40, 90, 5)]
    assert summary_line(summary([replace(sample_report(drill), score=s) for s in scores])).endswith(
        "over the last 10 scored reps, climbing about 5.0 points a rep — it's starting to flow")


def test_the_run_table_times_a_rep_as_the_history_does(drill):
    """The run table's "duration" showed a rep that skipped a step, to two decimals, beside a history
    that does not time it (found by a review): "time", to a tenth, "not timed" when not by the script."""
    from voicedrill.report import reps_grid, summary

    whole = analyse(said(drill, {}), drill, "fake", 30.0)
    half = analyse(said(drill, {}, skip=("email",)), drill, "fake", 30.0)
    grid = reps_grid(summary([whole, half], [1, 2]))
    assert grid.columns[1] == "time" and [row[1].text for row in grid.rows] == [f"{whole.timed_s:.1f}s", "not timed"]


def test_a_perfect_steady_run_is_told_to_keep_flowing():
    from voicedrill.report import summary_line

    line = summary_line({"first_score": 100, "last_score": 100, "best_rep": 1, "best_score": 100, "low_rep": 1, "low_score": 100, "trend_per_rep": 0.0})
    assert "holding steady at 100" in line and "tip" not in line


def test_a_recordings_name_with_escape_codes_is_shown_not_obeyed(drill):
    """A file named with a terminal's escape codes ("esc\\x1b[31mred.wav") coloured the terminal from
    the scorecard's title (found by an attack); its control characters show as "?"."""
    report = analyse([Word("email", 0.5, 0.9)], drill, "fake", 2.0)
    shown = text_of(lambda console: render(report, console, title="The close — esc\x1b[31mred.wav"), 100)
    assert "esc?[31mred.wav" in shown and "\x1b" not in shown


def test_a_refusal_naming_a_file_with_escape_codes_shows_them(cli, tmp_path):
    """The one line of a refusal echoed the file's name raw, escape codes and all (found by a review)."""
    code, out, err = cli("check", str(tmp_path / "nosuch\x1b[31m.wav"))
    assert code == 2 and err == f"voicedrill: error: {tmp_path}/nosuch?[31m.wav: no such file\n"


def test_a_rep_with_nothing_of_the_script_heard_is_not_told_its_points(drill):
    """"Next rep: None of the drill's lines were heard… (−100)" (found by a review): the score says it."""
    from voicedrill.report import focus_line, tip_lines

    report = analyse([Word("hello", 0.2, 0.6), Word("there", 0.7, 1.1)], drill, "fake", 3.0)
    assert focus_line(report) == report.coaching.focus and "(−" not in focus_line(report) and tip_lines(report) == []


def test_an_optional_step_left_out_is_not_needed_not_skipped():
    """soft-to-hard's concern, said only when they hesitate, was "skipped" in red on a rep that
    scored 100 (found by a new user)."""
    from voicedrill.drills import load_drill
    from voicedrill.report import steps_grid

    drill = load_drill("soft-to-hard")
    said, t = [], 0.5
    for step in [s for s in drill.steps if not s.optional]:
        for token in step.line.split():
            said.append(Word(token.strip(",.?!").lower(), round(t, 3), round(t + 0.27, 3)))
            t += 0.3
        t += 0.4
    report = analyse(said, drill, "fake", t + 0.5)
    concern = next(row for row in steps_grid(report).rows if row[0].text == "concern")
    assert report.score == 100 and concern[1].text == "not needed" and concern[1].role == ""


def test_live_event_lines_name_steps_as_the_rep_reads_them():
    """Lines printed live when output is no terminal said "✓ probe-me" (found by a new user)."""
    from voicedrill.live import EventType, LiveEvent
    from voicedrill.liveview import event_line

    drill = load_drill("first-close-recovery")
    assert event_line(LiveEvent(EventType.STEP, 3.04, 1, step="probe-me"), drill) == "  ✓ asking if it's you, said by 3.0s"
    assert event_line(LiveEvent(EventType.PAUSE_ALARM, 5.0, 1, after="probe-price"), drill) == "  ! pause after asking about price at 5.0s: keep moving"
    assert event_line(LiveEvent(EventType.PAUSE_ALARM, 5.0, 1), drill) == "  ! pause after the customer at 5.0s: keep moving"


def test_the_example_reps_note_names_its_hesitation_by_the_steps_name():
    """`check --example --drill micro-commitment` said "a hesitation … before dates" (found by a new user)."""
    from voicedrill.practice import example_note

    assert "before looking at dates on purpose" in example_note(load_drill("micro-commitment"))
