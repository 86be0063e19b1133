"""The pure analysis core on hand-made word timelines (no audio, no engine)."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest

from voicedrill.align import judge_order, keyword_reach, normalise
from voicedrill.analysis import analyse
from voicedrill.data import Word
from voicedrill.drills import Order, load_drill
from voicedrill.metrics import pace, pause_between, silence_between


def timeline(*parts: str | float, word_s: float = 0.3) -> list[Word]:
    """Words from strings; a float between strings is a silence of that many seconds."""
    words, t = [], 0.0
    for part in parts:
        if isinstance(part, float):
            t += part
            continue
        for token in part.split():
            words.append(Word(token, round(t, 3), round(t + word_s * 0.9, 3)))
            t += word_s
    return words


def lines(drill, *ids: str) -> list[str]:
    by_id = {s.id: s.line for s in drill.steps}
    return [by_id[i] for i in ids]


ALL = ("name", "phone", "email", "address", "notes", "payment", "handoff")


def test_normalise():
    assert normalise("Perfect. What's the best E-mail?") == ["perfect", "what's", "the", "best", "e", "mail"]


def test_keyword_reach_finds_what_a_window_search_finds():
    """The precomputed keyword positions agree with searching every window (words may hold spaces)."""
    import random

    rng = random.Random(7)
    vocabulary = ["card", "credit card", "the", "best", "email", "e", "mail", "number", "phone number"]
    keywords = [["card"], ["e", "mail"], ["phone", "number"], ["email"]]
    for _ in range(300):
        content = [rng.choice(vocabulary) for _ in range(rng.randint(0, 12))]
        chosen = rng.sample(keywords, rng.randint(1, 3))
        reach = keyword_reach(content, chosen)
        for first in range(len(content)):
            for last in range(first, len(content)):
                window = f" {' '.join(content[first : last + 1])} "
                assert (reach[first] <= last) == any(f" {' '.join(k)} " in window for k in chosen)
    assert keyword_reach(["a", "b"], []) == [-1, -1]  # a step without keywords: every window holds one


def test_clean_rep_scores_full(drill):
    report = analyse(timeline(*lines(drill, *ALL)), drill, "fake", 30.0)
    assert [s.status for s in report.steps] == ["ok"] * 7
    assert report.order_ok and report.score == 100
    assert [p.gap_s for p in report.pauses] == pytest.approx([0.03] * 6, abs=1e-6)
    assert not report.extra


@pytest.mark.parametrize("kind", ["cue", "hesitation"])
def test_a_slow_start_after_their_yes_is_not_coached_as_a_concern(drill, kind):
    """The customer's yes ("Yeah, that sounds good.") answered 3 s late: start collecting at once,
    with the first line; a hesitation answered as late: address the concern."""
    from voicedrill.data import CustomerTurn, TurnKind

    if kind == "cue":
        words, turn = timeline(4.0, *lines(drill, *ALL)), CustomerTurn(TurnKind.CUE, None, "Yeah, that sounds good.", 0.0, 1.0)
    else:  # the customer speaks in the silence after the name line
        words = timeline(*lines(drill, "name"), 3.5, *lines(drill, *ALL[1:]))
        end = words[len(lines(drill, "name")[0].split()) - 1].end
        turn = CustomerTurn(TurnKind.HESITATION, "name", "Can I think about it?", round(end + 0.1, 3), round(end + 0.6, 3))
    tips = [t.tip for t in analyse(words, drill, "fake", 40.0, turns=[turn]).coaching.tips]
    late = [t for t in tips if "you took" in t]
    if kind == "cue":
        assert late == ["They said yes and you took 3.0 s to start. Don't pause, don't celebrate: capture that momentum and "
                        "start collecting info at once: “Perfect. What's the best name for the account?”"]
    else:
        assert not any("They said yes" in t for t in tips) and any("pause" in t.lower() for t in tips)


def test_paraphrases_and_recognition_errors_still_match(drill):
    words = timeline(
        "what name should I put on the account",  # a listed variant
        "and what's a good phone there for you",  # "number" misheard
        "and what's the best the for you",  # "email" misheard: no keyword, close wording
        "this address here right",
        "anything specific i should note for the to",
        "are you using a credit or debit card today",
        "you're all set my tech will be out on friday you're going to love it",
    )
    report = analyse(words, drill, "fake", 30.0)
    assert [s.status for s in report.steps] == ["ok"] * 7


def test_short_phrases_need_their_keyword(drill):
    report = analyse(timeline("the"), drill, "fake", 5.0)
    assert all(s.status == "missing" for s in report.steps)


def test_missing_out_of_order_and_repeated(drill):
    words = timeline(*lines(drill, "name", "email", "phone", "address", "name", "notes", "payment", "handoff"))
    report = analyse(words, drill, "fake", 30.0)
    status = {s.id: s.status for s in report.steps}
    assert status["phone"] == "out_of_order" and not report.order_ok
    assert status["name"] == "repeated" and next(s for s in report.steps if s.id == "name").count == 2
    assert report.order_notes == ("phone came after email",)
    # pauses follow the spoken order, repeated steps included
    assert [(p.from_step, p.to_step) for p in report.pauses][:4] == [
        ("name", "email"), ("email", "phone"), ("phone", "address"), ("address", "name")
    ]
    # each saying and each pause keeps its own place in time: the second "name" is where it was said again
    again = next(i for i, w in enumerate(words) if i > 0 and w.text == words[0].text)
    line = len(lines(drill, "name")[0].split())
    name = next(s for s in report.steps if s.id == "name")
    assert name.again == ((words[again].start, words[again + line - 1].end),)
    into, out_of = report.pauses[3], report.pauses[4]
    assert (into.end, out_of.start) == name.again[0] and into.start < into.end
    assert all(p.start < p.end for p in report.pauses)


def test_payment_must_be_last_before_handoff(drill):
    words = timeline(*lines(drill, "name", "phone", "payment", "email", "address", "notes", "handoff"))
    report = analyse(words, drill, "fake", 30.0)
    assert {s.id for s in report.steps if s.status == "out_of_order"} == {"payment"}


@pytest.mark.parametrize("said, late", [
    (["name", "payment", "phone"], {"payment"}),  # was payment and phone: the scorecard then took phone back
    (["payment", "name"], {"payment"}),  # was both
    (["name", "payment", "phone", "email", "address", "notes", "handoff"], {"payment"}),
    (["name", "email", "phone"], {"phone"}),
])
def test_a_step_kept_last_said_early_is_the_one_out_of_order(drill, said, late):
    """Payment said second: at every moment of the rep (as live judges it) payment is the step out
    of order, never the phone line said after it in its right place."""
    for upto in range(2, len(said) + 1):
        bad, notes, _ = judge_order(said[:upto], drill)
        assert bad <= late and len(notes) == len(bad), (said[:upto], bad)
    assert judge_order(said, drill)[0] == late


def test_last_rule_without_strict_order(drill):
    from dataclasses import replace

    loose = replace(drill, order=Order.ANY)
    bad, notes, _ = judge_order(["name", "payment", "phone", "handoff"], loose)
    assert bad == {"payment"} and "payment must come after phone" in notes["payment"]
    assert judge_order(["phone", "name", "payment", "handoff"], loose)[0] == frozenset()
    assert judge_order(["name", "handoff", "payment"], loose)[0] == {"handoff"}


@pytest.mark.parametrize("heard, held", [
    ("so you want to do it", True),
    ("do you want on", False),  # "What name do you want on the account?"
    ("you want me to", False),  # "Anything you want me to note…": three of six
    # four of its six words, one after another, were tried as enough (a telephone line's "so you
    # want to eight"); ordinary questions then became phrases to avoid (found by a review)
    ("so you want to get started", False),
    ("i am sure you want to save money", False),
])
def test_a_phrase_to_avoid_needs_three_quarters_of_its_words_in_order(drill, heard, held):
    words = timeline(lines(drill, "name")[0], heard, *lines(drill, "phone"))
    assert bool(analyse(words, drill, "fake", 30.0).forbidden) is held


def test_a_short_phrase_to_avoid_needs_three_quarters_of_its_words():
    """ "Everyone else signs." is not said by "everyone else" (two of three words): "Everyone else I
    talk to…" is no pressure line."""
    recovery = load_drill("first-close-recovery")
    words = timeline("everyone else i talk to loves it")
    assert analyse(words, recovery, "fake", 30.0).forbidden == ()
    assert analyse(timeline("everyone else signs"), recovery, "fake", 30.0).forbidden


