"""Drill files: the shipped drill loads; broken ones are refused with file:line: field: problem."""

from __future__ import annotations

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
    assert "so you want to do it" in drill.forbidden
    assert {"um", "uh"} <= set(drill.fillers)


def test_a_drill_by_path(tmp_path):
    path = tmp_path / "mini.toml"
    path.write_text(GOOD)
    assert load_drill(str(path)).name == "mini"


@pytest.mark.parametrize(
    "text, expected",
    [
        (GOOD.replace('name = "mini"', 'name = "mini'), ":1: invalid TOML"),
        (GOOD.replace('name = "mini"\n', ""), ":1: name: missing required field"),
        (GOOD.replace('id = "two"', 'id = "one"'), ':8: steps[1].id: duplicate id "one"'.replace('"one"', "'one'")),
        (GOOD.replace('line = "Second question?"\n', ""), ":7: steps[1].line: missing required field"),
        (GOOD.replace("max_pause_s = 1.0", "max_pause_s = -2"), ":3: rules.max_pause_s: must be a number"),
        (GOOD.replace("max_pause_s = 1.0", 'order = "sideways"'), ":3: rules.order: unknown order rule"),
        (GOOD.replace("max_pause_s = 1.0", "pace_wpm = [200, 100]"), ":3: rules.pace_wpm: must be [low, high]"),
        (GOOD.replace("max_pause_s = 1.0", 'last = ["three"]'), ":3: rules.last: last[0] names unknown step"),
        (GOOD.replace('line = "First question?"', "line = 3"), ":6: steps[0].line: must be a string"),
        (GOOD.replace('id = "one"', 'id = "One Two"'), ":5: steps[0].id: 'One Two' must be lower-case"),
        (GOOD.replace('id = "one"', 'id = "one"\nkeyword = ["x"]'), ":6: steps[0].keyword: unknown field"),
        (GOOD.replace("[rules]", "colour = 1\n[rules]"), ":2: colour: unknown field"),
        (GOOD.split("[[steps]]")[0], ":1: steps: missing"),
        (GOOD.replace('line = "First question?"', 'line = "First question?"\nvariants = "x"'), ":7: steps[0].variants: must be a list"),
    ],
)
def test_broken_drills_say_where(tmp_path, text, expected):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(VoicedrillError) as caught:
        load_drill(str(path))
    assert str(caught.value).startswith(str(path) + ":")
    assert expected in str(caught.value)


def test_unknown_drill_name_lists_known():
    with pytest.raises(VoicedrillError, match="known: .*hard-close"):
        load_drill("no-such-drill")


def test_missing_drill_file():
    with pytest.raises(VoicedrillError, match="no such drill file"):
        load_drill("/nowhere/x.toml")


def test_parse_is_pure():
    assert parse_drill(GOOD, "inline").steps[1].id == "two"
