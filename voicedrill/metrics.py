"""Pace, pauses between questions and the explained 0–100 score. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from .align import Alignment
from .data import CustomerTurn, Hit, HitKind, Mark, Pace, Pause, ScorePart, Status, StepResult, TurnResult, Word
from .drills import Drill

SILENT_PAUSE_S = 0.25  # gaps at least this long are excluded from articulation rate
EDGE_S = 0.25  # how far a recogniser's step edge may sit from the true one
MIN_SPAN_S = 0.05  # rates over shorter spans are not measurable
STATUS_CREDIT = {Status.OK: 1.0, Status.REPEATED: 0.8, Status.OUT_OF_ORDER: 0.5, Status.MISSING: 0.0}


def words_per_minute(count: int, seconds: float) -> float | None:
    """A rate, or None when there is nothing to measure over (no words, or a span of a frame or two)."""
    return round(count * 60.0 / seconds, 1) if seconds >= MIN_SPAN_S and count else None


def pace(words: Sequence[Word], turns: Sequence[CustomerTurn] = ()) -> Pace:
    """Speech rate over the spoken span (the customer's lines left out), and articulation rate
    with silent pauses removed."""
    if not words:
        return Pace(None, None)
    first, last = words[0].start, words[-1].end
    customer = sum(max(0.0, min(t.end, last) - max(t.start, first)) for t in turns)
    span = last - first - customer
    silent = sum(
        gap for a, b in zip(words, words[1:]) if (gap := b.start - a.end) >= SILENT_PAUSE_S
    )
    return Pace(words_per_minute(len(words), span), words_per_minute(len(words), last - first - silent))


def step_results(words: Sequence[Word], drill: Drill, alignment: Alignment) -> tuple[StepResult, ...]:
    """One result per drill step, in drill order; timing from the first time it was heard."""
    results = []
    for step in drill.steps:
        hits = alignment.step_hits(step.id)
        if not hits:
            results.append(StepResult(step.id, Status.MISSING, None, None, "", None, 0, None, step.optional))
            continue
        first = hits[0]
        spoken = words[first.first : first.last + 1]
        if step.id in alignment.out_of_order:
            status = Status.OUT_OF_ORDER
        else:
            status = Status.REPEATED if len(hits) > 1 and not step.repeat else Status.OK
        start, end = spoken[0].start, spoken[-1].end
        results.append(
            StepResult(
                id=step.id,
                status=status,
                start=start,
                end=end,
                heard=" ".join(w.text for w in spoken),
                wpm=words_per_minute(len(spoken), end - start),
                count=len(hits),
                match=round(first.score, 2),
                optional=step.optional,
            )
        )
    return tuple(results)


def silence_between(end: float, start: float, silences: Sequence[tuple[float, float]]) -> float:
    """Total silence at a boundary the recogniser put between `end` and `start` (± EDGE_S)."""
    return sum(e - s for s, e in silences if s < start + EDGE_S and e > end - EDGE_S)


def pauses(
    words: Sequence[Word],
    drill: Drill,
    alignment: Alignment,
    silences: Sequence[tuple[float, float]] = (),
    turns: Sequence[CustomerTurn] = (),
) -> tuple[Pause, ...]:
    """The silence between each pair of consecutive steps heard, in spoken order.

    With the audio's silences, the pause is the silence found where the recogniser put the
    boundary (give or take EDGE_S, as engines shift or drop edge words); without them, the word
    gap less any words said in between (a forbidden phrase is speech, not pause). When the
    customer spoke in between, the pause is the rep's response time after the customer's line
    (an answer to a hesitation is speech too).
    """
    hits = alignment.step_hits()
    result = []
    for a, b in zip(hits, hits[1:]):
        end, start = words[a.last].end, words[b.first].start
        turn = next((t for t in reversed(turns) if end - EDGE_S <= t.start and t.end <= start + EDGE_S), None)
        if turn is not None:  # the rep's response time: from the customer's last word to the rep's first
            back = next((w.start for w in words[a.last + 1 : b.first + 1] if w.start >= turn.end - 0.05), start)
            gap = max(0.0, back - turn.end)
        elif silences:
            gap = silence_between(end, start, silences)
        else:
            between = words[a.last + 1 : b.first]
            gap = max(0.0, start - end - sum(w.end - w.start for w in between))
        low, high = drill.pause_limits(a.key, b.key)
        result.append(Pause(a.key, b.key, round(gap, 3), not low <= gap <= high, low, high))
    return tuple(result)


def customer_turns(words: Sequence[Word], drill: Drill, alignment: Alignment, turns: Sequence[CustomerTurn]) -> tuple[TurnResult, ...]:
    """For each customer line: how fast the rep came back (against the drill's pause limit after
    that step), what they said, whether they carried on, and any forbidden phrase in the reply."""
    rank = {s.id: i for i, s in enumerate(drill.steps)}
    results = []
    for turn in turns:
        after = [i for i, w in enumerate(words) if w.start >= turn.end - 0.05]
        latency = round(words[after[0]].start - turn.end, 3) if after else None
        later_steps = [h for h in alignment.step_hits() if words[h.first].start >= turn.end - 0.05]
        floor = rank.get(turn.after, -1) if turn.after else -1  # a turn after no known step: any step counts
        onward = [h for h in later_steps if rank[h.key] > floor]
        reply_end = onward[0].first if onward else len(words)
        reply = " ".join(words[i].text for i in after if i < reply_end)
        following = onward[0].key if onward else drill.steps[min(floor + 1, len(drill.steps) - 1)].id
        limit = drill.pause_limits(turn.after, following)[1] if turn.after else drill.max_pause_s
        slips = tuple(h.key for h in alignment.hits if h.kind == HitKind.FORBIDDEN and after and after[0] <= h.first < reply_end)
        in_time = latency is not None and latency <= limit
        results.append(TurnResult(turn, latency, bool(onward), reply, limit, in_time, slips))
    return tuple(results)


def marks(words: Sequence[Word], hits: Sequence[Hit], kind: str) -> tuple[Mark, ...]:
    """Forbidden phrases as timed marks."""
    return tuple(Mark(h.key, words[h.first].start, words[h.last].end) for h in hits if h.kind == kind)


def extra_speech(words: Sequence[Word], alignment: Alignment) -> tuple[Mark, ...]:
    """Runs of words that belong to no step, forbidden phrase or filler: off-script speech."""
    covered = set(alignment.fillers)
    for hit in alignment.hits:
        covered.update(range(hit.first, hit.last + 1))
    runs: list[list[Word]] = []
    for i, word in enumerate(words):
        if i in covered:
            continue
        if runs and i - 1 not in covered and i > 0:
            runs[-1].append(word)
        else:
            runs.append([word])
    return tuple(Mark(" ".join(w.text for w in run), run[0].start, run[-1].end) for run in runs)


def score(
    drill: Drill,
    steps: Sequence[StepResult],
    pauses_: Sequence[Pause],
    pace_: Pace,
    fillers: Sequence[Mark],
    forbidden: Sequence[Mark],
) -> tuple[int, tuple[ScorePart, ...]]:
    """A 0–100 score made of explained parts: steps 50, order 15, flow 15, pace 10, clean 10."""
    heard = [s for s in steps if s.status != Status.MISSING]
    counted = [s for s in steps if not (s.optional and s.status == Status.MISSING)]  # an optional step left out costs nothing
    credit = sum(STATUS_CREDIT[s.status] for s in counted) / max(1, len(counted))
    parts = [ScorePart("steps", round(50 * credit, 1), 50, f"{sum(s.status == 'ok' for s in counted)}/{len(counted)} steps ok")]
    if not heard:
        parts += [
            ScorePart("order", 0, 15, "no steps heard"),
            ScorePart("flow", 0, 15, "no steps heard"),
            ScorePart("pace", 0, 10, "no steps heard"),
            ScorePart("clean", 0, 10, "no steps heard"),
        ]
    else:
        in_order = sum(s.status != Status.OUT_OF_ORDER for s in heard)
        parts.append(ScorePart("order", round(15 * in_order / len(heard), 1), 15, f"{in_order}/{len(heard)} heard steps in order"))
        flagged = sum(p.flagged for p in pauses_)
        short = sum(p.flagged and p.gap_s < p.min_s for p in pauses_)
        longest = max((p.gap_s for p in pauses_), default=0.0)
        why = f"{flagged - short} pause(s) too long (longest {longest:.2f} s)"
        if short:
            why += f", {short} required pause(s) missing"
        parts.append(ScorePart("flow", max(0, 15 - 5 * flagged), 15, why))
        parts.append(_pace_part(drill, pace_))
        penalty = 5 * len(forbidden) + 2 * len(fillers)
        parts.append(ScorePart("clean", max(0, 10 - penalty), 10, f"{len(forbidden)} forbidden phrase(s), {len(fillers)} filler(s)"))
    return round(sum(p.points for p in parts)), tuple(parts)


def _pace_part(drill: Drill, pace_: Pace) -> ScorePart:
    """Full marks inside the drill's band; one point off per 10 wpm outside it."""
    low, high = drill.pace_wpm
    wpm = pace_.speech_wpm
    if wpm is None:
        return ScorePart("pace", 0, 10, "no speech")
    distance = max(low - wpm, wpm - high, 0.0)
    why = f"{wpm:.0f} wpm, band {low:.0f}–{high:.0f}" + ("" if distance == 0 else (" (too slow)" if wpm < low else " (too fast)"))
    return ScorePart("pace", round(max(0.0, 10 - distance / 10), 1), 10, why)