def test_a_pause_before_a_step_said_too_early_says_to_go_on_with_the_next_in_order(drill):
    """Phone, 2.5 s, then payment: "Ask for payment last" beside "You paused … before payment. Go
    straight to: 'Are you using a credit or debit card today?'" (found by a new user). The pause
    tip sends the rep on to the step that comes next: the email."""
    words = timeline(*lines(drill, "name", "phone"), 2.5, *lines(drill, "payment", "email", "address", "notes", "handoff"), 0.3)
    report = analyse(words, drill, "fake", 30.0)
    pause = next(t.tip for t in report.coaching.tips if t.about == "pause before payment")
    assert "before payment" in pause and pause.endswith("“Email?”"), pause
    in_order = analyse(timeline(*lines(drill, "name", "phone"), 2.5, *lines(drill, *ALL[2:])), drill, "fake", 30.0)
    assert next(t.tip for t in in_order.coaching.tips if t.about == "pause before email").endswith("“Email?”")
    # the first step not said yet, not merely the next listed (the email was said already: found by a review)
    swapped = timeline(*lines(drill, "name", "email", "phone"), 2.5, *lines(drill, "payment", "address", "notes", "handoff"))
    tip = next(t.tip for t in analyse(swapped, drill, "fake", 30.0).coaching.tips if t.about == "pause before payment")
    assert tip.endswith("“This address here, right?”"), tip
    # …nor an optional step (soft-to-hard's concern, with no concern raised)
    soft = load_drill("soft-to-hard")
    said = timeline(*[s.line for s in soft.steps if s.id == "soft"], 3.0, *[s.line for s in soft.steps if s.id == "payment"],
                    *[s.line for s in soft.steps if not s.optional and s.id not in ("soft", "payment")])
    tip = next(t.tip for t in analyse(said, soft, "fake", 40.0).coaching.tips if t.about == "pause before payment")
    assert tip.endswith(f"“{soft.step('name').line}”"), tip


@pytest.mark.parametrize("wpm, slow", [(149.7, False), (149.4, True)])
def test_pace_is_judged_as_shown_to_the_whole_word(drill, wpm, slow):
    """149.6 words a minute was shown "150 words a minute, target 150–220 (too slow)" with "Say it
    faster: 150 words a minute, aim for 150–220" (found by a new user): judged as shown."""
    n = len(" ".join(lines(drill, *ALL)).split())
    words = timeline(*lines(drill, *ALL), word_s=n * 60 / ((n - 0.1) * wpm))
    report = analyse(words, drill, "fake", 30.0)
    assert round(report.pace.speech_wpm, 1) == wpm
    told = [t.tip for t in report.coaching.tips if t.about == "speaking pace"]
    assert bool(told) is slow and all(f"{round(wpm)} words a minute" in t for t in told)
    assert ("(too slow)" in report.score_parts[3].why) is slow


def test_a_variant_said_is_shown_as_said_not_as_the_line_half_heard(drill):
    """A rep who said "What name should I put on the account?" (a variant) saw the line "Perfect.
    What's the best name for the account?" with "Perfect", "best" and "for" greyed, "not heard
    clearly" (found by a new user): the scorecard shows the wording said."""
    from voicedrill.report import from_dict, script_words, to_dict

    words = timeline("what name should i put on the account", *lines(drill, *ALL[1:]))
    report = analyse(words, drill, "fake", 30.0)
    name = report.steps[0]
    assert name.said_as == "What name should I put on the account?" and all(heard for _, heard in script_words(name))
    assert report.steps[1].said_as == drill.steps[1].line
    assert from_dict(to_dict(report)).steps[0].said_as == name.said_as


