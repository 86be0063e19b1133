"""One rep as it happens: audio blocks in, live events out (steps heard, pause alarms, customer lines).

Blocks are decoded here or, at real-time pace, in a child process (see decoding); the words heard
so far (final and partial) are aligned to the drill after every block decoded, so a step is
ticked from partial results, before the recogniser finalises it. Step hits well behind the newest
final words are settled and only the tail is aligned again, so the cost of a block stays flat as
the rep grows. A line the recogniser misheard or put no word on (a bare "Email?") is listened to
again as soon as a pause follows it, as the scorecard listens to it after the rep. The pause meter
is measured on the audio's own silences, as the scorecard measures pauses. When the rep ends, the
final words go through the same analysis as `voicedrill check`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from .align import align, closest_wording, is_filler, judge_order, marked_line, sure
from .analysis import analyse, clean_words
from .asr import Engine
from .audio import FRAME_S, RATE, SilenceTracker, clip_blocks
from .data import CustomerTurn, Hit, RepReport, TurnKind, Word
from .decoding import DecoderGone, Decoding, Heard, InlineDecoding, Twin
from .drills import Drill, Step
from .metrics import any_clear, pause_between, reply_start, shown_gap
from .second_look import RUN_GAP_S, step_looked_for

END_SILENCE_S = 1.5  # from a microphone, the rep ends this long after the last step is said…
GIVE_UP_SILENCE_S = 6.0  # …or this long after any speech, if the rep stalls
MAX_REP_S = 120.0
ECHO_GUARD_S = 0.4  # the mic stays deaf this long after the customer's line (room echo, speaker lag)
SETTLE_WORDS = 16  # step hits this many final words behind the newest are settled (longer than any window)
MAX_TAIL_WORDS = 64  # …and never more than this many words are aligned again per block
PLACING_S = 0.5  # the recogniser names a word within this much decoded audio after it ends
WORD_TAIL_S = 0.25  # …and may end it this much before its sound does (an "um" fading out)
ONSET_S = 0.05  # …and start it up to this much before the sound the meter hears (measured: 0.02–0.03 s)
GUESS_HOLD_S = 0.15  # a guess under way ticks a new step once it has named it this long (see LiveRep._ticking)
RETRIES = 3  # a look that met a guess under way is taken again at most this often, as the guess changes (see LiveRep._look_again)
UNHEARD_ASK_S = 5.0  # no word heard this long into a rep: the screen asks about the microphone…
UNHEARD_END_S = 20.0  # …and from a microphone the rep ends here (practice.heard_something: no rep)
UNHEARD_ASK = "nothing heard yet: is the microphone on?"


class EventType(StrEnum):
    REP_START = "rep_start"
    STEP = "step"
    OUT_OF_ORDER = "out_of_order"  # a step ticked in order, shown out of it by a step said after it
    PAUSE_ALARM = "pause_alarm"
    CUSTOMER = "customer"
    REP_END = "rep_end"


@dataclass(frozen=True)
class LiveEvent:
    """Something that happened live, at `t` seconds on the rep's audio clock."""

    type: EventType
    t: float
    rep: int
    step: str | None = None  # step: the step heard
    out_of_order: bool = False  # step: it broke the order
    word_end_s: float | None = None  # step: when its last word ended
    after: str | None = None  # pause_alarm: the step the pause follows; customer: the step answered
    kind: TurnKind | None = None  # a customer line
    text: str | None = None  # customer: the line; out_of_order: the rule it broke; step: why it waits (said early)

    def to_dict(self) -> dict:
        """The event as one JSON object of the --events stream."""
        fields = {
            EventType.REP_START: (),
            EventType.STEP: ("step", "out_of_order", "text"),
            EventType.OUT_OF_ORDER: ("step", "text"),
            EventType.PAUSE_ALARM: ("after",),
            EventType.CUSTOMER: ("kind", "after", "text"),
            EventType.REP_END: (),
        }[self.type]
        return {"type": str(self.type), "rep": self.rep, "t": round(self.t, 3)} | {f: getattr(self, f) for f in fields}


