"""Plain, typed records that flow forward through the pipeline."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """What happened to a drill step."""

    OK = "ok"
    MISSING = "missing"
    OUT_OF_ORDER = "out_of_order"
    REPEATED = "repeated"


class HitKind(StrEnum):
    STEP = "step"
    FORBIDDEN = "forbidden"


class TurnKind(StrEnum):
    """A simulated customer's line: the yes that starts the rep, an answer, or a hesitation."""

    CUE = "cue"
    ANSWER = "answer"
    HESITATION = "hesitation"


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span in seconds from the start of the audio."""

    text: str
    start: float
    end: float
    conf: float = 1.0


@dataclass(frozen=True)
class Hit:
    """A stretch of the word sequence matched to a drill step or a forbidden phrase."""

    kind: HitKind
    key: str  # step id or forbidden phrase
    first: int  # index of the first word (inclusive)
    last: int  # index of the last word (inclusive)
    score: float  # similarity 0..1
    weight: float = 0.0  # evidence used to choose between overlapping hits


@dataclass(frozen=True)
class Mark:
    """Something noticed at a point in time: a filler, a forbidden phrase, off-script speech."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class StepResult:
    """What happened to one drill step."""

    id: str
    status: Status
    start: float | None
    end: float | None
    heard: str
    wpm: float | None
    count: int
    match: float | None
    optional: bool = False
    line: str = ""  # the script's line for this step, as the rep should say it
    again: tuple[tuple[float, float], ...] = ()  # (start, end) of each later time it was said
    title: str = ""  # the step's name as the rep reads it (drills.Step.named); "" in reports saved before titles
    loop: str = ""  # a loop it broke, in words: "came again after name" (the soft close), "not followed by soft close" (the concern)
    said_as: str = ""  # the step's wording (line or variant) most like what was heard ("" if not heard, or in reports saved before it)

    @property
    def named(self) -> str:
        """The step's name as the rep reads it."""
        return self.title or in_words(self.id)

    @property
    def verdict(self) -> str:
        """The step's verdict as every view shows it: its status, but an optional step left out was
        "not_needed", not "missing" (struck through in red on a rep that scored 100)."""
        return "not_needed" if self.optional and self.status == Status.MISSING else str(self.status)


def normalise(text: str) -> list[str]:
    """Lower-case tokens with punctuation dropped; `e-mail` becomes `e mail`, `what's` stays."""
    tokens = re.sub(r"[^a-z0-9']+", " ", text.lower().replace("’", "'")).split()  # (a drill's “You’re” is the recogniser's "you're")
    return [t.strip("'") for t in tokens if t.strip("'")]


def in_words(step_id: str) -> str:
    """A step's id as words, its name where the drill gives it no title: "next-step" as "next step"."""
    return step_id.replace("-", " ").replace("_", " ")


def nothing_heard(steps: Sequence[StepResult]) -> bool:
    """No step of the script was heard at all: nothing to put in order, time or score."""
    return all(s.status == Status.MISSING for s in steps)


@dataclass(frozen=True)
class Pause:
    """Silence between the last word of one step and the first word of the next."""

    from_step: str
    to_step: str
    gap_s: float
    flagged: bool  # outside [min_s, max_s]
    start: float  # where it sits: the end of the one step's saying (with the customer's line between, its end)
    end: float  # and the start of the next (…the rep's reply)
    min_s: float = 0.0  # above 0: a pause is required here
    max_s: float = 1.0

    @property
    def too_short(self) -> bool:
        """Flagged for being under a required pause (else, when flagged, it is too long)."""
        return self.flagged and self.gap_s < self.min_s


@dataclass(frozen=True)
class Pace:
    """Speech rate over the whole rep and articulation rate without silent pauses."""

    speech_wpm: float | None
    articulation_wpm: float | None


def too_fast(speech_wpm: float | None, high: float) -> bool:
    """Was a rep at `speech_wpm` said faster than a pace band topping out at `high`, as the score's
    pace part judges it (to the whole word a minute)?"""
    return speech_wpm is not None and round(speech_wpm) > high


@dataclass(frozen=True)
class ScorePart:
    """One explained part of the 0–100 score."""

    name: str
    points: float
    max_points: int
    why: str


@dataclass(frozen=True)
class CustomerTurn:
    """A line the simulated customer said, on the rep's audio clock (the rep was not transcribed then)."""

    kind: TurnKind
    after: str | None  # the step it answered; None for the opening cue
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class TurnResult:
    """How the rep handled a customer turn."""

    turn: CustomerTurn
    latency_s: float | None  # from the end of the customer's line to the rep's next word
    continued: bool  # did the rep carry on with the sequence afterwards?
    reply: str  # what the rep said before the next step (their answer to a hesitation)
    limit_s: float = 1.0  # the longest response the drill allows here
    in_time: bool = False  # back within limit_s
    forbidden: tuple[str, ...] = ()  # forbidden phrases said in the reply
    answered: bool = True  # a hesitation: the rep said something (not a filler) about it before going on


@dataclass(frozen=True)
class Tip:
    """What to change next rep about one problem, and what the problem cost."""

    about: str  # what it concerns, in plain words ("email", "pause before payment", "words to avoid")
    tip: str  # what to do, in the playbook's words
    points: float  # points it cost this rep


@dataclass(frozen=True)
class Coaching:
    """The one change worth most next rep, and a tip for every problem (costliest first, by the
    points each shows); `unlike`:
    the rep does not sound like its drill, so the focus asks whether it is the drill meant."""

    focus: str
    tips: tuple[Tip, ...] = ()
    unlike: bool = False


@dataclass(frozen=True)
class Target:
    """One personal target: the rep's own recent best, and whether this rep beat (or matched) it."""

    what: str
    target: float
    value: float | None
    met: bool