def test_forbidden_filler_and_extra(drill):
    words = timeline(lines(drill, "name")[0], "so you want to do it", "um", "by the way nice dog", *lines(drill, "phone"))
    report = analyse(words, drill, "fake", 30.0)
    assert [m.text for m in report.forbidden] == ["So you want to do it?"]
    assert [m.text for m in report.fillers] == ["um"]
    assert [m.text for m in report.extra] == ["by the way nice dog"]
    assert report.score_parts[-1].points == 0  # 20 for words to avoid and fillers, less 20 for the phrase and 5 for the filler
    about = [t.about for t in report.coaching.tips]
    assert "“So you want to do it?”" in about and "filler words" in about
    tip = next(t for t in report.coaching.tips if t.about == "filler words")
    assert "“um”" in tip.tip and report.score_parts[-1].why == "1 phrase to avoid, 1 filler word"
    # 20 + 5 points of problems in a part of 20: each tip shows its share of the 20 the part lost
    clean = [(t.about, t.points) for t in report.coaching.tips if t.about in ("“So you want to do it?”", "filler words")]
    assert clean == [("“So you want to do it?”", 16.0), ("filler words", 4.0)]


def test_tips_never_cost_more_than_their_part_lost(drill):
    """Six hesitations of 2 s cost 7 points each as problems, 42 in all, but the pauses part holds
    15: their one tip (the same advice six times over was noise) shows those 15, told about the
    longest and naming the others, and the part's reason counts them in words."""
    said = lines(drill, *ALL)
    words = timeline(*[part for line in said for part in (line, 2.0)][:-1])
    report = analyse(words, drill, "fake", 60.0)
    flow = next(p for p in report.score_parts if p.name == "flow")
    pauses = [t for t in report.coaching.tips if "pause" in t.about]
    assert flow.points == 0 and flow.why.startswith("6 pauses too long") and "(s)" not in flow.why
    assert [(t.about, t.points) for t in pauses] == [("pauses too long", 15.0)]
    assert pauses[0].tip.count("Don't pause between questions") == 1 and pauses[0].tip.count(" s before ") == 6
    assert report.coaching.tips[0] == pauses[0]  # hesitations of 2 s cost more than the slow pace


def test_each_step_skipped_costs_its_points_however_many_are_skipped(drill):
    """A rep who said only the first line scored 65, "in order", no pause too long, pace fine: the
    steps part's 35 points were gone after three skips, and every part after it was whole (found
    by a new user). A skip costs 14 wherever the points are; what it takes from the other parts
    is said in their reasons, and the skip tips show their 14 each."""
    scores = []
    for said in range(1, len(ALL) + 1):
        report = analyse(timeline(*[part for line in lines(drill, *ALL[:said]) for part in (line, 0.4)]), drill, "fake", 30.0)
        scores.append(report.score)
        skips = [t.points for t in report.coaching.tips if t.about in ALL]
        assert skips == [14.0] * (len(ALL) - said), (said, report.coaching.tips)
    assert scores == [16, 30, 44, 58, 72, 86, 100]
    one_line = analyse(timeline(lines(drill, "name")[0]), drill, "fake", 10.0)
    order = next(p for p in one_line.score_parts if p.name == "order")
    assert order.points < 5 and order.why == "in order — for the 1 of 7 steps said: the 6 skipped take 17.8 of these points"
    assert next(p for p in one_line.score_parts if p.name == "pace").points == 10  # (its points say the pace was in the band)
    assert sum(p.points for p in one_line.score_parts) == pytest.approx(16, abs=0.05)


def test_a_step_of_a_short_drill_costs_its_share_of_the_drill():
    """micro-commitment's first line alone scored 52, two of its four lines 69 with every other part
    whole (found by a new user): a step left out costs its share of the drill where that is more
    than 14, a quarter of four steps."""
    micro = load_drill("micro-commitment")
    said = [s.line for s in micro.steps if not s.optional]
    scores = [analyse(timeline(*[part for line in said[:n] for part in (line, 0.4)]), micro, "fake", 30.0).score for n in range(1, 5)]
    assert scores == [25, 50, 75, 100]


def test_only_skips_take_points_from_the_other_parts(drill):
    """Two steps skipped and the rest said over and again: the repeats' cost took points from the
    order, pauses and words parts, said to "go with the steps skipped" (found by a review)."""
    kept = lines(drill, "name", "phone", "email", "address", "notes")
    report = analyse(timeline(*[part for line in kept for part in (line, 0.3, line, 0.3)]), drill, "fake", 60.0)
    assert [s.status.value for s in report.steps].count("missing") == 2
    assert all(p.points == p.max_points for p in report.score_parts if p.name in ("order", "clean")), report.score_parts


def test_a_first_step_left_out_of_a_drill_without_a_customer_is_said_at_the_start():
    """"Say it right after the customer's first line" in a drill where the customer says nothing (found by a new user)."""
    from voicedrill.drills import parse_drill

    greeting = parse_drill('name="g"\n[[steps]]\nid="hello"\nline="Hi, thanks for calling."\n[[steps]]\nid="name"\nline="Who am I speaking with?"\n', "g.toml")
    focus = analyse(timeline("who am i speaking with"), greeting, "fake", 3.0).coaching.focus
    assert focus == "You left out hello: say “Hi, thanks for calling.” right after the start of the call."


def test_a_rep_with_anything_to_fix_scores_under_100(drill):
    """223 words a minute where 220 is the top: 0.3 points lost, shown "Score 100/100" with "Next
    rep: Slow down a little" (found by a new user). 100 is a rep with nothing to fix."""
    said = lines(drill, *ALL)
    fast = analyse(timeline(*[part for line in said for part in (line, 0.3)][:-1], word_s=0.235), drill, "fake", 30.0)  # about 223 words a minute
    assert 0 < 100 - sum(p.points for p in fast.score_parts) < 0.5 and fast.coaching.tips, fast.score_parts
    assert fast.score == 99
    assert analyse(timeline(*[part for line in said for part in (line, 0.3)][:-1]), drill, "fake", 30.0).score == 100