@dataclass
class LiveState:
    """What a live view shows."""

    drill: Drill
    rep: int = 1
    audio_s: float = 0.0
    final: list[Word] = field(default_factory=list)  # cleaned, in time order
    partial: list[Word] = field(default_factory=list)
    heard: dict[str, LiveEvent] = field(default_factory=dict)  # steps in the words as they stand now
    out_of_order: frozenset[str] = frozenset()
    last_step: str | None = None  # the step said most recently
    last_step_heard: str = ""  # …what the recogniser heard of it
    last_step_end_s: float | None = None
    pause_s: float = 0.0  # silence since the last step (or the customer's line after it)
    pause_limits: tuple[float, float] | None = None  # for the pause under way; None: no next step
    alarm: bool = False  # the pause under way is over its limit
    resumed: bool = False  # the rep has made sound since the pause passed its limit: it was too long, "keep moving!" is over
    turns: list[CustomerTurn] = field(default_factory=list)
    echo_guard_s: float = ECHO_GUARD_S

    @property
    def words(self) -> list[Word]:
        return self.final + self.partial

    def customer_speaking(self, guard: bool = True) -> CustomerTurn | None:
        """The customer's line while it plays (and, with `guard`, its echo), else None."""
        if self.turns and self.audio_s < self.turns[-1].end + (self.echo_guard_s if guard else 0.0):
            return self.turns[-1]
        return None

    @property
    def voice_heard(self) -> bool:
        """Has a word been heard clearly (metrics.any_clear), or is one being heard (a guess under
        way carries no confidence yet)? A faint guess at a hiss, made final unsure, is not."""
        return bool(self.partial) or any_clear(self.final)

    def unheard_s(self) -> float:
        """How long the rep has been listened to with no voice heard (after the customer's opening
        line and its echo); 0 once it is."""
        if self.voice_heard:
            return 0.0
        return max(0.0, self.audio_s - (self.turns[-1].end + self.echo_guard_s if self.turns else 0.0))

    @property
    def unheard(self) -> bool:
        """Nothing heard UNHEARD_ASK_S into the rep: the screen asks whether the microphone is on."""
        return self.unheard_s() >= UNHEARD_ASK_S

    def said_line(self) -> tuple[tuple[str, bool], ...]:
        """The line of the step said most recently as the script has it, each word marked caught or
        not, in the wording they used (its line or a variant): what the live screen shows of the rep's
        words (never the recogniser's raw guesses); nothing once its tick went (a partial revised)."""
        if self.last_step not in self.heard:
            return ()
        return marked_line(closest_wording(self.drill.step(self.last_step), self.last_step_heard), self.last_step_heard)  # (as the scorecard shows it)

    @property
    def early(self) -> frozenset[str]:
        """Steps kept last (payment) heard in order so far, but before a required step the drill puts
        ahead of them is: out of order if that step comes after, in order if it was skipped, so not
        yet ticked (a green tick turned to "out of order" 3 s later, when the notes came)."""
        return frozenset(s for s in self.drill.last if s in self.heard and s not in self.out_of_order and self._ahead(s))

    def early_note(self) -> str:
        """What the early steps wait on, in the playbook's words ("" if none): "said before notes:
        payment comes last" (it is out of order if the notes come after it)."""
        if not (early := self.early):
            return ""
        first = min(early, key=self.drill.order_rank)
        return f"said before {', '.join(s.named for s in self._ahead(first))}: {self.drill.step(first).named} comes last"

    def _ahead(self, step_id: str) -> list[Step]:
        """The required steps the drill puts before `step_id` that are not heard yet (steps kept last aside)."""
        rank = self.drill.order_rank(step_id)
        return [s for s in self.drill.steps if not s.optional and s.id not in self.heard and s.id not in self.drill.last
                and self.drill.order_rank(s.id) < rank]

    def current_step(self, required: bool = False) -> str | None:
        """The step the rep should say next (with `required`, the next they may not leave out):
        the first not heard after the latest one said in its place. A step that must come last
        (payment) or was said out of order moves nobody on: said first, payment leaves the rep on
        the name, not the handoff (a skipped step is left behind)."""
        placed = [step for step in self.heard if step not in self.out_of_order and step not in self.drill.last]  # (in spoken order)
        start = self.drill.order_rank(placed[-1]) if placed else 0  # a group's steps come in any order: from its first
        return next((s.id for s in self.drill.steps[start:] if s.id not in self.heard and not (required and s.optional)), None)


