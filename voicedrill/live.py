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
from .data import RepReport, Word
from .drills import Drill

END_SILENCE_S = 1.5  # from a microphone, the rep ends this long after the last step is said…
GIVE_UP_SILENCE_S = 6.0  # …or this long after any speech, if the rep stalls
MAX_REP_S = 120.0


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
    heard: dict[str, StepEvent] = field(default_factory=dict)
    out_of_order: frozenset[str] = frozenset()
    last_step_end_s: float | None = None

    @property
    def words(self) -> list[Word]:
        return self.final + self.partial

    def current_step(self) -> str | None:
        """The next step the rep should say: the first in drill order not heard yet."""
        return next((s.id for s in self.drill.steps if s.id not in self.heard), None)

    def pause_s(self) -> float:
        """Silence since the last word, once a step has been said (the "keep moving" meter)."""
        if self.last_step_end_s is None or not self.words:
            return 0.0
        return max(0.0, self.audio_s - max(self.words[-1].end, self.last_step_end_s))


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

    def feed(self, block: np.ndarray) -> list[StepEvent]:
        """Take one block; return the steps heard for the first time."""
        state = self.state
        self.tracker.feed(block)
        if self.audio is not None:
            self.audio.append(block)
        self._samples += block.size
        state.audio_s = self._samples / RATE
        state.final += self.recognizer.accept(block)
        state.partial = self.recognizer.partial()
        words = clean_words(state.words)
        alignment = align(words, self.drill)
        state.out_of_order = alignment.out_of_order
        events = []
        for hit in alignment.step_hits():
            if hit.key not in state.heard:
                event = StepEvent(hit.key, state.audio_s, words[hit.last].end, hit.key in alignment.out_of_order)
                state.heard[hit.key] = event
                events.append(event)
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
        return analyse(self.state.final, self.drill, self.engine.name, self.state.audio_s, self.tracker.silences())


def run_rep(rep: LiveRep, source: Iterable[np.ndarray], on_update=None) -> RepReport:
    """Drive a rep from a source to its end; `on_update(state, events)` after every block."""
    for block in source:
        events = rep.feed(block)
        if on_update:
            on_update(rep.state, events)
        if getattr(source, "live", False) and rep.should_end():
            source.stop()
    return rep.finish()