def test_a_pause_over_its_limit_is_charged_once_not_again_as_a_slow_pace(drill):
    """Six 3 s pauses on a rep said at about 200 words a minute: 0 of 15 for the pauses, and the
    pace, over the whole rep, read 93 words a minute and told the rep "Say it faster" as well
    (found by a new user). The pace is judged without the time the pauses ran over their limit."""
    said = lines(drill, *ALL)
    report = analyse(timeline(*[part for line in said for part in (line, 3.0)][:-1], word_s=0.3), drill, "fake", 60.0)
    pace = next(p for p in report.score_parts if p.name == "pace")
    assert report.pace.speech_wpm < 110 and pace.points == 10, pace  # (shown as measured; judged without the overrun)
    assert re.fullmatch(r"\d+ words a minute, \d\d\d leaving out the pauses too long, target 150–220", pace.why), pace.why
    assert [t.about for t in report.coaching.tips] == ["pauses too long"]
    # a rep in the band with a long pause is judged as measured: never "too fast" for having paused (found by a review)
    quick = analyse(timeline(*[part for line in said for part in (line, 0.3)][:-2], 2.5, said[-1], word_s=0.225), drill, "fake", 60.0)
    assert 150 <= quick.pace.speech_wpm <= 220 and next(p for p in quick.score_parts if p.name == "pace").points == 10, quick.pace


def test_the_pause_tip_is_about_the_pause_furthest_over_its_limit():
    """A 5.2 s pause where 5 s is allowed (the deliberate breath) and a 2.5 s one where 1.5 s is:
    the one tip for both coaches the 1 s overrun, not the breath ("Outside the one deliberate
    pause…" said of the deliberate pause itself), and names the other with its own limit."""
    drill = load_drill("first-close-recovery")
    ids = [s.id for s in drill.steps]
    said = lines(drill, *ids)
    words = timeline(said[0], 5.2, said[1], 2.5, *[part for line in said[2:] for part in (0.3, line)])
    tips = [t for t in analyse(words, drill, "fake", 60.0).coaching.tips if "pause" in t.about]
    assert [t.about for t in tips] == ["pauses too long"]
    assert re.fullmatch(r"You paused 2\.\d\d s before taking the blame \(limit 1\.5 s\)\. Outside the one deliberate pause.*” Also too long: 5\.2\d s before asking for a concern \(limit 5 s\)\.", tips[0].tip), tips[0].tip


def test_shares_of_a_part_add_up_to_what_it_lost(drill):
    """Three problems of one part share its 20 points: 6.7, 6.7 and 6.6 (rounded one by one, 20.1)."""
    words = timeline(*lines(drill, "name"), "so you want to do it", "do you still want to do it", "are you sure you want to", *lines(drill, "phone"))
    report = analyse(words, drill, "fake", 30.0)
    phrases = [t.points for t in report.coaching.tips if t.about.startswith("“")]
    assert sorted(phrases) == [6.6, 6.7, 6.7] and report.score_parts[-1].points == 0


def test_pause_is_silence_not_speech(drill):
    """A phrase said between two questions splits the pause (the longer silence around it
    counts); an "um" is a hesitation inside it (the silences on both sides count); a word heard
    faintly in a silence (the recogniser's guess in the noise) splits nothing."""
    name, phone = lines(drill, "name", "phone")
    words = timeline(name, 0.5, "so you want to do it", 0.7, phone)
    (pause,) = analyse(words, drill, "fake", 30.0).pauses
    assert pause.gap_s == pytest.approx(0.73, abs=1e-6) and not pause.flagged  # 0.03 s between words
    words = timeline(name, 0.5, "um", 0.7, phone)
    (pause,) = analyse(words, drill, "fake", 30.0).pauses
    assert pause.gap_s == pytest.approx(0.53 + 0.73, abs=1e-6) and pause.flagged
    words = timeline(name, 0.5, "bread", 0.7, phone)
    faint = [replace(w, conf=0.1) if w.text == "bread" else w for w in words]
    i = next(i for i, w in enumerate(faint) if w.text == "bread")
    silences = [(faint[i - 1].end, faint[i + 1].start)]  # the energy: silent all through the faint word
    (pause,) = analyse(faint, drill, "fake", 30.0, silences).pauses
    assert pause.gap_s == pytest.approx(silences[0][1] - silences[0][0], abs=1e-6) and pause.flagged


def test_pauses_from_audio_silences(drill):
    words = timeline(lines(drill, "name")[0], 0.4, lines(drill, "phone")[0])
    name_end = words[7].end
    phone_start = words[8].start
    # the recogniser put the edge 0.1 s early; the audio's silence is where it really is
    silences = [(0.35, 0.5), (name_end + 0.1, phone_start)]
    (pause,) = analyse(words, drill, "fake", 30.0, silences).pauses
    assert pause.gap_s == pytest.approx(phone_start - name_end - 0.1, abs=1e-6)
    assert silence_between(10.0, 10.2, [(10.5, 11.0)]) == 0.0


def test_a_breath_after_a_silence_is_pause_and_a_word_s_quiet_end_is_not():
    """Between two words 1 s apart, silent for 0.6 s and then a breath, all in one hush (sound 20
    dB or more under the speech): from the silence on all of it is pause; the hush before the
    silence is the quiet end of the word before, and stays the word's; a hush with no silence in
    it (a word's quiet edge, a line's soft onset) is not pause; a breath, a cough, a silence: the
    breath is pause before a cough as before a line."""
    assert silence_between(10.0, 11.0, [(10.0, 10.6)], hushes=[(9.95, 11.05)]) == pytest.approx(1.0)
    assert silence_between(10.0, 11.0, [(10.2, 10.6)], hushes=[(9.95, 11.05)]) == pytest.approx(0.8)
    assert silence_between(10.0, 11.0, [(10.0, 10.6)], hushes=[(9.95, 10.8)]) == pytest.approx(0.8)
    assert silence_between(10.0, 11.0, [(10.0, 10.6)], hushes=[(9.95, 10.6), (10.75, 11.05)]) == pytest.approx(0.6)
    assert silence_between(10.0, 11.0, [(10.0, 10.5), (10.8, 11.0)], hushes=[(9.95, 10.65), (10.8, 11.05)]) == pytest.approx(0.85)