@dataclass(frozen=True)
class Targets:
    """This rep against the best of the rep's own recent reps of the drill."""

    from_reps: int
    results: tuple[Target, ...]


@dataclass(frozen=True)
class RepReport:
    """Everything `voicedrill check` says about one rep."""

    drill: str
    engine: str
    audio_s: float
    words: tuple[Word, ...]
    steps: tuple[StepResult, ...]
    order_ok: bool
    order_notes: tuple[str, ...]
    pauses: tuple[Pause, ...]
    pace: Pace
    duration_s: float | None
    fillers: tuple[Mark, ...]
    forbidden: tuple[Mark, ...]
    extra: tuple[Mark, ...]
    score: int
    score_parts: tuple[ScorePart, ...]
    turns: tuple[TurnResult, ...] = ()
    coaching: Coaching | None = None  # None only in reports saved before coaching existed
    targets: Targets | None = None  # None until the rep has three reps of the drill said by the script

    # headline figures, read off the verdicts above (never re-judged against a limit)
    @property
    def longest_pause_s(self) -> float | None:
        """The longest pause between questions: a pause the drill asks for ("take a breath"), taken
        as asked, is not one (with it, the target was set by a rep that skipped the breath, and missed
        by every rep that took it); one flagged, too long or too short, is."""
        return max((p.gap_s for p in self.pauses if not p.min_s or p.flagged), default=None)

    def named(self, step_id: str) -> str:
        """A step's name as the rep reads it (a pause's ends are step ids)."""
        return next((s.named for s in self.steps if s.id == step_id), in_words(step_id))

    @property
    def flagged_pauses(self) -> int:
        return sum(p.flagged for p in self.pauses)

    @property
    def order_errors(self) -> int:
        return sum(s.status == Status.OUT_OF_ORDER for s in self.steps)

    @property
    def steps_ok(self) -> int:
        return sum(s.status == Status.OK for s in self.steps)

    @property
    def nothing_heard(self) -> bool:
        return nothing_heard(self.steps)

    @property
    def steps_missing(self) -> int:
        """Required steps left out (an optional step left out is not missing)."""
        return sum(s.status == Status.MISSING and not s.optional for s in self.steps)

    @property
    def complete(self) -> bool:
        """Every required step said and a pace measured: only such reps have a time to handoff (a rep
        that skipped steps is short, not fast)."""
        return self.steps_missing == 0 and self.pace.speech_wpm is not None

    @property
    def unlike(self) -> bool:
        """The rep does not sound like its drill (metrics.unlike_the_drill): asked whether it is the drill meant."""
        return bool(self.coaching and self.coaching.unlike)

    @property
    def scored(self) -> bool:
        """Was the rep scored? One asked whether it is the drill meant was not: its 0 is no score,
        and trends, bests, charts and targets leave it out (a first rep of 100 then one of another
        drill read "slipping 17 points a rep")."""
        return not self.unlike

    @property
    def pace_in_band(self) -> bool:
        """Was the rep said at a pace inside the drill's band (its pace part lost nothing)? A rep
        not scored was not judged, so not either."""
        return all(p.points == p.max_points for p in self.score_parts if p.name == "pace")

    @property
    def pace_off(self) -> bool:
        """A scored rep said too fast or too slow for its drill: every view marks its pace, as a pause too long."""
        return self.scored and self.pace.speech_wpm is not None and not self.pace_in_band

    @property
    def by_the_script(self) -> bool:
        """Complete, in order, with no forbidden phrase, and sounding like its drill: only such reps
        set personal targets and bests (a rep that jumped to payment is quick, not fluent; another
        drill's rep, heard as this one's lines, is neither)."""
        return self.complete and self.order_ok and not self.forbidden and not self.unlike

    @property
    def reached_end(self) -> bool:
        """The rep's last required step (the handoff) was said; a rep stopped before it is unfinished."""
        required = [s for s in self.steps if not s.optional]
        return bool(required) and required[-1].status != Status.MISSING

    @property
    def timed_s(self) -> float | None:
        """Time from the first line to the last, as a rep's fluency curve and tables take it: a
        complete rep, said by the script."""
        return self.duration_s if self.by_the_script else None

    @property
    def judged_pause_s(self) -> float | None:
        """The longest pause a rep's targets and fluency curve take: said by the script (half a rep
        has half the pauses); a rep with no pause between questions, 0."""
        return (self.longest_pause_s or 0.0) if self.by_the_script else None

    @property
    def fix_first(self) -> str | None:
        """What the rep was told to fix first, as a manager reads it ("skipped email", "pause before payment")."""
        if self.unlike:
            return NOT_THIS_DRILL
        if not (self.coaching and self.coaching.tips):
            return None
        about = self.coaching.tips[0].about  # a step's name, or its id in reports saved before titles
        step = next((s for s in self.steps if about in (s.named, s.id)), None)
        if step is None:
            return about
        return {Status.MISSING: f"skipped {step.named}", Status.OUT_OF_ORDER: f"{step.named} out of order",
                Status.REPEATED: f"{step.named} said twice"}.get(step.status, about)


NOT_THIS_DRILL = "not this drill?"  # what a rep not scored (RepReport.scored) was told to fix first, as a manager reads it


def in_session(session: int, number: int) -> str:
    """Where a rep sat in its session, never worded as a rep's number: rep 16 was also "rep 3" and
    "#3" on one screen (found by a manager). "3rd of s14"."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix} of s{session}"


def counted(n: int, one: str, many: str = "") -> str:
    """A count in words: "1 rep", "3 reps" ("1 person", "2 people" with `many`)."""
    return f"{n} {one if n == 1 else many or one + 's'}"
