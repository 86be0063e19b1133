"""--customer mode with a recording standing in for the rep's microphone."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from voicedrill.audio import RATE, FileSource, to_pcm16
from voicedrill.customer import TURN_GAP_S, Customer
from voicedrill.live import ECHO_GUARD_S, EventType, LiveRep, run_rep
from voicedrill.practice import score_file
from voicedrill.synth import CUSTOMER_VOICE, Piece, Speaker, speak, write_wav

SEED = 7
ECHO_AFTER_S = 0.9  # the customer's voice reaches the mic this long after the rep's line
LATENCY_S = 0.9  # the rep comes back this long after the customer's line
REPLY = "I understand, here's how we handle that."


@pytest.fixture(scope="module")
def dialogue(drill, pieces, tmp_path_factory):
    """The mic's audio of a customer-mode rep: the rep's lines, and the customer's voice as echo."""
    speaker = Speaker(enabled=False)
    rng = random.Random(SEED)  # the same draws Customer.open() makes
    hesitate_at = rng.choice([s.id for s in drill.steps[1:-1]])
    hesitation = rng.choice(drill.customer.hesitations)
    parts: list[np.ndarray] = []
    truth: dict[str, float] = {}  # step id -> true start of the rep's line
    t = 0.0

    def add(samples: np.ndarray, at: float) -> float:
        nonlocal t
        parts.append(np.zeros(int(round((at - t) * RATE)), dtype=np.float32))
        parts.append(samples)
        t = at + samples.size / RATE
        return t

    cue = speaker.audio(drill.customer.cue, CUSTOMER_VOICE)
    end = add(cue, 0.0)  # the customer's yes, heard by the mic
    start = end + LATENCY_S
    for step in drill.steps:
        text = next(p.text for p in pieces if p.label == step.id)
        truth[step.id] = start
        end = add(speak(text), start)
        if step is drill.steps[-1]:
            break
        line = hesitation if step.id == hesitate_at else step.answer
        echo_end = add(speaker.audio(line, CUSTOMER_VOICE), end + ECHO_AFTER_S)
        start = echo_end + LATENCY_S
        if step.id == hesitate_at:
            reply_end = add(speak(REPLY), start)
            start = reply_end + 0.4
    parts.append(np.zeros(RATE // 2, dtype=np.float32))
    path = tmp_path_factory.mktemp("customer") / "dialogue.wav"
    write_wav(path, to_pcm16(np.concatenate(parts)))
    return path, truth, hesitate_at


def test_microphone_is_deaf_while_the_customer_speaks(drill, sphinx, dialogue):
    """The microphone path (a source that cannot wait): the customer's voice reaches the mic as
    echo, and is blanked during the line and its echo guard."""
    path, truth, hesitate_at = dialogue
    customer = Customer(drill, Speaker(enabled=False), random.Random(SEED))
    microphone = iter(FileSource(path))  # a plain stream of blocks: it cannot be held
    report = run_rep(LiveRep(drill, sphinx), microphone, customer=customer)
    assert customer.hesitate_at == hesitate_at
    turns = report.turns
    assert [t.turn.kind for t in turns].count("hesitation") == 1
    assert turns[0].turn.kind == "cue" and len(turns) == len(drill.steps)  # the cue + one per step but the last
    # half-duplex: nothing was transcribed while the customer spoke
    for t in turns:
        inside = [w for w in report.words if t.turn.start - 0.05 < w.start < t.turn.end + ECHO_GUARD_S]
        assert not inside, (t.turn, inside)
    # every step was still heard, and the rep's response time after each line is measured
    assert all(s.status == "ok" for s in report.steps), [(s.id, s.status) for s in report.steps]
    order = list(truth)
    for t in turns:
        assert t.continued
        if t.turn.kind == "hesitation":  # the rep came back with the reply, not the next question
            continue
        back = truth[order[0] if t.turn.after is None else order[order.index(t.turn.after) + 1]]
        assert t.latency_s == pytest.approx(back - t.turn.end, abs=0.2), t
    hesitated = next(t for t in turns if t.turn.kind == "hesitation")
    assert hesitated.turn.after == hesitate_at and hesitated.reply  # the rep addressed it, then carried on
    # between questions the pause is the rep's response time, not the customer's line
    latencies = {t.turn.after: t.latency_s for t in turns}
    for pause in report.pauses:
        assert pause.gap_s == pytest.approx(latencies[pause.from_step], abs=0.01)
        assert pause.flagged == (pause.gap_s > drill.max_pause_s)


WAIT_S = 0.9  # the recorded rep waits this long after each question for the answer


@pytest.fixture(scope="module")
def waiting_rep(drill, pieces, make_rep):
    """A recording of the rep alone, leaving room for the customer after each question."""
    return make_rep([Piece(p.text, p.label, WAIT_S) for p in pieces], "waiting")


def customer_run(drill, sphinx, path, seed):
    customer = Customer(drill, Speaker(enabled=False), random.Random(seed))
    events = []
    report = run_rep(LiveRep(drill, sphinx), FileSource(path), lambda state, new: events.extend(new), customer)
    return report, customer, events


@pytest.mark.parametrize("seed", [1, 3, 4, 7])
def test_recording_waits_for_the_customer(drill, sphinx, waiting_rep, seed):
    """From a file the recording is held while the customer speaks: nothing the rep said is lost,
    the cue comes first, each answer falls in the pause right after its question, one hesitation."""
    path, _ = waiting_rep
    report, customer, events = customer_run(drill, sphinx, path, seed)
    alone = score_file(path, drill, sphinx)
    assert [s.status for s in report.steps] == [s.status for s in alone.steps]  # nothing blanked
    assert len(report.words) == len(alone.words)
    turns = [t.turn for t in report.turns]
    assert turns[0].kind == "cue" and turns[0].end <= report.words[0].start
    assert [t.kind for t in turns].count("hesitation") == 1
    assert next(t.after for t in turns if t.kind == "hesitation") == customer.hesitate_at
    heard = [s for s in report.steps if s.status == "ok"]
    for turn in turns[1:]:
        i = next(i for i, s in enumerate(heard) if s.id == turn.after)
        assert heard[i].end <= turn.start and (i + 1 == len(heard) or turn.end <= heard[i + 1].start), turn
    assert {t.after for t in turns[1:]} == {s.id for s in heard[:-1]}  # every question answered but the handoff
    for result in report.turns:  # the rep came back in time, carried on and said nothing forbidden
        assert result.in_time and result.continued and not result.forbidden, result
        # the file resumes where it was held: the rest of the rep's wait (all of it after the cue)
        waited = WAIT_S if result.turn.kind == "cue" else WAIT_S - TURN_GAP_S
        assert result.latency_s == pytest.approx(waited, abs=0.15) and result.limit_s == drill.max_pause_s
    said = [e for e in events if e.type == EventType.CUSTOMER]
    assert [(e.kind, e.after, e.text, e.t) for e in said] == [(t.kind, t.after, t.text, t.start) for t in turns]


@pytest.fixture(scope="module")
def pauses_of_1_5(drill, tmp_path_factory):
    """`voicedrill synth --pause 1.5`: with the customer's lines in the gaps, the rep comes back
    just inside the limit (0.92–0.99 s on the scorecard) and once just over it (1.04 s)."""
    from voicedrill.practice import said_through
    from voicedrill.synth import DEFAULT_VOICE, build_rep, in_a_room

    path = tmp_path_factory.mktemp("synth") / "pause 1.5.wav"
    write_wav(path, in_a_room(build_rep(said_through(drill, 1.5, within_limits=False), DEFAULT_VOICE, 170)[0]))
    return path


@pytest.mark.parametrize("rep, seed", [("1.3 s", 1), ("1.3 s", 3), ("1.5 s", 2)])
def test_with_the_customer_the_live_alarms_are_the_scorecards(drill, sphinx, long_pauses, pauses_of_1_5, rep, seed):
    """The customer answers a rep said with 1.3 s pauses. Live, "pause after payment" went red
    where the scorecard has the rep back in 0.84 s: the meter added the silences inside "You're
    all set. … My tech …" until it was named the handoff. And the bare "Email?" after the phone's
    answer was never ticked, its pause alarmed as the phone's. Now the meter after the customer's
    line stops at the rep's first word, as the scorecard measures it, and the email is ticked.
    The rep starts 1.3 s after the customer's "yes": the scorecard takes points for it, and the
    meter (which only ran after a step) now runs from the "yes" and alarms it too.
    With 1.5 s pauses the rep came back in 0.99 s, 0.98 s and 0.99 s by the scorecard, and each
    was alarmed: the meter heard 1.02 s of silence, the recogniser starting the word 0.02–0.03 s
    before the sound. An alarm waits for the word once sound is back."""
    report, _, events = customer_run(drill, sphinx, long_pauses if rep == "1.3 s" else pauses_of_1_5, seed)
    assert {e.step for e in events if e.type == EventType.STEP} == {s.id for s in report.steps if s.status != "missing"} == {s.id for s in drill.steps}
    cue, = [t for t in report.turns if t.turn.kind == "cue"]
    too_long = [p.from_step for p in report.pauses if p.flagged and p.gap_s > p.max_s]
    assert not cue.in_time and [e.after for e in events if e.type == EventType.PAUSE_ALARM] == [None, *too_long]


@pytest.mark.parametrize("stall_s", [3.0, 0.45, 0.3])
def test_an_um_then_a_stall_after_the_customer_is_a_long_pause(drill, sphinx, pieces, make_rep, stall_s):
    """After the customer's answer the rep says "Um," and stalls 3 s: that was counted as coming
    back at once (the "um" was their reply), on the scorecard and the live meter alike. A filler
    is no reply: the pause runs to their next real word, flagged, and alarmed live — the "um"
    counted in it on the meter too (it added up only the silences: 0.86 s live, 1.18 s scored)."""
    recipe = [Piece(p.text, p.label, 0.5 if i == 0 else WAIT_S) for i, p in enumerate(pieces)]  # (a start clear of the limit)
    recipe[1:1] = [Piece("Um,", "", WAIT_S)]
    recipe[2] = Piece(recipe[2].text, recipe[2].label, stall_s)
    path, _ = make_rep(recipe, f"um after the answer, {stall_s} s")
    report, _, events = customer_run(drill, sphinx, path, 1)
    assert next(t for t in report.turns if t.turn.after == "name").turn.kind == "answer"
    too_long = [p.from_step for p in report.pauses if p.flagged and p.gap_s > p.max_s]
    assert too_long == ["name"] and not next(t for t in report.turns if t.turn.after == "name").in_time
    assert [e.after for e in events if e.type == EventType.PAUSE_ALARM] == too_long


def test_customer_mode_from_the_command_line(waiting_rep, tmp_path):
    path, _ = waiting_rep
    run = subprocess.run(
        [sys.executable, "-m", "voicedrill.cli", "drill", "--customer", "--seed", str(SEED), "--input", str(path),
         "--speed", "0", "--no-speech", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    (rep,) = tmp_path.glob("*/rep-01.json")
    customer = json.loads(rep.read_text())["report"]["customer"]
    assert [c["kind"] for c in customer].count("hesitation") == 1
    assert all(c["latency_s"] is not None and c["continued"] and c["in_time"] for c in customer)
    report = json.loads(rep.read_text())["report"]
    first, last = report["words"][0]["start"], report["words"][-1]["end"]
    customer_s = sum(min(c["end"], last) - max(c["start"], first) for c in customer if c["end"] > first)
    # speech rate counts the rep's time only, not the customer's lines
    expected = len(report["words"]) * 60 / (last - first - customer_s)
    assert report["pace"]["speech_wpm"] == pytest.approx(expected, rel=0.02)
    assert "customer (cue)" in run.stdout and "Customer hesitation" in run.stdout


def test_customer_mode_needs_customer_lines(tmp_path):
    drill = tmp_path / "silent.toml"
    drill.write_text('name = "silent"\n[[steps]]\nid = "a"\nline = "Hello there?"\n')
    rep = tmp_path / "rep.wav"
    write_wav(rep, to_pcm16(speak("Hello there?")))
    out = tmp_path / "sessions"
    run = subprocess.run(
        [sys.executable, "-m", "voicedrill.cli", "drill", "--customer", "--drill", str(drill), "--input", str(rep), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "no customer lines" in run.stderr
    assert not out.exists()  # refused before anything was created


def test_a_late_start_stays_red_until_the_rep_is_named_and_then_reads_too_long(drill, sphinx, pauses_of_1_5):
    """The rep starts 1.6 s after the customer's "yes". The meter went red while they were silent,
    then, the moment their sound came back (not yet named a word), the alarm went off again: red,
    then nothing, never "too long". Now red stays red while the word that decides it is heard,
    and once they are talking it reads "too long"."""
    shown: list[tuple[bool, bool]] = []
    ticked = []

    def watch(state, events):
        ticked.extend(e for e in events if e.type == EventType.STEP)
        if not ticked:
            shown.append((state.alarm, state.resumed))

    run_rep(LiveRep(drill, sphinx), FileSource(pauses_of_1_5), watch, Customer(drill, Speaker(enabled=False), random.Random(2)))
    red = [alarm for alarm, _ in shown]
    assert True in red and all(red[red.index(True):]), red
    assert (True, True) in shown


def test_soft_to_hards_customer_hesitates_at_the_soft_close_and_says_yes_to_the_second(tmp_path):
    """Seed 00's main case: the customer hesitates at the soft close, the rep answers the concern,
    then soft closes again. The customer never hesitated there, and a second soft close got no
    reply (found by a new user). Said through the microphone path, with the customer's voice as echo."""
    from voicedrill.drills import load_drill
    from voicedrill.sphinx_engine import SphinxEngine

    drill = load_drill("soft-to-hard")
    step = {s.id: s for s in drill.steps}
    seed = next(n for n in range(50) if random.Random(n).choice(["soft", "name", "email"]) == "soft")  # Customer.open()'s draw
    speaker = Speaker(enabled=False)
    said = [("soft", None), ("concern", None), ("soft", "yes"), ("name", None), ("email", None), ("payment", None)]
    parts, t = [], 0.0
    for text, who in [(drill.customer.cue, "customer")] + [(step[s].line, s) for s, _ in said]:
        audio = speaker.audio(text, CUSTOMER_VOICE) if who == "customer" else speak(text)
        parts += [np.zeros(int(RATE * (ECHO_AFTER_S if who == "customer" else LATENCY_S)), dtype=np.float32), audio]
        if who not in ("customer", "payment"):  # the customer's reply to it, as echo (its words are the longest it might say)
            longest = max([*drill.customer.hesitations, step[who].answer], key=len)
            parts += [np.zeros(int(RATE * ECHO_AFTER_S), dtype=np.float32), speaker.audio(longest, CUSTOMER_VOICE)]
    parts.append(np.zeros(RATE // 2, dtype=np.float32))
    path = tmp_path / "soft-again.wav"
    write_wav(path, to_pcm16(np.concatenate(parts)))
    customer = Customer(drill, speaker, random.Random(seed))
    report = run_rep(LiveRep(drill, SphinxEngine(drill)), iter(FileSource(path)), customer=customer)
    assert customer.hesitate_at == "soft"
    assert [(t.turn.kind, t.turn.after) for t in report.turns] == [
        ("cue", None), ("hesitation", "soft"), ("answer", "concern"), ("answer", "soft"), ("answer", "name"), ("answer", "email")]
    assert report.turns[3].turn.text == step["soft"].answer
    assert report.order_ok and all(s.status == "ok" for s in report.steps), [(s.id, s.status) for s in report.steps]
    assert not any("went straight on" in tip.tip for tip in report.coaching.tips)  # the concern's line is its answer
    assert all(t.continued and t.answered for t in report.turns), [(t.turn.kind, t.turn.after, t.continued, t.answered, t.reply) for t in report.turns]


def test_a_reply_begun_with_a_filler_run_into_it_is_not_alarmed_live(tmp_path):
    """micro-commitment with the customer: live heard the rep's first "Does" as "ah" and alarmed
    the start at 1.54 s, where the scorecard heard "does" and said 1.36 s, in time (found by a new
    user). A filler run straight into the words after it starts the reply, live and on the card."""
    from voicedrill.drills import load_drill
    from voicedrill.sphinx_engine import SphinxEngine

    path = tmp_path / "micro.wav"
    made = subprocess.run([sys.executable, "-m", "voicedrill.cli", "synth", str(path), "--drill", "micro-commitment", "--pause", "1.3"],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    drill = load_drill("micro-commitment")
    customer = Customer(drill, Speaker(enabled=False), random.Random(2))
    events = []
    report = run_rep(LiveRep(drill, SphinxEngine(drill)), FileSource(path), lambda state, new: events.extend(new), customer)
    cue = report.turns[0]
    assert cue.turn.kind == "cue" and cue.in_time and cue.latency_s == pytest.approx(1.36, abs=0.1)
    assert not [e for e in events if e.type == EventType.PAUSE_ALARM and e.after is None]  # the start, alarmed live only