class Said(NamedTuple):
    """A step heard live: where its words are and what the recogniser heard of them."""

    start: float
    end: float
    step: str
    heard: str


class LiveAligner:
    """Step hits over a growing transcript, at a flat cost per call.

    Hits that end well before the newest final words cannot change any more (no phrase window is
    that long), so they are settled and only the words after them are aligned again.
    """

    def __init__(self, drill: Drill):
        self.drill = drill
        self._settled: list[Hit] = []
        self._settled_upto = 0  # words before this index are settled

    def step_hits(self, words: Sequence[Word], final_count: int) -> list[Hit]:
        """Every step hit in `words` (the first `final_count` of them final), in spoken order."""
        offset = self._settled_upto
        tail = [replace(h, first=h.first + offset, last=h.last + offset) for h in align(words[offset:], self.drill).step_hits()]
        boundary = max(final_count - SETTLE_WORDS, len(words) - MAX_TAIL_WORDS)
        if boundary > offset:
            boundary = min([boundary] + [h.first for h in tail if h.first < boundary <= h.last])
            self._settled += [h for h in tail if h.last < boundary]
            self._settled_upto = max(offset, boundary)
            tail = [h for h in tail if h.first >= self._settled_upto]
        return self._settled + tail


class LiveRep:
    """Feeds one rep's audio through a recogniser, keeps the live state and raises live events.

    With a `twin`, the rep is decoded in that child process (at real-time pace); without, here.
    """

    def __init__(self, drill: Drill, engine: Engine, number: int = 1, twin: Twin | None = None):
        self.drill = drill
        self.engine = engine
        self.decoding: Decoding = twin.stream(drill) if twin else InlineDecoding(engine, drill)
        self._decoded_s = 0.0  # how far into the rep the recogniser has heard (behind audio_s in a twin)
        self.tracker = SilenceTracker()
        self.state = LiveState(drill, rep=number)
        self.audio: list[np.ndarray] = []  # the rep as heard (saved with --keep-audio; decoded again here if its child stops)
        self._aligner = LiveAligner(drill)
        self._samples = 0
        self._announced: dict[str, LiveEvent] = {}  # every step event raised, first time only
        self._told_late: set[str] = set()  # steps ticked in order, then told out of it (once)
        self._alarmed_s = -1.0  # the end of the last word heard when the last pause alarm was raised
        self._last_step_start_s = 0.0  # where the step said most recently begins
        self._seen: tuple = ()
        self._guessed: dict[str, float] = {}  # steps a guess under way would tick, and since when (decoded audio)
        self._looks: dict[Said, list[Word]] = {}  # steps found by looking again (second_look.step_looked_for), and the words each put there
        # (step, where a pause began): looked for there, with the words of the guess under way it met and how often it was taken again
        self._looked: dict[tuple[str, float], tuple[tuple[str, ...], int]] = {}
        self._over: tuple[str | None, float] | None = None  # (the step before it, when) the last pause passed its limit
        self.ended_itself = False  # its end was heard (or its recording ran out): not cut short by a Stop
        self.outbox: list[LiveEvent] = [LiveEvent(EventType.REP_START, 0.0, number)]

    def event(self, type_: EventType, **fields) -> LiveEvent:
        event = LiveEvent(type_, self.state.audio_s, self.state.rep, **fields)
        self.outbox.append(event)
        return event

    def customer_says(self, kind: TurnKind, after: str | None, text: str, duration_s: float) -> None:
        """The customer starts a line now; the mic is not transcribed until it (and its echo) ends."""
        now = self.state.audio_s
        self.state.turns.append(CustomerTurn(kind, after, text, round(now, 3), round(now + duration_s, 3)))
        self.event(EventType.CUSTOMER, kind=kind, after=after, text=text)

    def feed(self, block: np.ndarray) -> None:
        """Take one block (events raised go to `outbox`).

        Half-duplex: while the customer speaks, the block is replaced by silence of the same
        length, so the speaker's voice is never scored as the rep and the clock stays true.
        """
        state = self.state
        held = state.customer_speaking() is not None
        if held:
            block = np.zeros_like(block)
        self.tracker.feed(block, held)
        self.audio.append(block)
        self._samples += block.size
        state.audio_s = self._samples / RATE
        self.decoding.send(block)
        for heard in self._decoded(finish=False):
            self._take(heard)
        self._measure_pause()

    def _decoded(self, finish: bool) -> list[Heard]:
        """What the recogniser has heard since last asked. If its process stopped or stalled, the
        rep so far is decoded again here (the screen waits for that, about a tenth of the rep's
        length), so nothing said is lost."""
        try:
            return self.decoding.finish(self.tracker.silences()) if finish else self.decoding.heard()
        except DecoderGone:
            self.decoding = InlineDecoding(self.engine, self.drill)
            self.state.final, self.state.partial = [], []
            self._aligner, self._seen = LiveAligner(self.drill), ()
            self._looks, self._looked = {}, {}  # (looked at over the lost decoder's words: again)
            self._guessed = {}
            for block in self.audio:
                self.decoding.send(block)
            return self.decoding.finish(self.tracker.silences()) if finish else self.decoding.heard()

    def _take(self, heard: Heard) -> None:
        state = self.state
        self._decoded_s = heard.audio_s
        state.final += clean_words(heard.final)
        state.partial = clean_words(heard.partial)
        seen = (len(state.final), tuple(state.partial))
        held = any(self._decoded_s - since >= GUESS_HOLD_S for since in self._guessed.values())
        if seen != self._seen or held:  # the words changed (or a guess has held its step long enough): align again
            self._seen = seen
            self._track_steps()

    def _track_steps(self) -> None:
        state = self.state
        words = state.words
        hits = self._aligner.step_hits(words, len(state.final))
        hits = self._ticking(hits, words)
        for look in [look for look in self._looks if any(h.key == look.step or _takes(words[h.first : h.last + 1], look) for h in hits)]:
            del self._looks[look]  # the stream now names its step, or says its words inside another line
        said = sorted([s for h in hits if (s := self._said(words[h.first : h.last + 1], h.key))] + list(self._looks))
        state.out_of_order, order_notes, _ = judge_order([s.step for s in said], self.drill)
        state.heard = dict.fromkeys(s.step for s in said)  # (what is early is judged on every step heard now)
        early, early_note = state.early, state.early_note()
        heard: dict[str, LiveEvent] = {}
        for step in said:
            if step.step not in heard:
                event = self._announced.get(step.step)
                if event is None:  # (payment before the notes says so: it was a ✓, then ✗ out of order)
                    out_of_order = step.step in state.out_of_order
                    event = self.event(EventType.STEP, step=step.step, out_of_order=out_of_order, word_end_s=step.end,
                                       text=early_note if step.step in early else None)
                    self._announced[step.step] = event
                heard[step.step] = event
        state.heard = heard  # a tick from a partial the recogniser later revised goes away
        for step in [s for s in heard if s in state.out_of_order and s not in self._told_late]:  # (payment said before the notes: told when the notes come)
            if not heard[step].out_of_order:
                self._told_late.add(step)
                self.event(EventType.OUT_OF_ORDER, step=step, text=order_notes.get(step))
        if said:
            latest = max(said, key=lambda s: s.end)
            state.last_step, state.last_step_end_s, state.last_step_heard = latest.step, latest.end, latest.heard
            self._last_step_start_s = latest.start

    def _ticking(self, hits: list[Hit], words: list[Word]) -> list[Hit]:
        """The hits that tick their step: in final words; in the guess under way only when it holds
        the step's keyword, names the step expected next (or one of its group), or a step ticked
        already. Another guess waits for the recogniser to settle it: at 12 dB "what's the best
        they", said in the name line, ticked the email in 18 of 21 reps, and a tenth of a second
        later read "…name" (on six bench conditions, ticks before their line began 56 → 14, ticks
        that came and went 165 → 107; the name line heard as "what's the best any older the
        account" is the step expected, and ticks). A guess ticks a new step only once it
        has named it for GUESS_HOLD_S: most that went were on screen 0.1–0.2 s, and the guess
        named the step again a moment later (on four conditions, ticks that came and went 91 → 25,
        ticks before their line began 14 → 7, for ticks 0.1–0.35 s later in the median)."""
        state, drill = self.state, self.drill
        final, expected = len(state.final), state.current_step()
        rank = drill.order_rank(expected) if expected else None  # (a group's steps come in any order)
        ticking = [h for h in hits if h.last < final or h.key in state.heard or drill.order_rank(h.key) == rank or sure(h, words, drill)]
        guessed = {h.key for h in ticking if h.last >= final and h.key not in state.heard}
        self._guessed = {step: self._guessed.get(step, self._decoded_s) for step in guessed}
        return [h for h in ticking if h.key not in guessed or self._decoded_s - self._guessed[h.key] >= GUESS_HOLD_S]

    def _said(self, hit_words: list[Word], step: str) -> Said | None:
        """A step hit as said: without the words at its edge, across a pause, that a look found
        another step in (as the scorecard's look takes them: second_look._apart); None if no word is left."""
        own = [w for w in hit_words if not any(_inside(w, look) for look in self._looks)]
        return Said(own[0].start, own[-1].end, step, " ".join(w.text for w in own)) if own else None

    def _look_again(self, since: float) -> None:
        """What may be the line of the next step the rep may not leave out, said since the last
        step, is looked at again as the scorecard will look at it after the rep
        (second_look.step_looked_for) once a pause follows it whose place among the words is known
        (see _placed): words no step explains ("Email?" heard as "he"), or a sound no word was put
        on. The step found there is ticked now, until the stream names those words as a step (see
        _track_steps). Each pause starts one look, at what was said since the last look for that
        step (the cost stays flat). A look that met a guess under way ("the" on the lone "Email?",
        then nothing) is taken again, over the same stretch, when the guess's words there change, up
        to RETRIES times (the screen left the email unticked and its pause meter ran on to 3.1 s,
        beside a scorecard that found it: found by a new user)."""
        state = self.state
        following = state.current_step(required=True)
        silences = self._placed(self.tracker.silences(since_s=since - 1.0), since)
        over = max((s for s, e in silences if s > since and e - s >= RUN_GAP_S), default=None)
        if following is None or over is None:
            return
        key = (following, over)
        guessed = tuple(w.text for w in state.partial if w.end <= over)
        met, retries = self._looked.get(key, (None, -1))
        if met == guessed or retries >= RETRIES:
            return
        self._looked[key] = (guessed, retries + 1)
        fresh_from = max((at for step, at in self._looked if step == following and at < over), default=0.0)
        words = self._with_looks([w for w in state.words if w.end <= over])
        before = [(s, e) for s, e in silences if s <= over]
        found = step_looked_for(words, self.drill, self.engine, lambda a, b: clip_blocks(self.audio, a, b), before, following, fresh_from)
        if found:
            self._looks[Said(found[0].start, found[-1].end, following, " ".join(w.text for w in found))] = found
            self._track_steps()

    def _with_looks(self, words: list[Word]) -> list[Word]:
        """The words with what each look found in place of what was heard there: a line found by
        a look is that step's, never looked at again for the next one."""
        heard = [w for w in words if not any(look.start <= w.start and w.end <= look.end for look in self._looks)]
        return sorted(heard + [w for found in self._looks.values() for w in found], key=lambda w: (w.start, w.end))

    def _measure_pause(self) -> None:
        """The pause meter: silence heard since the last step, or since the customer's line after
        it (their "yes" before the first step: how fast the rep starts)."""
        state = self.state
        if (state.last_step_end_s is None and not state.turns) or state.customer_speaking():
            state.pause_s, state.alarm = 0.0, False
            return
        now, since = state.audio_s, state.last_step_end_s
        if since is None:  # the customer's cue said, no step yet
            (state.pause_s, judged), state.pause_limits = self._reply_time(state.turns[-1].end), (0.0, self.drill.max_pause_s)
        else:
            self._look_again(since)
            since = state.last_step_end_s  # (a step the look found moves it on)
            turn = state.turns[-1] if state.turns and state.turns[-1].end > since else None
            state.pause_s, judged = (self._pause_since(since, now),) * 2 if turn is None else self._reply_time(turn.end)
            state.pause_limits = self._limits_after(state.last_step)
        if judged is None:  # a reply's sound is back but not named yet: red stays red (and only its word can make it so)
            state.alarm = state.alarm and state.pause_limits is not None
        else:
            state.alarm = state.pause_limits is not None and shown_gap(judged) > state.pause_limits[1]
        if state.alarm and (self._over is None or self._over[0] != state.last_step):  # (the same pause red again after a
            self._over = (state.last_step, now)                                          # revised partial keeps its moment)
        state.resumed = state.alarm and self._resumed(self._over[1])
        # one alarm per pause: the alarm is for the silence after the last word heard, so a line
        # heard by then and named or its end revised later (heard whole, or misheard until then) is
        # still that pause; a step begun after that word, named when it is decoded, starts a new one
        if state.alarm and self._last_step_start_s >= self._alarmed_s:
            self._alarmed_s = self._heard_until(now)
            self.event(EventType.PAUSE_ALARM, after=state.last_step)

    def _pause_since(self, since: float, now: float) -> float:
        """The pause after the step that ended at `since`, measured as the scorecard measures it
        (metrics.pause_between): words said since then that are not fillers may be the next step,
        not yet placed, and the silences before and after them are not added up."""
        said = [w for w in self.state.words if w.start >= since]
        silences = self._placed(self.tracker.silences(since_s=since - 1.0), since)
        hushes = self._placed(self.tracker.hushes(since_s=since - 1.0), since)
        return pause_between(since, now, silences, said, self.drill, hushes)

    def _reply_time(self, after: float) -> tuple[float, float | None]:
        """The rep's response time to the customer's line that ended at `after`, as the scorecard
        measures it (metrics.reply_start): up to the first word said after it that is not a filler
        (or one short filler run straight into it), not the silences inside their reply ("You're
        all set. … My tech…" before it is named as the handoff); until such a word is heard, the
        silences since the line whose place among the words is known (see _placed), and the
        fillers said in them ("um" is no reply).

        With it, the time to judge against the limit: the same once the reply is named; while
        the rep is still silent, ONSET_S less (the recogniser starts a word that much before the
        sound the meter hears: 0.99 s on the scorecard was 1.02 s of silence); None while sound
        has come back and is not named yet (its word decides)."""
        words = self.state.words
        reply = reply_start(words, after, self.drill)
        if reply is not None:
            return (max(0.0, reply - after),) * 2
        silences = self._placed(self.tracker.silences(min_s=0.0, since_s=after), after)
        fillers = [w for w in words if w.start >= after and is_filler(w, self.drill)]
        waited = sum(e - max(s, after) for s, e in silences if e > after) + sum(w.end - w.start for w in fillers)
        silent_now = bool(silences) and silences[-1][1] >= self.state.audio_s - FRAME_S
        return waited, waited - ONSET_S if silent_now else None

    def _placed(self, found: list[tuple[float, float]], since: float) -> list[tuple[float, float]]:
        """The silences (or hushes) found since the step that ended at `since` whose place among
        the words is known.

        A silence begun after sound the recogniser has not named yet (a word after the last one
        heard: it names a short "Email?" about 0.4 s after it ends) may follow the next step, so
        it waits to be counted until that sound is named or PLACING_S of audio past it is decoded
        without a word. Nor is a silence counted before the audio it begins in is decoded.
        """
        words_end = self._heard_until(since)
        unnamed_from = next((e for _, e in found if e > words_end), float("inf"))  # where sound after the last word begins
        return [(s, e) for s, e in found if s <= self._decoded_s - (PLACING_S if s >= unnamed_from else 0.0)]

    def _resumed(self, over_at: float) -> bool:
        """Has the rep spoken again since the pause passed its limit at `over_at`: are they making
        sound now (a limit noticed mid-line), or did the silence under way begin after some? A
        filler is no way out of the pause ("um", then the stall goes on): only sound after the
        last one heard counts."""
        start = max([over_at] + [w.end for w in self.state.words if w.end > over_at and is_filler(w, self.drill)])
        now = self.state.audio_s
        quiet = self.tracker.silences(min_s=0.0, since_s=max(0.0, min(start, now - 1.0)))
        silent_now = bool(quiet) and quiet[-1][1] >= now - FRAME_S  # (a silence under way ends at the last frame)
        return not silent_now or quiet[-1][0] > start + WORD_TAIL_S

    def _limits_after(self, last: str) -> tuple[float, float] | None:
        """The pause limits after `last`, the most lenient over the steps that may come next: an
        optional one (the concern, when they hesitate) and the required one after it. The meter
        went red at soft-to-hard's 1 s after the soft close, where the drill allows the name 2 s
        and the scorecard said ok (found by a new user); None: nothing is left to say."""
        first, required = self.state.current_step(), self.state.current_step(required=True)
        if first is None:
            return None
        ids = [s.id for s in self.drill.steps]
        limits = [self.drill.pause_limits(last, step) for step in ids[ids.index(first) : ids.index(required) + 1 if required else None]]
        return min(low for low, _ in limits), max(high for _, high in limits)

    def _heard_until(self, default: float) -> float:
        """Where the last word heard ends (a word put on a sound by a look included), else `default`."""
        return max([w.end for w in self.state.words] + [look.end for look in self._looks], default=default)

    def should_end(self) -> bool:
        """For a microphone: the last step said and a pause after it, a stall, nothing heard, or too long."""
        state = self.state
        if state.audio_s >= MAX_REP_S:
            return True
        if not state.voice_heard:
            return state.unheard_s() >= UNHEARD_END_S
        quiet = self._decoded_s - self._heard_until(0.0)
        last = self.drill.steps[-1].id
        return (last in state.heard and quiet >= END_SILENCE_S) or quiet >= GIVE_UP_SILENCE_S

    def finish(self) -> RepReport:
        """End of audio: the scorecard, exactly as `check` computes it."""
        state = self.state
        heard = self._decoded(finish=True)
        for part in heard:
            self._take(part)
        self.event(EventType.REP_END)
        looked = next(part.looked for part in heard if part.last)  # (listened to again where it was decoded)
        return analyse(looked, self.drill, self.engine.name, state.audio_s, self.tracker.silences(), state.turns, self.tracker.hushes())