def test_a_breath_never_shortens_a_pause_nor_counts_where_a_word_was_heard_unsure(drill):
    """The breath only ever adds to the silences (never below them, never more than the gap); where
    the recogniser heard a word unsure, the pause keeps to its silences (a quiet word is not a
    breath), while an "um" in the breath is part of the pause (its own sound not, when heard
    clearly). A word heard clearly splits the pause: the breath before it is pause before it."""
    cases = [
        (10.0, 10.2, [(10.0, 10.15)], [(9.9, 9.96), (10.0, 10.15)]),
        (10.0, 10.4, [(10.25, 10.4)], [(9.9, 10.1), (10.2, 10.45)]),
        (10.0, 11.0, [(9.5, 9.7), (10.0, 10.3)], [(9.4, 9.8), (9.9, 11.1)]),
        (10.0, 11.0, [(10.4, 10.2)], [(11.0, 10.0)]),  # spans the wrong way round: nothing
    ]
    for end, start, silences, hushes in cases:
        alone = silence_between(end, start, silences)
        assert alone <= silence_between(end, start, silences, hushes=hushes) <= start - end
    for word, conf, gap in (("right", 0.9, 0.7), ("right", 0.01, 0.6), ("um", 0.9, 0.8), ("um", 0.01, 1.0)):
        between = [Word(word, 10.7, 10.9, conf)]
        assert pause_between(10.0, 11.0, [(10.0, 10.6)], between, drill, [(9.95, 11.05)]) == pytest.approx(gap), (word, conf)


def test_pace():
    words = timeline("one two three four", 1.0, "five six seven eight")
    result = pace(words)
    span = words[-1].end - words[0].start
    assert result.speech_wpm == pytest.approx(8 * 60 / span, abs=0.1)
    assert result.articulation_wpm == pytest.approx(8 * 60 / (span - 1.03), abs=0.1)
    assert pace([]).speech_wpm is None


def test_slow_pace_loses_points(drill):
    report = analyse(timeline(*lines(drill, *ALL), word_s=0.6), drill, "fake", 60.0)
    part = next(p for p in report.score_parts if p.name == "pace")
    assert report.pace.speech_wpm < drill.pace_wpm[0] and part.points < 10 and "too slow" in part.why


def test_nothing_heard(drill):
    report = analyse([], drill, "fake", 3.0)
    assert report.score == 0 and all(s.status == "missing" for s in report.steps)
    assert report.pauses == () and report.duration_s is None


def test_words_are_sorted_and_blank_words_dropped(drill):
    words = timeline(*lines(drill, "name", "phone"))
    shuffled = [*words[::-1], Word("  ", 1.0, 1.1)]
    assert analyse(shuffled, drill, "fake", 9.0).steps == analyse(words, drill, "fake", 9.0).steps


@pytest.mark.parametrize("start, end", [(math.nan, 1.0), (-1.0, 0.5), (2.0, 1.0), (0.0, math.inf)])
def test_impossible_times_are_refused(drill, start, end):
    with pytest.raises(ValueError, match="impossible time"):
        analyse([Word("perfect", start, end)], drill, "fake", 3.0)


def test_a_word_too_short_to_measure_has_no_rate(drill):
    """Found by fuzzing: a 1e-309 s word made the rate infinite and the JSON crash."""
    from voicedrill.report import to_json

    report = analyse([Word("email", 0.0, 2.2e-309)], drill, "fake", 1.0)
    assert report.pace.speech_wpm is None
    assert '"wpm": null' in to_json(report)


def phone_words(*parts: tuple[str, float]) -> list[Word]:
    """(word, silence after it) pairs, 0.25 s a word."""
    words, t = [], 0.0
    for text, gap in parts:
        words.append(Word(text, round(t, 3), round(t + 0.25, 3)))
        t += 0.25 + gap
    return words


def test_a_filler_standing_for_a_misheard_script_word_is_not_a_filler(drill):
    """"phone ah for you" said in one breath is the recogniser's "number", not the rep's hesitation."""
    line = [("and", 0.0), ("what's", 0.0), ("a", 0.0), ("good", 0.0), ("phone", 0.05)]
    misheard = analyse(phone_words(*line, ("ah", 0.05), ("for", 0.0), ("you", 0.0)), drill, "fake", 5.0)
    assert misheard.fillers == () and {s.id: s.status for s in misheard.steps}["phone"] == "ok"
    said = analyse(phone_words(*line[:4], ("um", 0.05), ("phone", 0.0), ("number", 0.0), ("for", 0.0), ("you", 0.0)), drill, "fake", 5.0)
    assert [m.text for m in said.fillers] == ["um"]  # every script word is there: the um is extra
    hesitated = analyse(phone_words(*line[:4], ("phone", 0.8), ("ah", 0.8), ("for", 0.0), ("you", 0.0)), drill, "fake", 5.0)
    assert [m.text for m in hesitated.fillers] == ["ah"]  # alone between pauses: a real hesitation
    between = analyse(phone_words(*line, ("number", 0.0), ("for", 0.0), ("you", 0.6), ("um", 0.6), ("email", 0.0)), drill, "fake", 8.0)
    assert [m.text for m in between.fillers] == ["um"]


def test_unclear_stretches_never_count_against_the_rep(drill):
    """Words the recogniser barely caught (low confidence) make no filler, forbidden or off-script verdict."""
    clear = timeline(lines(drill, "name")[0], "um", "so you want to do it", "by the way nice dog", *lines(drill, "phone"))
    said = len(lines(drill, "name")[0].split())
    unclear = [replace(w, conf=0.05) if said <= i < said + 12 else w for i, w in enumerate(clear)]  # um + the phrase + the aside
    heard, mumbled = analyse(clear, drill, "fake", 30.0), analyse(unclear, drill, "fake", 30.0)
    assert heard.fillers and heard.forbidden and heard.extra
    assert not mumbled.fillers and not mumbled.forbidden and not mumbled.extra
    assert mumbled.score > heard.score


