"""Drill files: the shipped drill loads; broken ones are refused with file:line: field: problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicedrill.drills import load_drill, parse_drill
from voicedrill.errors import VoicedrillError

GOOD = """name = "mini"
[rules]
max_pause_s = 1.0
[[steps]]
id = "one"
line = "First question?"
[[steps]]
id = "two"
line = "Second question?"
"""


def test_hard_close_matches_the_playbook():
    drill = load_drill("hard-close")
    assert [s.id for s in drill.steps] == ["name", "phone", "email", "address", "notes", "payment", "handoff"]
    lines = {s.id: s.line for s in drill.steps}
    assert lines["name"] == "Perfect. What's the best name for the account?"
    assert lines["address"] == "This address here, right?"
    assert lines["notes"] == "Anything specific I should note for the tech?"
    assert lines["payment"] == "Are you using a credit or debit card today?"
    assert lines["handoff"].startswith("You're all set.") and lines["handoff"].endswith("You're going to love it.")
    assert drill.order == "strict" and drill.last == ("payment", "handoff")
    assert "So you want to do it?" in drill.forbidden
    assert {"um", "uh"} <= set(drill.fillers)


def test_a_drill_by_path(tmp_path):
    path = tmp_path / "mini.toml"
    path.write_text(GOOD)
    assert load_drill(str(path)).name == "mini"


@pytest.mark.parametrize(
    "text, expected",
    [
        (GOOD.replace('name = "mini"', 'name = "mini'), ":1: invalid TOML: Illegal character '\\n' (a quote \" is not closed on this line"),
        # pasted from a word processor (found by a new user's manager: "Invalid value" said nothing)
        (GOOD.replace('line = "First question?"', 'line = “First question?”'), ":6: invalid TOML: Invalid value (curly quotes “ ” from a word processor: type the text between straight quotes"),
        # a straight quote inside a tip, and a field given twice (found by a new user's manager: neither said what to do)
        (GOOD.replace('line = "First question?"', 'line = "Say "First" first?"'), ":6: invalid TOML: Expected newline or end of document after a statement (a straight quote \" inside a text ends it"),
        (GOOD.replace('name = "mini"', 'name = "mini"\nname = "maxi"'), ":2: invalid TOML: Cannot overwrite a value (this field or table is given twice: keep one of them)"),
        (GOOD.replace('name = "mini"\n', ""), ":1: name: missing required field"),
        (GOOD.replace('id = "two"', 'id = "one"'), ':8: step 2, id: duplicate id "one"'.replace('"one"', "'one'")),
        (GOOD.replace('line = "Second question?"\n', ""), ":7: step 2, line: missing required field"),
        (GOOD.replace("max_pause_s = 1.0", "max_pause_s = -2"), ":3: rules.max_pause_s: must be a number"),
        (GOOD.replace("max_pause_s = 1.0", 'order = "sideways"'), ":3: rules.order: unknown order rule"),
        (GOOD.replace("max_pause_s = 1.0", "pace_wpm = [200, 100]"), ":3: rules.pace_wpm: must be [low, high]"),
        (GOOD.replace("max_pause_s = 1.0", 'last = ["three"]'), ":3: rules.last: names unknown step"),
        (GOOD.replace('line = "First question?"', "line = 3"), ":6: step 1, line: must be a string"),
        (GOOD.replace('id = "one"', 'id = "One Two"'), ":5: step 1, id: 'One Two' must be lower-case"),
        (GOOD.replace('id = "one"', 'id = "one"\nkeyword = ["x"]'), ":6: step 1, keyword: unknown field"),
        (GOOD.replace("[rules]", "colour = 1\n[rules]"), ":2: colour: unknown field"),
        (GOOD.split("[[steps]]")[0], ":1: steps: missing"),
        (GOOD.replace('line = "First question?"', 'line = "First question?"\nvariants = "x"'), ":7: step 1, variants: must be a list"),
        (GOOD.replace('id = "one"', 'id = "one"\noptional = "yes"'), ":6: step 1, optional: must be true or false"),
        (GOOD + '[[rules.pauses]]\nfrom = "one"\nto = "three"\n', ":12: rules.pauses, entry 1, to: unknown step 'three'"),
        (GOOD + '[[rules.pauses]]\nfrom = "one"\nto = "two"\nmin_s = 3\nmax_s = 1\n', ":13: rules.pauses, entry 1, min_s: contradiction"),
        (GOOD + '[[rules.pauses]]\nfrom = "one"\nto = "two"\nmin_s = 3\n', ":13: rules.pauses, entry 1, min_s: contradiction: min_s 3 is above the drill's max_pause_s"),
        (GOOD + '[[rules.pauses]]\nfrom = "one"\nto = "one"\n', ":12: rules.pauses, entry 1, to: a pause goes between two different steps"),
        (GOOD + '[[rules.pauses]]\nfrom = "one"\nto = "two"\nmin_s = -1\n', ":13: rules.pauses, entry 1, min_s: must be a number of seconds 0 or more"),
        (GOOD + '[[rules.pauses]]\nto = "two"\n', ":10: rules.pauses, entry 1, from: missing required field"),
        (GOOD.replace('id = "one"', 'id = "one"\ngroup = "g"') + '[[steps]]\nid = "three"\nline = "Third?"\ngroup = "g"\n',
         ":14: step 3, group: the steps of group 'g' must be listed together"),
        (GOOD.replace("max_pause_s = 1.0", 'last = ["two"]').replace('id = "one"', 'id = "one"\ngroup = "g"').replace('id = "two"', 'id = "two"\ngroup = "g"'),
         ":3: rules.last: contradiction: group 'g' mixes last and other steps"),
        # the drill's own rep, said as written, was scored out of order and told to keep the order it kept (found by a new user)
        (GOOD.replace("max_pause_s = 1.0", 'last = ["two", "one"]'), ":3: rules.last: contradiction: 'two' before 'one', but the steps are written the other way round"),
        (GOOD.replace("[rules]", "[customer]\ncue = 3\n[rules]"), ":3: customer.cue: must be a string"),
        (GOOD.replace('id = "two"\nline = "Second question?"', 'id = "two"\nline = "   "'), ":9: step 2, line: must not be empty"),
        # a tip's typo would fail every rep it coaches (a traceback, the rep unsaved) or read as nothing
        (GOOD + '[tips]\npause = "You paused {gap} (limit {limit)"\n', ":11: tips.pause: has a { or } with no partner"),
        (GOOD + '[tips]\npause = "You paused {gap:.1f}"\n', ":11: tips.pause: write just {gap}: voicedrill writes it out for you"),
        (GOOD + '[tips]\npause = "Go straight to: {lnie}"\n', ":11: tips.pause: {lnie} is not a field voicedrill fills in for this tip; use {step}, {line}, {gap}, {limit}"),
        (GOOD + '[tips]\nskipped = "You paused {gap}"\n', ":11: tips.skipped: {gap} is not a field voicedrill fills in for this tip; use {step}, {line}, {after}"),
        (GOOD + '[tips]\nclean = "Clean rep at {wpm}"\n', ":11: tips.clean: {wpm} is not a field voicedrill fills in for this tip; it has none"),
        (GOOD.replace('id = "one"', 'id = "one"\ntip = "Ask {0} first"'), ":6: step 1, tip: {0} is not a field"),
        # a step's title heads the scorecard's first column and names it in tips: short, and one a step
        (GOOD.replace('id = "one"', 'id = "one"\ntitle = "' + "a" * 31 + '"'), ":6: step 1, title: 31 characters: a step's title heads a column, so it has at most 30"),
        (GOOD.replace('id = "two"', 'id = "two"\ntitle = "one"'), ":9: step 2, title: two would be shown as 'one', as one is: give each step its own title"),
        (GOOD.replace('id = "one"', 'id = "one"\ntitle = "  "'), ":6: step 1, title: is empty: leave the line out to show the step's id"),
        (GOOD.replace('id = "one"', 'id = "one"\ntitle = "\u200b"'), ":6: step 1, title: is empty: leave the line out to show the step's id"),
        # said where the title is written, whichever step has it; "Two" and "two" read as one name (found by a fault attack)
        (GOOD.replace('id = "one"', 'id = "one"\ntitle = "Two"'), ":6: step 1, title: two would be shown as 'two', as one is: give each step its own title"),
    ],
)
def test_broken_drills_say_where(tmp_path, text, expected):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(VoicedrillError) as caught:
        load_drill(str(path))
    assert str(caught.value).startswith(str(path) + ":")
    assert expected in str(caught.value)


def test_a_curly_apostrophe_inside_straight_quotes_gets_no_curly_quotes_hint():
    """Scripts are full of "we’ll": a mistake elsewhere on such a line was blamed on curly quotes (found by a review)."""
    with pytest.raises(VoicedrillError) as caught:
        parse_drill(GOOD.replace('line = "First question?"', 'line = "We’ll call you" x'), "d.toml")
    assert str(caught.value) == "d.toml:6: invalid TOML: Expected newline or end of document after a statement"


def test_unknown_drill_name_lists_known():
    with pytest.raises(VoicedrillError, match="known: .*hard-close"):
        load_drill("no-such-drill")


def test_missing_drill_file():
    with pytest.raises(VoicedrillError, match="no such drill file"):
        load_drill("/nowhere/x.toml")


def test_parse_is_pure():
    assert parse_drill(GOOD, "inline").steps[1].id == "two"


def test_a_tip_reads_with_its_fields_filled_and_a_brace_written_twice_as_one():
    """On the scorecard: the pause tip with its gap and limit; the clean tip, which has no field, too."""
    from voicedrill.analysis import analyse
    from voicedrill.data import Word

    drill = parse_drill(GOOD + '[tips]\npause = "{{Pause}} {gap} over {limit} before {step}"\nclean = "{{Clean}} rep"\n', "inline")
    said = [Word("first", 0.0, 0.3), Word("question", 0.3, 0.6), Word("second", 2.6, 2.9), Word("question", 2.9, 3.2)]
    assert analyse(said, drill, "fake", 4.0).coaching.focus == "{Pause} 2.00 s over 1 s before two"
    assert analyse(said[:2] + [Word(w.text, w.start - 1.7, w.end - 1.7) for w in said[2:]], drill, "fake", 4.0).coaching.focus == "{Clean} rep"


def test_validate_command(tmp_path):
    import subprocess
    import sys

    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    broken = tmp_path / "broken.toml"
    broken.write_text(GOOD.replace('id = "two"', 'id = "one"'))
    run = subprocess.run([sys.executable, "-m", "voicedrill.cli", "drills", "validate", str(good), str(broken)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"{good}: ok (mini, 2 steps)" in run.stdout
    assert run.stderr.strip() == f"{broken}:8: step 2, id: duplicate id 'one'"
    ok = subprocess.run([sys.executable, "-m", "voicedrill.cli", "drills", "validate", str(good)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0
    # by name, as `drills list` and `drills show` take it: "no such drill file" (found by a new user's manager)
    named = subprocess.run([sys.executable, "-m", "voicedrill.cli", "drills", "validate", "soft-to-hard", "no-such-drill"],
                           capture_output=True, text=True, timeout=60)
    assert named.returncode == 2 and "drills/soft-to-hard.toml: ok (soft-to-hard, 5 steps)" in named.stdout
    assert named.stderr.startswith("no drill named 'no-such-drill' (known: "), named.stderr


MANY_MISTAKES = """name = "My Drill"
colour = "red"
[rules]
order = "sometimes"
last = ["payment"]
[[steps]]
id = "name"
line = "Can I get your name?"
optional = "yes"
[[steps]]
id = "phone"
line = "And your phone?"
keywords = "phone"
[[steps]]
id = "payment"
line = "Card number?"
[[rules.pauses]]
from = "name"
to = "fone"
[tips]
pause = "Pause {gapp}"
"""


def test_every_mistake_in_a_drill_is_named_in_file_order_and_none_is_made_up():
    """A manager fixes a file once, not once per mistake. A step with a mistake of its own is still a
    step: the pause rule and rules.last that name it are not reported as naming an unknown step."""
    from voicedrill.drills import DrillMistakes

    with pytest.raises(DrillMistakes) as refused:
        parse_drill(MANY_MISTAKES, "mine.toml")
    assert [m.split(": ")[0] for m in refused.value.mistakes] == [f"mine.toml:{n}" for n in (1, 2, 4, 9, 13, 19, 21)]
    assert refused.value.mistakes[3] == "mine.toml:9: step 1, optional: must be true or false, not 'yes'"
    assert not any("'name'" in m or "'payment'" in m for m in refused.value.mistakes)
    assert str(refused.value) == refused.value.mistakes[0] + " (and 6 more mistakes in this file)"
    with pytest.raises(DrillMistakes) as one:
        parse_drill(GOOD.replace('"Second question?"', "2"), "one.toml")
    assert str(one.value) == "one.toml:9: step 2, line: must be a string, not int" and len(one.value.mistakes) == 1


CASCADES = {  # (a drill file, the mistakes it holds, by line and field): none made up from another, none missed
    "a bad max_pause_s is not the limit a pause's min_s is held to":
        ('name="x"\n[rules]\nmax_pause_s = "5"\n[[rules.pauses]]\nfrom="a"\nto="b"\nmin_s=2\n[[steps]]\nid="a"\nline="A?"\n[[steps]]\nid="b"\nline="B?"\n',
         ["3: rules.max_pause_s"]),
    "steps that are not a list name no unknown step": ('name="x"\nsteps = 3\n[rules]\nlast=["a"]\n[[rules.pauses]]\nfrom="a"\nto="b"\n', ["2: steps"]),
    "a group is checked as written, a step with a mistake holding its place":
        ('name="x"\n[[steps]]\nid="a"\nline="A"\ngroup="g"\n[[steps]]\nid="b"\ngroup="h"\n[[steps]]\nid="c"\nline="C"\ngroup="g"\n',
         ["6: step 2, line", "12: step 3, group"]),
    "rules.last is checked against the groups as written":
        ('name="x"\n[rules]\nlast=["c"]\n[[steps]]\nid="a"\nline="A"\n[[steps]]\nid="b"\ngroup="g"\n[[steps]]\nid="c"\nline="C"\ngroup="g"\n',
         ["3: rules.last", "7: step 2, line"]),
    "every mistake inside one step": ('name="x"\n[[steps]]\nid="A"\noptional="yes"\nrepeat=1\nvariants=3\nkeywords=[1]\n',
                                      ["2: step 1, line", "3: step 1, id", "4: step 1, optional", "5: step 1, repeat", "6: step 1, variants", "7: step 1, keywords"]),
    "every mistake inside one pause rule": ('name="x"\n[[steps]]\nid="a"\nline="A"\n[[rules.pauses]]\nfrom="a"\nto="a"\nmin_s=-1\nmax_s="x"\n',
                                            ["7: rules.pauses, entry 1, to", "8: rules.pauses, entry 1, min_s", "9: rules.pauses, entry 1, max_s"]),
    "tables that are not tables": ('name="x"\nsteps=3\nrules="x"\ntips=[]\ncustomer=1\n', ["2: steps", "3: rules", "4: tips", "5: customer"]),
    "no steps name no unknown step": ('name="x"\nsteps = []\n[rules]\nlast=["a"]\n[[rules.pauses]]\nfrom="a"\nto="b"\n', ["2: steps"]),
    "a line inside a multi-line text is no table": ('name="x"\ndescription = """\nA drill.\n[[steps]]\n"""\n[[steps]]\nid = "a"\nline = 3\n',
                                                     ["8: step 1, line"]),
    "a name longer than a drill's name may be (it was added, then could not be opened)":
        ('name="' + "a" * 101 + '"\n[[steps]]\nid="a"\nline="A?"\n', ["1: name"]),
    "a duplicate of a step with a mistake": ('name="x"\n[[steps]]\nid="one"\nline=3\n[[steps]]\nid="one"\nline="x"\n',
                                              ["4: step 1, line", "6: step 2, id"]),
}


@pytest.mark.parametrize("case", sorted(CASCADES))
def test_each_mistake_is_named_once_and_none_is_made_up_from_another(case):
    from voicedrill.drills import DrillMistakes

    text, expected = CASCADES[case]
    with pytest.raises(DrillMistakes) as refused:
        parse_drill(text, "f.toml")
    assert [m.removeprefix("f.toml:").split(":")[0] + ":" + m.removeprefix("f.toml:").split(":")[1] for m in refused.value.mistakes] == expected


def test_a_drill_whose_lines_could_not_be_told_apart_is_refused_in_its_words():
    """Each part well written, yet a filler said by a line ("like": reading it exactly cost 5
    points), two steps with one wording (the second always "skipped") and keywords no wording
    holds (the line read aloud scored 0) were "ok" (found by a new user). Each is named."""
    from voicedrill.drills import DrillMistakes

    text = ('name="x"\n[rules]\nfillers = ["um", "like"]\n[[steps]]\nid="card"\nline="Which card would you like?"\n'
            '[[steps]]\nid="again"\nline="Which card would you like?"\n[[steps]]\nid="done"\nline="Thanks."\nkeywords=["zebra"]\n')
    with pytest.raises(DrillMistakes) as refused:
        parse_drill(text, "f.toml")
    assert list(refused.value.mistakes) == [
        "f.toml:3: rules.fillers: “like” is a filler, but step 1 (card) says it: reading the line would count it as a filler; take it out of the fillers",
        "f.toml:7: step 2: says “Which card would you like?” as step 1 (card) does: a rep's line could never be told apart; word it "
        "differently (or make one step with repeat = true)",
        "f.toml:13: step 3, keywords: none of them is in the step's line or variants: a rep reading the line would not be heard saying it; "
        "list words the line says"]
    parse_drill(text.replace('"um", "like"', '"um"').replace('id="again"\nline="Which card', 'id="again"\nline="Which other card')
                .replace('"zebra"', '"zebra", "thanks"'), "f.toml")  # each mended: a drill


def test_an_example_line_the_example_rep_would_be_faulted_for_is_refused():
    """"Um, who am I talking to?" as a step's example: `check --example` heard a filler and the step
    left out (found by an attack)."""
    from voicedrill.drills import DrillMistakes

    text = 'name="x"\n[rules]\nfillers=["um"]\n[[steps]]\nid="a"\nline="Who am I speaking with?"\nkeywords=["speaking"]\nexample="{}"\n'
    for example, said in (("Um, who am I speaking with?", "saying a filler"), ("Who am I talking to?", "leaving the step out")):
        with pytest.raises(DrillMistakes) as refused:
            parse_drill(text.format(example), "f.toml")
        assert list(refused.value.mistakes) == [f"f.toml:8: step 1, example: the example rep would be heard {said}"
                                                + (": none of its keywords is in it" if "out" in said else "") + "; write it as a rep should say the line"]
    parse_drill(text.format("So, who am I speaking with today?"), "f.toml")


def test_a_line_inside_another_or_with_no_word_to_hear_is_refused_and_a_curly_apostrophe_is_one():
    """A line inside another step's ("What is the best phone number…" and "And what is the best
    phone number…": the first always "skipped") and a line of no word the recogniser can hear
    ("???", a line in Cyrillic: 0 every time) passed (found by an attack); a keyword you're for
    "You’re all set" was refused. Each is said; the apostrophe is one."""
    from voicedrill.drills import DrillMistakes

    text = ('name="x"\n[[steps]]\nid="a"\nline="What is the best phone number for you?"\n[[steps]]\nid="b"\n'
            'line="And what is the best phone number for you?"\n[[steps]]\nid="c"\nline="???"\n[[steps]]\nid="d"\nline="You’re all set."\nkeywords=["you\'re"]\n')
    with pytest.raises(DrillMistakes) as refused:
        parse_drill(text, "f.toml")
    assert list(refused.value.mistakes) == [
        "f.toml:2: step 1: its wording is inside step 2's “And what is the best phone number for you?” (b): a rep saying that line would be "
        "heard saying this one too; word them apart",
        "f.toml:8: step 3: “???” has no word the recogniser can hear (it hears English words): write it in words"]


def test_validate_lists_every_mistake_on_its_own_line_and_other_commands_say_how_many(tmp_path, cli):
    path = tmp_path / "mine.toml"
    path.write_text(MANY_MISTAKES)
    code, out, err = cli("drills", "validate", path)
    assert code == 2 and err.count("\n") == 7 and all(line.startswith(f"{path}:") for line in err.splitlines())
    code, out, err = cli("drills", "show", path)
    assert code == 2 and err.count("\n") == 1 and err.rstrip().endswith("(and 6 more mistakes in this file)")


def test_validate_says_a_drill_of_your_own_a_shipped_one_hides_is_not_used(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    mine = tmp_path / "voicedrill" / "drills"
    mine.mkdir(parents=True)
    (mine / "mine.toml").write_text(GOOD.replace('name = "mini"', 'name = "soft-to-hard"'))
    code, out, err = cli("drills", "validate", mine / "mine.toml")
    assert code == 2 and "not used: voicedrill comes with a drill called 'soft-to-hard'" in err and "ok (" not in out


def test_list_and_show(tmp_path):
    import os
    import subprocess
    import sys

    mine = tmp_path / "voicedrill" / "drills"
    mine.mkdir(parents=True)
    (mine / "my-close.toml").write_text(GOOD.replace('name = "mini"', 'name = "my-close"'))
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "COLUMNS": "200"}
    listing = subprocess.run([sys.executable, "-m", "voicedrill.cli", "drills", "list"], capture_output=True, text=True, env=env, timeout=60)
    assert listing.returncode == 0
    for name in ("hard-close", "soft-to-hard", "micro-commitment", "first-close-recovery", "my-close"):
        assert name in listing.stdout
    show = subprocess.run([sys.executable, "-m", "voicedrill.cli", "drills", "show", "my-close"], capture_output=True, text=True, env=env, timeout=60)
    assert show.returncode == 0 and "First question?" in show.stdout and "Second question?" in show.stdout


def test_a_drill_of_your_own_that_one_coming_with_voicedrill_hides_is_listed_as_not_used(tmp_path, monkeypatch):
    """A manager's edited copy of hard-close.toml in their drills folder was never used, and
    nothing said so: `drills list` did not show it, `drills show hard-close` showed the old rules.
    Now it is listed, with why and what to change; so is a file of another name whose name = is
    a shipped drill's (its reps would mix with that drill's). A broken file is named by its file name
    and line, at 80 columns too."""
    import io

    from rich.console import Console

    from voicedrill.drills import Drill, list_drills
    from voicedrill.report import render_drill_list

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    mine = tmp_path / "voicedrill" / "drills"
    mine.mkdir(parents=True)
    shipped = load_drill("hard-close")
    text = (Path(__file__).parents[1] / "drills" / "hard-close.toml").read_text()
    (mine / "hard-close.toml").write_text(text.replace("max_pause_s = 1.0", "max_pause_s = 0.8"))
    (mine / "my-close.toml").write_text(text)
    (mine / "zz-broken.toml").write_text(GOOD.replace("max_pause_s", "max_pase_s"))
    found = {(p.parent == mine, p.name): d for p, d in list_drills()}
    assert isinstance(found[False, "hard-close.toml"], Drill) and found[False, "hard-close.toml"].max_pause_s == shipped.max_pause_s
    assert str(found[True, "hard-close.toml"]) == f"{mine}/hard-close.toml: not used: voicedrill comes with a drill called 'hard-close'; rename the file and its name = line"
    assert str(found[True, "my-close.toml"]) == f"{mine}/my-close.toml: not used: voicedrill comes with a drill called 'hard-close'; change its name = line"
    (mine / "soft-to-hard.toml").write_text(GOOD)
    assert str(dict((p.name, d) for p, d in list_drills() if p.parent == mine)["soft-to-hard.toml"]).endswith("called 'soft-to-hard'; rename the file")
    for name in ("my-close", str(mine / "my-close.toml"), str(mine / "hard-close.toml")):  # by its name or its path: never used, its reps never mixed in
        with pytest.raises(VoicedrillError, match="not used: voicedrill comes with a drill called 'hard-close'"):
            load_drill(name)
    assert load_drill("hard-close").max_pause_s == shipped.max_pause_s
    outside = tmp_path / "clash.toml"  # a link in the folder is judged where it is found, not where it points
    outside.write_text(text.replace('name = "hard-close"', 'name = "soft-to-hard"'))
    (mine / "linked.toml").symlink_to(outside)
    with pytest.raises(VoicedrillError, match="called 'soft-to-hard'; change its name = line"):
        load_drill("linked")
    (mine / "ok.toml").write_text(GOOD.replace('name = "mini"', 'name = "other"'))  # found by its file name, it names itself otherwise
    with pytest.raises(VoicedrillError, match="its name = line says 'other', so voicedrill looks for it as other.toml"):
        load_drill("ok")
    console = Console(file=io.StringIO(), width=80, color_system=None)
    render_drill_list(list_drills(), console)
    rows = [" ".join(line.split()) for line in console.file.getvalue().splitlines()]
    assert any(r.startswith("│ hard-close.toml │ — │ not used: voicedrill comes") for r in rows)
    assert any(r.startswith("│ my-close.toml │ — │ not used: voicedrill comes") for r in rows)
    assert any(r.startswith("│ zz-broken.toml │ — │ broken: zz-broken.toml:3:") for r in rows), rows


def test_show_says_a_drills_required_pause_and_steps_in_any_order(cli):
    """`drills show first-close-recovery` said only "pauses between steps ≤ 1.5 s": a rep learned of
    the breath it requires before "concern", and that the probes come in any order, from a failed
    scorecard (found by a new user). At 80 columns a wrapped line keeps its indent."""
    code, out, err = cli("drills", "show", "first-close-recovery")
    assert code == 0, err
    said = " ".join(out.split())
    assert "asking for a concern Is there a concern you have that I haven't addressed? (take a pause of at least 1.5 seconds before it" in said
    assert "asking about price Is it the price? (in any order with asking if it's you, asking about the company, asking about timing)" in said
    assert "Rules: the steps in the order written; pauses between questions at most 1.5 seconds, unless a step says otherwise" in said
    steps = out[out.index("\n1. ") : out.index("Rules:")]
    assert max(map(len, out.splitlines())) <= 80 and all(line[:1] in " 123456789" for line in steps.splitlines() if line), out


def test_show_says_how_long_a_soft_close_may_come_again_and_a_pause_rule_across_an_optional_step(cli):
    """soft-to-hard's soft close may come again after a concern, not once the name was asked; its
    2 s pause from soft to name holds with the optional concern listed between them."""
    code, out, err = cli("drills", "show", "soft-to-hard")
    assert code == 0, err
    said = " ".join(out.split())
    assert "soft close Does this sound like something that would help you? (may be said again before name, or after concern)" in said
    assert "name Perfect. What's the best name for the account? (after soft close, the pause before it may be up to 2 seconds)" in said
    assert "pauses between questions at most 1 second, unless" in said


def test_the_order_tip_names_each_drills_own_sequence():
    """Every drill was told the hard close's "name, phone, email, address, notes, then payment"; an
    optional step is said as one, a group as steps in any order."""
    assert load_drill("hard-close").sequence == "name, phone, email, address, notes, payment, then handoff"
    assert load_drill("soft-to-hard").sequence == "soft close, concern if needed, name, email, then payment"
    assert ("asking if it's you / asking about price / asking about the company / asking about timing in any order, staying, "
            "then setting an agenda") in load_drill("first-close-recovery").sequence


def test_show_tips_lets_a_manager_read_every_tip_as_a_rep_will(cli):
    """A manager edits a drill's [tips] as data, but read them only when a rep made that mistake
    (found by a new user): `drills show --tips` fills each in with example figures, under when it is
    given, the drill's own where it has one. A step left out is said after the required step before
    it: soft-to-hard's name "right after concern" (an optional step) read as if the concern came first."""
    code, out, err = cli("drills", "show", "soft-to-hard", "--tips")
    assert code == 0, err
    said = " ".join(out.split())
    assert "What a rep is told (with example figures)" in said
    assert "name left out: You left out name: say “Perfect. What's the best name for the account?” right after soft close." in said
    assert "an answered concern, then straight on: You answered the concern, then went straight on. Soft close again first:" in said  # its own
    assert "a pause over the limit: You paused 2.40 s before name (limit 2 s). Don't pause: momentum is everything." in said
    assert max(map(len, out.splitlines())) <= 80
    code, out, _ = cli("drills", "show", "micro-commitment", "--tips")
    assert "a hesitation not answered" not in out and "What a rep is told" in out  # its next line answers a hesitation
    code, out, _ = cli("drills", "show", "micro-commitment")
    assert "What a rep is told" not in out