Listener = Callable[[LiveState, list[LiveEvent]], None]


def _inside(word: Word, look: Said) -> bool:
    return look.start <= word.start and word.end <= look.end


def _takes(hit_words: list[Word], look: Said) -> bool:
    """Does a step hit say the look's words inside its line: covering them whole, its other words
    said on with them, no pause between (RUN_GAP_S)? A hit that took them across a pause at its
    edge ("be" + pause + "this address here right") does not: the look keeps them."""
    if not (hit_words[0].start <= look.start and look.end <= hit_words[-1].end):
        return False
    before = [w for w in hit_words if w.end <= look.start and not _inside(w, look)]
    after = [w for w in hit_words if w.start >= look.end and not _inside(w, look)]
    return (not before or look.start - before[-1].end < RUN_GAP_S) and (not after or after[0].start - look.end < RUN_GAP_S)


def run_rep(rep: LiveRep, source: Iterable[np.ndarray], on_update: Listener | None = None, customer=None) -> RepReport:
    """Drive a rep from a source to its end; `on_update(state, events)` after every block.

    `customer` (a customer.Customer) gets its turn after every block to speak when it should; a
    recording waits while it speaks (no echo there), a microphone is blanked during it and its echo.
    """
    if hasattr(source, "holding"):
        source.holding = lambda: rep.state.customer_speaking(guard=False) is not None
        rep.state.echo_guard_s = 0.0

    def drain() -> None:
        events, rep.outbox = rep.outbox, []
        if on_update:
            on_update(rep.state, events)

    if customer:
        customer.open(rep)
    drain()
    try:
        for block in source:
            rep.feed(block)
            if customer:
                customer.after_block(rep)
            drain()
            if getattr(source, "live", False) and rep.should_end():
                rep.ended_itself = True
                source.stop()
        rep.ended_itself = rep.ended_itself or not getattr(source, "stopped", False)
        report = rep.finish()
    finally:
        rep.decoding.close()  # also when the rep was cut off (Ctrl-C, a vanished microphone)
    drain()
    return report