def test_every_tip_is_filled_in_with_each_field_its_kind_names(drill):
    """A manager's tip may use any field TIP_FIELDS names for its kind: each one is filled in."""
    from voicedrill.data import CustomerTurn, TurnKind
    from voicedrill.drills import TIP_FIELDS

    written = replace(drill, steps=tuple(replace(s, tip="") for s in drill.steps),
                      tips=tuple((k, k + ": " + " ".join(f"{f}=[{{{f}}}]" for f in TIP_FIELDS[k])) for k in TIP_FIELDS))
    skip_email = timeline(*lines(drill, "name", "phone"), 0.4, "um", 2.5, *lines(drill, "address", "payment", "notes", "handoff"), word_s=0.45)
    stopped = timeline(*lines(drill, "name"), 3.0)
    turn = CustomerTurn(TurnKind.HESITATION, "name", "Can I think about it?", stopped[-1].end + 0.1, stopped[-1].end + 0.6)
    tips = [t.tip for t in analyse(skip_email, written, "fake", 30.0).coaching.tips]
    tips += [t.tip for t in analyse(stopped, written, "fake", 10.0, turns=[turn]).coaching.tips]
    went_on = timeline(*lines(drill, "name"), 1.5, *lines(drill, "phone"))
    concern = CustomerTurn(TurnKind.HESITATION, "name", "Can I think about it?", went_on[7].end + 0.1, went_on[7].end + 0.9)
    tips += [t.tip for t in analyse(went_on, written, "fake", 10.0, turns=[concern]).coaching.tips if t.tip.startswith("unanswered")]
    assert {t.split(":")[0] for t in tips} == {"skipped", "pause", "last", "filler", "slow", "stopped", "unanswered"}
    for tip in tips:
        assert "[]" not in tip, tip


@pytest.mark.parametrize("silence, flagged", [(0.971, False), (0.976, True)])
def test_a_pause_is_judged_as_it_is_shown(drill, silence, flagged):
    """A word ends 0.03 s before the next starts (0.27 s of a 0.3 s slot), so `silence` seconds
    between two lines are a pause of silence + 0.03 s: 1.001 s reads 1.00s and is within the 1 s
    limit; 1.006 s reads 1.01s and is over it (found by a review: "1.00s | ≤ 1s | too long")."""
    name, phone, *rest = lines(drill, *ALL)
    report = analyse(timeline(name, silence, phone, 0.3, *rest), drill, "fake", 30.0)
    pause = report.pauses[0]
    assert abs(pause.gap_s - (silence + 0.03)) < 0.0015 and pause.flagged == flagged, pause


def test_a_concern_the_rep_went_straight_past_is_coached_and_one_they_answered_is_not(drill):
    """"If they hesitate at any point, address it calmly and continue." The rep who ignored the
    customer's "Can I think about it?" and asked for the phone was told nothing; now they are, in
    the playbook's words, and an answer of any words (not an "um") clears it."""
    from voicedrill.data import CustomerTurn, TurnKind

    import io

    from rich.console import Console

    from voicedrill.report import from_dict, render, to_dict

    def checked(*between: str | float):
        said = timeline(*lines(drill, "name"), 1.0, *between, *lines(drill, "phone"))
        turn = CustomerTurn(TurnKind.HESITATION, "name", "Can I think about it?", said[7].end + 0.05, said[7].end + 0.6)
        return analyse(said, drill, "fake", 12.0, turns=[turn])

    def coached(*between: str | float) -> list[str]:
        return [t.about for t in checked(*between).coaching.tips]

    assert "the customer's concern" in coached(0.0)
    assert "the customer's concern" in coached("um", 0.3)
    assert "the customer's concern" not in coached("i", "understand", "here's", "how", "we", "handle", "it", 0.3)
    ignored = checked(0.0)  # the verdict is the turn's, stored with it; the scorecard says it where it says the turn
    assert not ignored.turns[0].answered and from_dict(to_dict(ignored)).turns[0].answered is False
    assert next(p.why for p in ignored.score_parts if p.name == "flow").startswith("a concern not answered")
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render(ignored, console)
    assert "“Can I think about it?”: back in" in console.file.getvalue() and "not answered: you went straight on" in console.file.getvalue()


def test_a_line_said_three_times_is_shown_as_such(drill):
    """The steps table said "said twice ×3" for a line said three times (found by a new user)."""
    from voicedrill.report import steps_grid

    phone = lines(drill, "phone")[0]
    words = timeline(*lines(drill, "name"), 0.4, phone, 0.4, phone, 0.4, phone, 0.4, *lines(drill, *ALL[2:]))
    report = analyse(words, drill, "fake", 40.0)
    assert next(s for s in report.steps if s.id == "phone").count == 3
    row = next(r for r in steps_grid(report).rows if r[0].text == "phone")
    assert row[1].text == "said 3 times"


def test_a_reply_to_the_customer_over_its_limit_says_so(drill):
    """The customer line read "back in 1.17s (limit 1s)" and nothing more (found by a new user)."""
    import io

    from rich.console import Console

    from voicedrill.data import CustomerTurn, TurnKind
    from voicedrill.report import render

    said = timeline(*lines(drill, "name"), 2.5, *lines(drill, "phone"))
    turn = CustomerTurn(TurnKind.ANSWER, "name", "Jordan Miller.", said[7].end + 0.05, said[7].end + 0.6)
    report = analyse(said, drill, "fake", 12.0, turns=[turn])
    assert not report.turns[0].in_time
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render(report, console)
    assert "(limit 1s): too slow, answer at once" in console.file.getvalue()


def test_a_phrase_to_avoid_is_blamed_on_the_customer_line_it_follows(drill):
    """Payment said early, then the address; "So you want to do it?" after the address's answer was
    listed under the payment's answer too (its reply ran on to the handoff: found by a new user)."""
    from voicedrill.data import CustomerTurn, TurnKind

    said = timeline(*lines(drill, "name", "phone", "payment"), 1.0, *lines(drill, "email", "address"), 1.0, "so you want to do it",
                    *lines(drill, "notes", "handoff"))
    ends = {text: next(w.end for w in said if w.text == text) for text in ("today?", "right?")}
    turns = [CustomerTurn(TurnKind.ANSWER, step, answer, ends[last] + 0.1, ends[last] + 0.9)
             for step, answer, last in (("payment", "Credit, I guess.", "today?"), ("address", "Yes, that's the one.", "right?"))]
    report = analyse(said, drill, "fake", 40.0, turns=turns)
    assert [t.forbidden for t in report.turns] == [(), ("So you want to do it?",)]


