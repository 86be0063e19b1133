"""Choosing between the streamed and the whole hearing of an utterance: the pure logic, on words
(the real engine hears real audio twice in tests/test_accuracy.py)."""

from __future__ import annotations

from voicedrill.data import Word
from voicedrill.drills import load_drill
from voicedrill.hearing import CONTEXT_WORDS, better, context, word_for_word

DRILL = load_drill("hard-close")


def said(text: str, start: float) -> list[Word]:
    """The words of a line, 0.2 s a word, from `start`."""
    return [Word(t, round(start + 0.2 * i, 3), round(start + 0.2 * i + 0.18, 3)) for i, t in enumerate(text.split())]


NAME = said("perfect what's the best name for the account", 0.0)


def test_a_line_heard_word_for_word_is_not_heard_again():
    assert word_for_word(NAME, said("and what's a good phone number for you", 2.0), DRILL)
    assert word_for_word(NAME, said("um what's the best phone number for you", 2.0), DRILL)  # a filler is the rep's
    assert word_for_word([], NAME, DRILL)


def test_anything_else_is_heard_again():
    assert not word_for_word(NAME, said("and what old i we on little you", 2.0), DRILL)  # no step
    assert not word_for_word(NAME, said("he", 2.0), DRILL)  # a bare "Email?" heard as another word
    assert not word_for_word(NAME, said("and what's a good phone our for you", 2.0), DRILL)  # a step, not said as written
    assert not word_for_word([], NAME + said("and the weather", 2.0), DRILL)  # words besides the script
    assert not word_for_word(NAME, [], DRILL)  # speech heard as no words at all


def test_the_whole_hearing_is_kept_when_it_explains_more_of_the_script():
    streamed = said("and what old i we on little you", 2.0)
    whole = said("and what's the best phone number for you", 2.0)
    assert better(NAME, streamed, whole, DRILL) == whole
    assert better(NAME, whole, streamed, DRILL) == whole  # …and the stream's when it is the better one
    assert better(NAME, streamed, [], DRILL) == streamed  # nothing heard whole: the stream stands


def test_a_step_heard_out_of_place_does_not_win():
    """Judged after the words said before: the address line heard after the notes explains no
    more of the script in order."""
    before = NAME + said("what's the best phone number for you", 2.0) + said("and what's the best email for you", 4.0)
    before += said("anything specific i should note for the tech", 6.0)
    streamed = said("and this the dress here right", 8.0)
    assert better(before, streamed, said("and this address here is right", 8.0), DRILL) == streamed


def test_the_stream_s_fillers_stay_with_the_whole_hearing():
    """Hearing whole tends to drop an "um" or hear it as a word: the stream's filler is kept, and a
    whole word under it goes."""
    streamed = [Word("um", 2.0, 2.3)] + said("and what old i we on little you", 2.4)
    whole = [Word("a", 2.05, 2.25)] + said("and what's the best phone number for you", 2.4)
    kept = better(NAME, streamed, whole, DRILL)
    assert [w.text for w in kept] == ["um"] + [w.text for w in whole[1:]]


def test_a_misheard_filler_put_back_never_undoes_the_whole_hearing_s_win():
    """The stream heard "uh" where the whole hearing has "good phone number" (its line came later in
    the stream): put back, that "uh" would drop the step words; the stream's hearing stands."""
    whole = said("and what's a good phone number for you", 2.0)
    streamed = said("and what's a", 2.0) + [Word("uh", 2.6, 3.15)] + said("phone number", 3.2)
    assert better(NAME, streamed, whole, DRILL) == streamed


def test_the_context_is_the_last_words_kept():
    many = said(" ".join(["word"] * (CONTEXT_WORDS + 5)), 0.0)
    assert context(many[:30], many[30:]) == many[-CONTEXT_WORDS:]
    assert context([], NAME) == NAME
