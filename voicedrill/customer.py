"""The simulated customer for `--customer` mode: says yes, answers each question, hesitates once.

Seed 01: "If they hesitate at any point, address it calmly and continue." The customer answers a
step once the rep has said it and paused; at one step chosen at random it hesitates instead.
"""

from __future__ import annotations

import random

from .drills import Drill
from .live import LiveRep
from .synth import CUSTOMER_VOICE, Speaker

TURN_GAP_S = 0.5  # the rep has paused this long after a step: the customer takes the floor


class Customer:
    """Decides when the customer speaks and what, and plays it."""

    def __init__(self, drill: Drill, speaker: Speaker, rng: random.Random):
        self.drill = drill
        self.speaker = speaker
        self.rng = rng
        self.answered: set[str] = set()
        self.hesitate_at: str | None = None
        self.hesitation = ""
        lines = [drill.customer.cue, *drill.customer.hesitations, *(s.answer for s in drill.steps)]
        for line in lines:
            if line:
                speaker.audio(line, CUSTOMER_VOICE)  # ready before the rep starts: replies without delay

    def open(self, rep: LiveRep) -> None:
        """A new rep: choose where to hesitate; the customer's yes to the soft close starts it."""
        self.answered = set()
        middle = [s.id for s in self.drill.steps[1:-1]] or [self.drill.steps[0].id]
        hesitations = self.drill.customer.hesitations
        self.hesitate_at = self.rng.choice(middle) if hesitations else None
        self.hesitation = self.rng.choice(hesitations) if hesitations else ""
        if self.drill.customer.cue:
            self._say(rep, "cue", None, self.drill.customer.cue)

    def after_block(self, rep: LiveRep) -> None:
        """Answer the latest step said, once the rep pauses after it (steps said in one breath get one reply)."""
        state = rep.state
        if state.customer_speaking():
            return
        if state.pause_s() < TURN_GAP_S:
            return
        # final words only: a step glimpsed in a partial hypothesis may yet turn out to be another
        last_id = self.drill.steps[-1].id
        pending = [s for s in state.final_steps if s not in self.answered and s != last_id]
        if not pending:
            return
        self.answered.update(pending)
        step = next(s for s in self.drill.steps if s.id == pending[-1])
        if step.id == self.hesitate_at:
            self._say(rep, "hesitation", step.id, self.hesitation)
        elif step.answer:
            self._say(rep, "answer", step.id, step.answer)

    def _say(self, rep: LiveRep, kind: str, after: str | None, text: str) -> None:
        rep.customer_says(kind, after, text, self.speaker.start(text, CUSTOMER_VOICE))