def test_a_required_pause_counts_as_the_longest_only_when_it_is_flagged():
    """first-close-recovery asks for a breath of 1.5–5 s before "concern": taken as asked it is no
    pause between questions; held 6 s it is flagged, and the longest pause says so (a review: the
    headline showed a small figure coloured as flagged)."""
    recovery = load_drill("first-close-recovery")
    ids = [s.id for s in recovery.steps]

    def said(breath: float):
        parts = []
        for step in recovery.steps:
            parts += [breath if step.id == "concern" else 0.4, step.line.lower().replace(",", "").replace(".", "").replace("?", "")]
        return analyse(timeline(*parts[1:]), recovery, "fake", 60.0)

    calm, held = said(2.0), said(6.0)
    assert [p.flagged for p in calm.pauses if p.to_step == "concern"] == [False] and calm.longest_pause_s < 1.0
    assert [p.flagged for p in held.pauses if p.to_step == "concern"] == [True] and held.longest_pause_s > 5.0
    assert ids[1] == "concern"


@pytest.mark.parametrize("word_s, told", [(0.33, "say it faster"), (0.28, "Keep that pace")])
def test_a_clean_rep_at_the_top_of_the_pace_band_is_not_told_to_speed_up(drill, word_s, told):
    """"Say it faster" to a clean rep already at 215 of 150–220 words a minute pushes them over the
    band (found by a new user); near the top, the tip says to keep the pace."""
    report = analyse(timeline(*lines(drill, *ALL), word_s=word_s), drill, "fake", 30.0)
    assert report.score == 100 and report.coaching.tips == ()
    assert told.lower() in report.coaching.focus.lower(), (report.pace.speech_wpm, report.coaching.focus)


def test_tips_are_listed_by_the_points_they_show_and_the_focus_shows_its_own(drill):
    """A concern's 5 points shrink to 2.7 in a pauses part already lost to a long pause, and were
    listed before a pace tip's 3.1 (found by a new user). The focus said no points at all."""
    import io

    from rich.console import Console

    from voicedrill.data import CustomerTurn, TurnKind
    from voicedrill.report import render

    said = timeline(*lines(drill, "name"), 1.5, *lines(drill, "phone", "email", "address", "notes"), 6.0, *lines(drill, "payment", "handoff"), word_s=0.42)
    concern = CustomerTurn(TurnKind.HESITATION, "name", "Can I think about it?", said[7].end + 0.1, said[7].end + 0.9)
    report = analyse(said, drill, "fake", 40.0, turns=[concern])
    points = [t.points for t in report.coaching.tips]
    assert [t.about for t in report.coaching.tips] == ["pause before payment", "the customer's concern", "speaking pace"], points  # (the pace judged without the 5 s the long pause ran over)
    assert points == sorted(points, reverse=True)
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render(report, console)
    assert f"Next rep: {report.coaching.focus} (−{points[0]:g})" in console.file.getvalue()


def test_a_word_misheard_between_lines_is_not_speech_off_the_script(drill):
    """"Perfect." heard as "it" between two lines was "Not in the script: 1 stretch of speech" on a
    rep that said nothing else (found by a new user); a remark of a few words still is."""
    said = timeline(*lines(drill, "name", "phone"), "it", *lines(drill, "email"), "my cousin builds boats", *lines(drill, "address", "notes", "payment", "handoff"))
    assert [m.text for m in analyse(said, drill, "fake", 30.0).extra] == ["my cousin builds boats"]


def test_a_rep_of_another_drill_is_asked_whether_it_is_the_drill_meant(drill):
    """Checked as the hard close, a rep that says one of its lines among another drill's is asked
    first whether this is the drill meant, and not scored (a 72 beside the question read as a pass:
    found by a new user); the hard close said through is not. Words heard clearly with none of the
    drill's lines are another drill's too (they were told to speak closer to the microphone)."""
    other = timeline("does it make sense to put a proposal together", 0.4, *lines(drill, "name"), 0.4,
                     "what would you say is a good next step then", 0.4, "absolutely that makes sense", 0.4, "let's look at some dates together")
    asked = analyse(other, drill, "fake", 30.0)
    assert asked.coaching.unlike and asked.coaching.focus.startswith("Little of what you said matches this drill's lines")
    assert f"“{drill.steps[0].line}”" in asked.coaching.focus
    from voicedrill.report import focus_line, tip_lines

    assert asked.score == 0 and all(p.why == "not scored: little of what was said is like this drill's lines" for p in asked.score_parts)
    assert focus_line(asked) == asked.coaching.focus and tip_lines(asked) == []  # the question alone, no points
    assert not asked.by_the_script and asked.fix_first == "not this drill?"  # no targets, bests or team time from it
    none = analyse(timeline("does it make sense to put a proposal together", 0.4, "let's look at some dates together"), drill, "fake", 10.0)
    assert none.nothing_heard and none.coaching.unlike and "microphone" not in none.coaching.focus
    assert not analyse(timeline(*lines(drill, *ALL)), drill, "fake", 30.0).coaching.unlike


def test_every_step_said_in_order_is_the_drill_however_long_the_rep_talked_between():
    """A hard close said whole, with a fifty-word answer to a concern in it, scored 100 and was
    asked whether it was the drill meant (found by a review)."""
    drill = load_drill("hard-close")
    concern = " ".join(["i", "understand", "you", "are", "worried", "about", "the", "cost", "so", "let", "me", "explain"] * 4 + ["okay", "now"])
    report = analyse(timeline(*lines(drill, "name", "phone"), 0.5, concern, 0.5, *lines(drill, "email", "address", "notes", "payment", "handoff")), drill, "fake", 60.0)
    assert report.score == 100 and not report.coaching.unlike and report.by_the_script


def test_a_phrase_to_avoid_said_twice_is_one_tip_and_still_the_focus(drill):
    """Said twice, the phrase was two tips of 10 points each, below the skipped email's 14, which
    became the focus: the playbook ranks the phrase worse (found by a review)."""
    said = timeline(*lines(drill, "name"), "so you want to do it", *lines(drill, "phone"), "so you want to do it", *lines(drill, "address", "notes", "payment", "handoff"))
    tips = analyse(said, drill, "fake", 40.0).coaching.tips
    assert [t.about for t in tips] == ["“So you want to do it?”", "email"] and tips[0].points == 20


