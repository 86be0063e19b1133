"""One rep as it happens: audio blocks in, step events out as soon as a step is heard.

The words heard so far (final and partial) are aligned to the drill after every block, so a step
is ticked from partial results, before the recogniser finalises it. When the rep ends, the final
words go through the same analysis as `voicedrill check`, so the scorecard is the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .align import align
from .analysis import analyse, clean_words
from .asr import Engine
from .audio import RATE, SilenceTracker
from .data import CustomerTurn, RepReport, Word
from .drills import Drill

END_SILENCE_S = 1.5  # from a microphone, the rep ends this long after the last step is said…
GIVE_UP_SILENCE_S = 6.0  # …or this long after any speech, if the rep stalls
MAX_REP_S = 120.0
ECHO_GUARD_S = 0.4  # the mic stays deaf this long after the customer's line (room echo, speaker lag)


@dataclass(frozen=True)
class StepEvent:
    """A step heard live: which, when (audio clock), and whether it broke the order."""

    step: str
    at_s: float  # audio time when the event was raised
    word_end_s: float  # end of the step's last word as recognised
    out_of_order: bool


@dataclass
class LiveState:
    """What the live view shows."""

    drill: Drill
    audio_s: float = 0.0
    final: list[Word] = field(default_factory=list)
    partial: list[Word] = field(default_factory=list)
    heard: dict[str, StepEvent] = field(default_factory=dict)  # steps in the words as they stand now
    final_steps: list[str] = field(default_factory=list)  # steps in the final words, in spoken order
    out_of_order: frozenset[str] = frozenset()
    last_step_end_s: float | None = None
    turns: list[CustomerTurn] = field(default_factory=list)

    def customer_speaking(self) -> CustomerTurn | None:
        """The customer's line while it plays (and its echo guard), else None."""
        if self.turns and self.audio_s < self.turns[-1].end + ECHO_GUARD_S:
            return self.turns[-1]
        return None

    @property
    def words(self) -> list[Word]:
        return self.final + self.partial

    def current_step(self) -> str | None:
        """The next step the rep should say: the first in drill order not heard yet."""
        return next((s.id for s in self.drill.steps if s.id not in self.heard), None)

    def pause_s(self) -> float:
        """Silence since the last word or customer line, once a step has been said ("keep moving")."""
        if self.last_step_end_s is None or not self.words or self.customer_speaking():
            return 0.0
        last_turn_end = self.turns[-1].end if self.turns else 0.0
        return max(0.0, self.audio_s - max(self.words[-1].end, self.last_step_end_s, last_turn_end))


class LiveRep:
    """Feeds one rep's audio through a recogniser and keeps the live state."""

    def __init__(self, drill: Drill, engine: Engine, keep_audio: bool = False):
        self.drill = drill
        self.engine = engine
        self.recognizer = engine.recognizer()
        self.tracker = SilenceTracker()
        self.state = LiveState(drill)
        self.audio: list[np.ndarray] | None = [] if keep_audio else None
        self._samples = 0
        self._announced: dict[str, StepEvent] = {}  # every step event raised, first time only

    def customer_says(self, kind: str, after: str | None, text: str, duration_s: float) -> None:
        """The customer starts a line now; the mic is not transcribed until it (and its echo) ends."""
        now = self.state.audio_s
        self.state.turns.append(CustomerTurn(kind, after, text, round(now, 3), round(now + duration_s, 3)))

    def feed(self, block: np.ndarray) -> list[StepEvent]:
        """Take one block; return the steps heard for the first time.

        Half-duplex: while the customer speaks, the block is replaced by silence of the same
        length, so the speaker's voice is never scored as the rep and the clock stays true.
        """
        state = self.state
        if state.customer_speaking():
            block = np.zeros_like(block)
        self.tracker.feed(block)
        if self.audio is not None:
            self.audio.append(block)
        self._samples += block.size
        state.audio_s = self._samples / RATE
        new_final = self.recognizer.accept(block)
        state.final += new_final
        state.partial = self.recognizer.partial()
        if new_final:
            state.final_steps = [h.key for h in align(clean_words(state.final), self.drill).step_hits()]
        words = clean_words(state.words)
        alignment = align(words, self.drill)
        state.out_of_order = alignment.out_of_order
        heard: dict[str, StepEvent] = {}
        events = []
        for hit in alignment.step_hits():
            if hit.key in heard:
                continue
            event = self._announced.get(hit.key)
            if event is None:
                event = StepEvent(hit.key, state.audio_s, words[hit.last].end, hit.key in alignment.out_of_order)
                self._announced[hit.key] = event
                events.append(event)
            heard[hit.key] = event
        state.heard = heard  # a tick from a partial the recogniser later revised goes away
        if events:
            state.last_step_end_s = max(e.word_end_s for e in events)
        return events

    def should_end(self) -> bool:
        """For a microphone: the last step said and a pause after it, a stall, or too long."""
        state = self.state
        if state.audio_s >= MAX_REP_S:
            return True
        if not state.words:
            return False
        quiet = state.audio_s - state.words[-1].end
        last = self.drill.steps[-1].id
        return (last in state.heard and quiet >= END_SILENCE_S) or quiet >= GIVE_UP_SILENCE_S

    def finish(self) -> RepReport:
        """End of audio: the scorecard, exactly as `check` computes it."""
        self.state.final += self.recognizer.finish()
        self.state.partial = []
        state = self.state
        return analyse(state.final, self.drill, self.engine.name, state.audio_s, self.tracker.silences(), state.turns)


def run_rep(rep: LiveRep, source: Iterable[np.ndarray], on_update=None, customer=None) -> RepReport:
    """Drive a rep from a source to its end; `on_update(state, events)` after every block.

    `customer` (a customer.Customer) gets its turn after every block to speak when it should.
    """
    if customer:
        customer.open(rep)
    for block in source:
        events = rep.feed(block)
        if customer:
            customer.after_block(rep)
        if on_update:
            on_update(rep.state, events)
        if getattr(source, "live", False) and rep.should_end():
            source.stop()
    return rep.finish()
