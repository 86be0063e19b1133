"""The simulated customer for `--customer` mode: says yes, answers each question, hesitates once.

Seed 01: "If they hesitate at any point, address it calmly and continue." The customer answers the
step the rep has just said, once the rep pauses after it; an answer never comes after a later step.
It hesitates once per rep, at a step chosen at random (or the first step answered after it): in a
drill that opens with a soft close, at that too (seed 00: "If they hesitate, address the concern,
then soft close again"), and the soft close said again after the concern is answered again.
"""

from __future__ import annotations

import random

from .data import TurnKind
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
        self.rank = {s.id: i for i, s in enumerate(drill.steps)}
        self.answered: set[str] = set()
        self.hesitate_at: str | None = None
        self.hesitation = ""
        self.hesitated = False
        lines = [drill.customer.cue, *drill.customer.hesitations, *(s.answer for s in drill.steps)]
        for line in lines:
            if line:
                speaker.audio(line, CUSTOMER_VOICE)  # ready before the rep starts: replies without delay

    def open(self, rep: LiveRep) -> None:
        """A new rep: choose where to hesitate; the customer's yes to the soft close starts it."""
        self.answered = set()
        self.hesitated = False
        steps = self.drill.steps
        middle = [s.id for s in steps[:-1] if (s.repeat or s is not steps[0]) and not s.optional] or [steps[0].id]
        hesitations = self.drill.customer.hesitations
        self.hesitate_at = self.rng.choice(middle) if hesitations else None
        self.hesitation = self.rng.choice(hesitations) if hesitations else ""
        if self.drill.customer.cue:
            self._say(rep, TurnKind.CUE, None, self.drill.customer.cue)

    def after_block(self, rep: LiveRep) -> None:
        """Answer the step just said once the rep pauses after it (steps said in one breath get one reply)."""
        state = rep.state
        step_id = state.last_step
        if state.customer_speaking() or step_id is None or step_id in self.answered:
            return
        if step_id == self.drill.steps[-1].id or state.pause_s < TURN_GAP_S:
            return
        self.answered.add(step_id)
        if self.hesitate_at and not self.hesitated and self.rank[step_id] >= self.rank[self.hesitate_at]:
            self.hesitated = True
            self._say(rep, TurnKind.HESITATION, step_id, self.hesitation)
            return
        step = self.drill.step(step_id)
        if step.optional:  # the concern answered: the soft close may come again, and is answered again
            self.answered -= {s.id for s in self.drill.steps if s.repeat}
        answer = step.answer
        if answer:
            self._say(rep, TurnKind.ANSWER, step_id, answer)

    def _say(self, rep: LiveRep, kind: TurnKind, after: str | None, text: str) -> None:
        rep.customer_says(kind, after, text, self.speaker.start(text, CUSTOMER_VOICE))