def test_steps_are_named_in_words_a_rep_reads_never_by_their_ids():
    """first-close-recovery's tips and tables said "You skipped probe-price" and "before probe-me"
    (found by a new user): a step is named by its title, or its id in words ("next step"), in the
    tips, the reasons, the order notes, the JSON report, and what a manager reads first."""
    from voicedrill.report import from_dict, to_dict

    drill = load_drill("first-close-recovery")
    said = [s.id for s in drill.steps if s.id != "probe-price"]
    said[said.index("probe-timing")], said[said.index("probe-company")] = "probe-company", "probe-timing"
    words = timeline(*[part for i, line in enumerate(lines(drill, *said)) for part in ((2.0, line) if i == 1 else (0.3, line))])
    report = analyse(words, drill, "fake", 60.0)
    skip = next(t for t in report.coaching.tips if t.about == "asking about price")
    assert skip.tip == "You left out asking about price: say “Is it the price?” right after taking the blame.", skip.tip  # (the probes: any order)
    assert report.fix_first == "skipped asking about price"
    assert "(skipped: asking about price)" in report.score_parts[0].why
    stored = to_dict(report)
    assert [s["title"] for s in stored["steps"]][:4] == ["acknowledging", "asking for a concern", "taking the blame", "asking if it's you"]
    assert [s.named for s in from_dict(stored).steps] == [s.named for s in report.steps]
    for step in stored["steps"]:
        del step["title"]  # a report saved before steps had titles: its ids in words
    assert [s.named for s in from_dict(stored).steps][3:5] == ["probe me", "probe price"]
    micro = load_drill("micro-commitment")
    assert micro.named("next-step") == "asking the next step" and replace(micro.steps[1], title="").named == "next step"
    assert not any(re.search(r"\bprobe-|\bnext-step\b", t.tip) for t in report.coaching.tips)


def test_each_drill_coaches_the_customers_lines_in_its_own_terms():
    """The customer's opening line was always "their yes": first-close-recovery's is their no, and
    the rep was told to "start collecting". micro-commitment's next line is the answer to a
    hesitation, yet the rep was told "you went straight on" (found by a new user)."""
    from voicedrill.data import CustomerTurn, TurnKind

    recovery = load_drill("first-close-recovery")
    words = timeline(3.0, *[part for line in lines(recovery, *[s.id for s in recovery.steps]) for part in (2.0, line)][1:])
    turn = CustomerTurn(TurnKind.CUE, None, recovery.customer.cue, 0.0, 1.0)
    late = [t.tip for t in analyse(words, recovery, "fake", 60.0, turns=[turn]).coaching.tips if "you took" in t.tip]
    assert late == ["They said “I don't think we're ready to confirm today.” and you took 2.0 s to answer (limit 1.5 s). Don't freak out, "
                    "and don't go quiet yet: acknowledge it at once (“Okay. I hear you.”), then take your breath."]
    micro = load_drill("micro-commitment")
    said = lines(micro, *[s.id for s in micro.steps])
    words = timeline(said[0], 0.5, said[1], 2.0, said[2], 0.5, said[3])
    end = words[len(said[0].split()) + len(said[1].split()) - 1].end
    hesitation = CustomerTurn(TurnKind.HESITATION, "next-step", micro.customer.hesitations[0], round(end + 0.1, 3), round(end + 1.2, 3))
    report = analyse(words, micro, "fake", 30.0, turns=[hesitation])
    assert report.turns[0].answered and not any("went straight on" in t.tip for t in report.coaching.tips)
    assert not load_drill("hard-close").customer.next_step_answers  # where the next question is no answer, it is still told


@pytest.mark.parametrize("said, started", [
    ([("ah", 2.61, 2.72), ("it", 2.79, 2.91)], 2.61),  # "ah-does it…": run straight into its words, the reply began at it
    ([("ah", 2.61, 2.72), ("it", 3.02, 3.2)], 3.02),  # "ah", then a stall of 0.3 s: no reply yet
    ([("um", 1.0, 2.9), ("perfect", 3.0, 3.3)], 3.0),  # a stall said aloud is no reply
    ([("um", 1.0, 1.3), ("uh", 1.35, 1.6), ("er", 1.65, 2.9), ("perfect", 3.0, 3.3)], 3.0),  # nor is a chain of fillers
    ([("um", 1.0, 1.2), ("uh", 1.3, 1.6), ("perfect", 1.65, 2.0)], 1.3),  # only the filler run into the reply counts
])
def test_a_reply_begins_at_one_short_filler_run_into_it(drill, said, started):
    from voicedrill.metrics import reply_start

    assert reply_start([Word(w, a, b) for w, a, b in said], 1.0, drill) == started


def test_a_reps_time_leaves_out_the_customers_lines(drill):
    """The team view showed a rep with the customer answering as twice as slow as the same rep
    alone (found by a new user): the rep's time, as its pace, leaves the customer's lines out."""
    from voicedrill.data import CustomerTurn, TurnKind

    said = lines(drill, *ALL)
    alone = analyse(timeline(said[0], 0.7, *[part for line in said[1:] for part in (0.4, line)]), drill, "fake", 60.0)
    words = timeline(said[0], 3.0, *[part for line in said[1:] for part in (0.4, line)])
    end = words[len(said[0].split()) - 1].end
    answer = CustomerTurn(TurnKind.ANSWER, "name", "Jordan Miller.", round(end + 0.3, 3), round(end + 2.6, 3))
    answered = analyse(words, drill, "fake", 60.0, turns=[answer])
    assert answered.duration_s == pytest.approx(words[-1].end - words[0].start - 2.3, abs=0.01)
    assert answered.duration_s == pytest.approx(alone.duration_s, abs=0.01) and answered.pace.speech_wpm == pytest.approx(60 * len(words) / answered.duration_s, rel=0.01)
    # its timeline's arrow drew the reply's time across the customer's whole answer: the pause sits after their line
    pause = answered.pauses[0]
    assert (pause.start, pause.end) == (answer.end, pytest.approx(answer.end + pause.gap_s)) and pause.gap_s < 1.0
