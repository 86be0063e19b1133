"""Pace, pauses between questions and the explained 0–100 score. Pure: no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import NamedTuple

from .align import Alignment, closest_wording, is_filler, loop_words
from .data import Coaching, counted, CustomerTurn, Hit, HitKind, Mark, Pace, nothing_heard, Pause, ScorePart, Status, StepResult, Tip, too_fast, TurnKind, TurnResult, Word
from .drills import TIP_FIELDS, Drill

SILENT_PAUSE_S = 0.25  # gaps at least this long are excluded from articulation rate
EDGE_S = 0.25  # how far a recogniser's step edge may sit from the true one
MIN_SPAN_S = 0.05  # rates over shorter spans are not measurable
UNCLEAR_CONF = 0.3  # below this mean confidence a stretch is unclear: it never makes a verdict against the rep
PAUSE_DECIMALS = 2  # a pause is shown and judged to the hundredth of a second
REPLY_EDGE_S = 0.05  # a word begun this soon before the customer's line ended is the rep's reply to it
RUN_ON_S = 0.15  # a filler this close before a word runs into it (a word boundary, no stall: the shortest stall pinned is 0.3 s)…
RUN_ON_FILLER_S = 0.45  # …if it is no longer than this (a long "ummm" is a stall said aloud)


def words_per_minute(count: int, seconds: float) -> float | None:
    """A rate, or None when there is nothing to measure over (no words, or a span of a frame or two)."""
    return round(count * 60.0 / seconds, 1) if seconds >= MIN_SPAN_S and count else None


def spoken_span(words: Sequence[Word], turns: Sequence[CustomerTurn] = ()) -> float | None:
    """The rep's time, from the first word to the last, the customer's lines left out (a rep with
    the customer answering was twice as "slow" on the team view as one without)."""
    if not words:
        return None
    first, last = words[0].start, words[-1].end
    return last - first - sum(max(0.0, min(t.end, last) - max(t.start, first)) for t in turns)


def pace(words: Sequence[Word], turns: Sequence[CustomerTurn] = ()) -> Pace:
    """Speech rate over the spoken span (the customer's lines left out), and articulation rate
    with silent pauses removed."""
    span = spoken_span(words, turns)
    if span is None:
        return Pace(None, None)
    first, last = words[0].start, words[-1].end
    silent = sum(
        gap for a, b in zip(words, words[1:]) if (gap := b.start - a.end) >= SILENT_PAUSE_S
    )
    return Pace(words_per_minute(len(words), span), words_per_minute(len(words), last - first - silent))


def step_results(words: Sequence[Word], drill: Drill, alignment: Alignment) -> tuple[StepResult, ...]:
    """One result per drill step, in drill order; timing from the first time it was heard (and
    where each later saying sits)."""
    results = []
    loops = dict(alignment.loops)
    for step in drill.steps:
        hits = alignment.step_hits(step.id)
        if not hits:
            results.append(StepResult(step.id, Status.MISSING, None, None, "", None, 0, None, step.optional, step.line, title=step.named))
            continue
        first = hits[0]
        spoken = words[first.first : first.last + 1]
        if step.id in alignment.out_of_order:
            status = Status.OUT_OF_ORDER
        else:
            status = Status.REPEATED if len(hits) > 1 and not step.repeat else Status.OK
        (start, end), *again = [(words[h.first].start, words[h.last].end) for h in hits]
        results.append(
            StepResult(
                id=step.id,
                status=status,
                start=start,
                end=end,
                heard=(heard := " ".join(w.text for w in spoken)),
                wpm=words_per_minute(len(spoken), end - start),
                count=len(hits),
                match=round(first.score, 2),
                optional=step.optional,
                line=step.line,
                again=tuple(again),
                title=step.named,
                loop=loop_words(drill, step.id, loops[step.id]) if step.id in loops else "",
                said_as=closest_wording(step, heard),
            )
        )
    return tuple(results)


Span = tuple[float, float]


def silence_between(end: float, start: float, silences: Sequence[Span], spoken: Sequence[Word] = (), hushes: Sequence[Span] = ()) -> float:
    """Silence at a boundary the recogniser put between `end` and `start`: where the audio is
    silent and no recognised word is sounding — neither the steps' own words (a word's quiet
    tail, taken for silence by the energy under a room's noise, is still the word's) nor any word
    heard clearly in between (the closures inside a forbidden phrase are not pause) — and a
    breath after a silence (_breaths): pause in a quiet room as under a room's noise, which
    covers it. pause_between passes no `hushes` where a word was heard unsure in between: a
    quiet word is not a breath."""
    def outside(span: Span, cuts: list[Span]) -> float:
        """How much of `span` lies within the boundary and outside every one of `cuts` (merged)."""
        def within(a: float, b: float) -> float:
            return max(0.0, min(b, start) - max(a, end))

        return within(*span) - sum(within(max(span[0], a), min(span[1], b)) for a, b in cuts)

    clear = _merged((w.start, w.end) for w in spoken if w.conf >= UNCLEAR_CONF)
    quiet = sum(outside(s, clear) for s in _merged(silences))
    return quiet + sum(outside(b, _merged([*silences, *clear])) for b in _breaths(end, start, silences, hushes))


def _breaths(end: float, start: float, silences: Sequence[Span], hushes: Sequence[Span]) -> list[Span]:
    """In each hush (SilenceTracker.hushes: sound 20 dB or more under the speech) between `end`
    and `start`, the stretch from its first silence to its end: a breath taken in a pause. The
    hush before that silence is the quiet end of the word before, and stays the word's."""
    found = []
    for a, b in _merged(hushes):
        first = min((s for s, e in silences if s < min(b, start) and e > max(a, end)), default=None)
        if first is not None:
            found.append((max(first, end), min(b, start)))
    return found


def _merged(spans: Iterable[Span]) -> list[Span]:
    """Spans sorted and overlapping ones merged: each moment counted once."""
    merged: list[Span] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def shown_gap(gap_s: float) -> float:
    """A pause as every view shows it, and as it is judged against its limits: 1.004 s reads 1.00s,
    within a 1 s limit, on the scorecard as on the live meter."""
    return round(gap_s, PAUSE_DECIMALS)


def pause_between(end: float, start: float, silences: Sequence[Span], between: Sequence[Word], drill: Drill, hushes: Sequence[Span] = ()) -> float:
    """The pause between two questions, ended at `end` and begun at `start`: the longest silence
    between the words said there (measured as silence_between does). A phrase or a line the
    recogniser did not place, heard clearly in between, splits it — two short silences around a
    line are two short pauses, not one long one — while an "um" is a hesitation inside it."""
    said = [w for w in between if clear((w,)) and not is_filler(w, drill)]
    edges = [end, *(t for w in said for t in (w.start, w.end)), start]
    unsure = [w for w in between if not clear((w,)) and not is_filler(w, drill)]  # a quiet word, maybe, not a breath

    def quiet(a: float, b: float) -> float:
        return silence_between(a, b, silences, between, () if any(a < w.end and w.start < b for w in unsure) else hushes)

    return max(quiet(a, b) for a, b in zip(edges[::2], edges[1::2]))


def pauses(
    words: Sequence[Word],
    drill: Drill,
    alignment: Alignment,
    silences: Sequence[Span] = (),
    turns: Sequence[CustomerTurn] = (),
    hushes: Sequence[Span] = (),
) -> tuple[Pause, ...]:
    """The silence between each pair of consecutive steps heard, in spoken order.

    The pause is the longest silence between the words said from one step to the next
    (pause_between, as the live meter measures it), silence being where the audio is silent
    (without the audio's silences, the gaps between the recognised words). When the customer
    spoke in between, the pause is the rep's response time after the customer's line (an answer
    to a hesitation is speech too).
    """
    quiet = silences or [(w.end, after.start) for w, after in zip(words, words[1:]) if after.start > w.end]
    hits = alignment.step_hits()
    result = []
    for a, b in zip(hits, hits[1:]):
        end, start = words[a.last].end, words[b.first].start
        turn = next((t for t in reversed(turns) if end - EDGE_S <= t.start and t.end <= start + EDGE_S), None)
        if turn is not None:  # the rep's response time: from the customer's last word to the rep's first (where it sits)
            back = reply_start(words[a.last + 1 : b.first + 1], turn.end, drill)
            back = start if back is None else back
            gap, sits = max(0.0, back - turn.end), (turn.end, max(turn.end, back))
        else:
            gap, sits = pause_between(end, start, quiet, words[a.last + 1 : b.first], drill, hushes), (end, start)
        low, high = drill.pause_limits(a.key, b.key)
        result.append(Pause(a.key, b.key, round(gap, 3), not low <= shown_gap(gap) <= high, *sits, low, high))
    return tuple(result)


def customer_turns(words: Sequence[Word], drill: Drill, alignment: Alignment, turns: Sequence[CustomerTurn]) -> tuple[TurnResult, ...]:
    """For each customer line: how fast the rep came back (against the drill's pause limit after
    that step), what they said, whether they carried on, and any forbidden phrase in the reply."""
    rank = {s.id: i for i, s in enumerate(drill.steps)}
    optional = {s.id for s in drill.steps if s.optional}  # the concern's own step answers a hesitation (seed 00)
    results = []
    for number, turn in enumerate(turns):
        after = [i for i, w in enumerate(words) if w.start >= turn.end - REPLY_EDGE_S]
        back = reply_start([words[i] for i in after], turn.end, drill)
        latency = round(back - turn.end, 3) if back is not None else None
        later_steps = [h for h in alignment.step_hits() if words[h.first].start >= turn.end - REPLY_EDGE_S]
        floor = rank.get(turn.after, -1) if turn.after else -1  # a turn after no known step: any step counts
        onward = [h for h in later_steps if rank[h.key] > floor]
        reply_end = onward[0].first if onward else len(words)
        reply = " ".join(words[i].text for i in after if i < reply_end)
        following = onward[0].key if onward else drill.steps[min(floor + 1, len(drill.steps) - 1)].id
        limit = drill.pause_limits(turn.after, following)[1] if turn.after else drill.max_pause_s
        slips = tuple(h.key for h in alignment.hits if h.kind == HitKind.FORBIDDEN and after and after[0] <= h.first < reply_end
                      and _answering(words[h.first], turns) == number)
        in_time = latency is not None and shown_gap(latency) <= limit  # judged as shown, as the live meter judges it
        answered = (turn.kind != TurnKind.HESITATION or drill.customer.next_step_answers
                    or any(not is_filler(words[i], drill) for i in after if i < reply_end) or bool(onward) and onward[0].key in optional)
        results.append(TurnResult(turn, latency, bool(onward), reply, limit, in_time, slips, answered))
    return tuple(results)




def _answering(word: Word, turns: Sequence[CustomerTurn]) -> int | None:
    """The customer line a word of the rep's follows: the last to end before it (a phrase to avoid
    said once, after the address's answer, was blamed on the payment's answer too: that came
    earlier, and its reply ran to the handoff)."""
    return max((i for i, t in enumerate(turns) if word.start >= t.end - REPLY_EDGE_S), key=lambda i: turns[i].end, default=None)


def replies(word: Word, turn_end: float, drill: Drill) -> bool:
    """Is this word the rep's reply to the customer's line that ended at `turn_end`: said after it
    (or as it ended), and not a filler ("ah", then a stall, is no reply yet)?"""
    return word.start >= turn_end - REPLY_EDGE_S and not is_filler(word, drill)


def reply_start(words: Sequence[Word], turn_end: float, drill: Drill) -> float | None:
    """When the rep's reply to the customer's line that ended at `turn_end` began (None: not yet):
    at its first word that replies, or at one short filler run straight into that word. "Ah", then a
    stall, is no reply yet; "ah-does it make sense" is one, and live hears "does" as "ah" before
    the scorecard hears it right (the meter went red at 1.54 s where the scorecard said 1.36 s)."""
    first = next((i for i, w in enumerate(words) if replies(w, turn_end, drill)), None)
    if first is None:
        return None
    start = words[first].start
    before = words[first - 1] if first else None  # (one: "um… uh… er…" for 2 s is a stall said aloud)
    runs_on = before is not None and is_filler(before, drill) and before.start >= turn_end - REPLY_EDGE_S
    return before.start if runs_on and before.end - before.start <= RUN_ON_FILLER_S and start - before.end <= RUN_ON_S else start


def clear(words: Sequence[Word]) -> bool:
    """Did the recogniser hear these words clearly enough to hold them against the rep?"""
    return sum(w.conf for w in words) / max(1, len(words)) >= UNCLEAR_CONF


def any_clear(words: Sequence[Word]) -> bool:
    """Was any word heard clearly? (None: a muted microphone, silence, or a faint guess at a sound.)"""
    return any(w.conf >= UNCLEAR_CONF for w in words)


def marks(words: Sequence[Word], hits: Sequence[Hit], kind: str) -> tuple[Mark, ...]:
    """Forbidden phrases as timed marks (clearly heard ones only)."""
    return tuple(Mark(h.key, words[h.first].start, words[h.last].end) for h in hits
                 if h.kind == kind and clear(words[h.first:h.last + 1]))


def fillers(words: Sequence[Word], alignment: Alignment) -> tuple[Mark, ...]:
    """Filler words as timed marks (clearly heard ones only)."""
    return tuple(Mark(words[i].text, words[i].start, words[i].end) for i in alignment.fillers if clear(words[i:i + 1]))


EXTRA_MIN_WORDS = 3  # a run of fewer words outside the script is a word misheard ("Perfect." heard as "it"), not a remark


def extra_speech(words: Sequence[Word], alignment: Alignment) -> tuple[Mark, ...]:
    """Runs of words that belong to no step, forbidden phrase or filler: off-script speech, EXTRA_MIN_WORDS at least."""
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
    return tuple(Mark(" ".join(w.text for w in run), run[0].start, run[-1].end) for run in runs if len(run) >= EXTRA_MIN_WORDS and clear(run))


WEAK_LIKENESS = 0.66  # the lines found are on average this like the drill's phrases or less…
OFF_SCRIPT_SHARE = 0.45  # …or more than this share of the speech is none of its lines: it does not sound like this drill


def unlike_the_drill(words: Sequence[Word], steps: Sequence[StepResult], said: Sequence[Mark]) -> bool:
    """Does the rep sound like another drill (or none): the lines found only weakly like this one's,
    or, with a step missing or out of order, much of the speech in none of its steps (nor `said`:
    its phrases to avoid and fillers)? A recogniser held to one drill's script bends other speech
    into its lines: a first-close-recovery rep checked as micro-commitment scored 100. Every step
    said in order is this drill, however long the rep talked between them (a concern answered).
    Measured by bench/run.py: --wrong-drill (each shipped drill said, checked as every drill) and
    --conditions (noise, rooms, phone, voices, paraphrases, people). A rep with no line found and
    words heard clearly is another drill's too (it was told to speak closer to the microphone). Such a
    rep is not scored (score): a 72 beside "is it the drill you meant?" read as a pass."""
    matches = [s.match for s in steps if s.match is not None]
    if not matches:  # none of its lines, yet words heard clearly: another drill's (a muted microphone is "nothing heard")
        return any_clear(words)
    if sum(matches) / len(matches) <= WEAK_LIKENESS:
        return True
    if all(s.status in (Status.OK, Status.REPEATED) or (s.optional and s.status == Status.MISSING) for s in steps):
        return False
    spans = [(m.start, m.end) for m in said] + [span for s in steps if s.start is not None for span in ((s.start, s.end), *s.again)]
    spoken = sum(w.end - w.start for w in words)
    off = sum(w.end - w.start for w in words if not any(start <= w.start and w.end <= end for start, end in spans))
    return off > OFF_SCRIPT_SHARE * spoken


PART_MAX = {"steps": 35, "order": 20, "flow": 15, "pace": 10, "clean": 20}
# What each problem costs, ranked as the playbook ranks mistakes (see tests/test_ranking.py):
# two steps missing < a forbidden phrase ≈ payment not last < a skipped step < a long hesitation
# < a filler < one pause just over the limit < a slow but clean rep < a clean rep.
COST = {
    "skipped": 14.0, "repeated": 3.0, "last": 20.0, "order": 8.0, "pause": 3.0, "pause_per_s": 4.0,
    "required_pause": 10.0, "late_reply": 5.0, "unanswered": 5.0, "stopped": 10.0, "forbidden": 20.0, "filler": 5.0, "pace_per_wpm": 0.1,
    "pace_least": 0.1,  # any pace outside the band loses a tenth at least: the part's points are the verdict (targets.py reads them)
}


def score(
    drill: Drill,
    steps: Sequence[StepResult],
    pauses_: Sequence[Pause],
    pace_: Pace,
    fillers: Sequence[Mark],
    forbidden: Sequence[Mark],
    turns: Sequence[TurnResult] = (),
    unlike: bool = False,
    loops: Sequence[tuple[str, str]] = (),
    span: float | None = None,
) -> tuple[int, tuple[ScorePart, ...], Coaching]:
    """The 0–100 score as explained parts (steps said 35, in order 20, pauses 15, pace 10, words 20),
    each problem costing what the playbook says it is worth, and the coaching for every problem
    (`unlike`: the rep does not sound like this drill, and is first asked whether it is the one meant;
    `loops`: the loops broken, as Alignment has them; `span`: the rep's spoken span, see without_long_pauses)."""
    if nothing_heard(steps) or unlike:  # (another drill's rep scored 72–86 beside "is it the drill you meant?": read as a pass)
        tip = _tip(drill, "unlike", line=drill.steps[0].line) if unlike else _tip(drill, "nothing")
        why = "not scored: little of what was said is like this drill's lines" if unlike else "nothing of the script was heard"
        parts = tuple(ScorePart(name, 0, top, why) for name, top in PART_MAX.items())
        return 0, parts, Coaching(tip, (Tip("the whole drill", tip, 100.0),), unlike)
    unpaused = without_long_pauses(pace_, pauses_, span)
    wpm = _judged_wpm(drill, pace_.speech_wpm, unpaused)
    problems = _problems(drill, steps, pauses_, wpm, fillers, forbidden, turns, dict(loops))
    lost = {name: sum(p.points for p in problems if p.part == name) for name in PART_MAX}
    spilt = _spilt(lost, sum(p.points for p in problems if p.kind == "skipped"))
    required = [s for s in steps if not s.optional]
    said = sum(s.status != Status.MISSING for s in required)
    parts = tuple(
        ScorePart(name, round(max(0.0, top - lost[name] - spilt[name]), 1), top, why + (
            f" — for the {said} of {len(required)} steps said: the {len(required) - said} skipped take {spilt[name]:.1f} of these points" if spilt[name] >= 0.05 else ""))
        for (name, top), why in zip(PART_MAX.items(), _whys(drill, steps, pauses_, pace_, unpaused, wpm, fillers, forbidden, problems))
    )
    # Each tip shows its share of what its part lost (six long pauses share the 15 points of the
    # pauses part), and the shares add up to it; costliest first by those shares, as shown (by the
    # playbook's ranking, a concern's 5 points shrank to 2.2 in a full part and were listed before
    # a pace tip's 3.1), the playbook's ranking between equal shares.
    ranked = sorted(problems, key=lambda problem: -problem.points)
    shares: dict[int, float] = {}
    for part_ in parts:
        mine = [i for i, problem in enumerate(ranked) if problem.part == part_.name]
        taken = part_.max_points - part_.points - spilt[part_.name] + (sum(spilt.values()) if part_.name == "steps" else 0.0)  # (skips take theirs from every part)
        scale = taken / max(lost[part_.name], taken) if lost[part_.name] else 1.0
        shares |= zip(mine, _tenths([ranked[i].points * scale for i in mine], taken))
    tips = tuple(sorted((replace(problem.tip, points=shares[i]) for i, problem in enumerate(ranked)), key=lambda tip: -tip.points))
    focus = tips[0].tip if tips else _clean_tip(drill, wpm)
    total = sum(p.points for p in parts)
    return (100 if total >= 99.95 else min(99, round(total))), parts, Coaching(focus, tips)  # (a 100 is a rep with nothing to fix: 99.7 was 100 and "Next rep: Slow down")


def skip_cost(drill: Drill) -> float:
    """What a required step left out costs: COST["skipped"], or its share of the drill if more (one
    line of micro-commitment's four scored 52: a skip of four steps is a quarter of the drill)."""
    return max(COST["skipped"], float(100 // sum(not s.optional for s in drill.steps)))


def _spilt(lost: dict[str, float], skipped: float) -> dict[str, float]:
    """What the steps skipped (costing `skipped` points) take from the other parts once they have
    cost the steps part all its points, shared by what those parts have left (a rep who said one
    line of seven scored 65, all in order, no pause too long). Not from the pace part: its points
    say whether the pace was in the band (targets.py reads them)."""
    over = max(0.0, skipped - PART_MAX["steps"])
    left = {name: max(0.0, top - lost[name]) for name, top in PART_MAX.items() if name not in ("steps", "pace")}
    total = sum(left.values())
    taken = min(over, total)
    shares = _tenths([taken * points / total if total else 0.0 for points in left.values()], taken)
    return {"steps": 0.0, "pace": 0.0} | dict(zip(left, shares))


def without_long_pauses(pace_: Pace, pauses_: Sequence[Pause], span: float | None) -> float | None:
    """The speaking pace over the rep's `span` less its pauses too long, which the pauses part has
    charged: a pace under the band is judged on it (six 3 s pauses made a rep said at 186 words a
    minute read 97, and told it "Say it faster" as well as of every pause; less only their overrun
    past the 1 s limit, 148)."""
    over = sum(p.gap_s for p in pauses_ if p.flagged and not p.too_short)
    if pace_.speech_wpm is None or span is None or over <= 0 or span - over < MIN_SPAN_S:
        return pace_.speech_wpm
    return round(pace_.speech_wpm * span / (span - over), 1)


def _judged_wpm(drill: Drill, measured: float | None, unpaused: float | None) -> int | None:
    """The pace the pace part judges, to the whole word a minute as every view shows it (149.6 read
    "150 words a minute, target 150–220 (too slow)"): as measured, unless that is under the drill's
    band, then without its pauses too long (never "too fast" for them: a quick rep with one long pause was)."""
    if measured is None:
        return None
    low, high = drill.pace_wpm
    return round(measured) if unpaused is None or round(measured) >= low else round(min(unpaused, high))


TOP_OF_BAND = 0.15  # a clean rep this near the top of the pace band (a share of its width) is not told to speed up


def _clean_tip(drill: Drill, wpm: float | None) -> str:
    """A clean rep's tip: say it faster, unless it is already at the top of the pace band."""
    low, high = drill.pace_wpm
    if wpm is not None and wpm >= high - TOP_OF_BAND * (high - low):
        return _tip(drill, "clean_top", wpm=f"{wpm:.0f}", low=f"{low:.0f}", high=f"{high:.0f}")
    return _tip(drill, "clean")


def _tenths(values: list[float], total: float) -> list[float]:
    """Values of at least 0, about `total` together, rounded to tenths that add up to it (three
    shares of 20 are 6.7, 6.7 and 6.6, not 20.1): the tenths left over go to the largest remainders."""
    floors = [int(v * 10 + 1e-9) for v in values]
    spare = max(0, round(total * 10) - sum(floors))
    biggest = sorted(range(len(values)), key=lambda i: floors[i] - values[i] * 10)[:spare]
    return [(f + (i in biggest)) / 10 for i, f in enumerate(floors)]


class _Problem(NamedTuple):
    """One problem of a rep: the score part it costs, how many points, its tip, and its kind of tip."""

    part: str
    points: float
    tip: Tip
    kind: str


def _go_on_with(drill: Drill, steps: Sequence[StepResult], pause: Pause) -> str:
    """The line to go straight to after a pause: the one said after it, or, where that came out
    of order, the drill's first required step not said before the pause ("Go straight to: payment"
    told a rep who had jumped to payment, beside "ask for payment last")."""
    early = any(s.id == pause.to_step and s.status == Status.OUT_OF_ORDER for s in steps)
    said = {s.id for s in steps if s.start is not None and s.start < pause.end}
    waiting = [s for s in drill.steps if not s.optional and s.id not in said] if early else []
    return min(waiting, key=lambda s: drill.order_rank(s.id), default=drill.step(pause.to_step)).line


def _problems(drill, steps, pauses_, wpm, fillers, forbidden, turns, loops) -> list[_Problem]:
    """Every problem of the rep, each with its tip."""
    ids = [s.id for s in drill.steps]
    line = {s.id: s.line for s in drill.steps}
    named = drill.named
    problems: list[_Problem] = []

    def add(part: str, points: float, about: str, kind: str, step_id: str | None = None, **fields: str) -> None:
        text = _tip(drill, kind, step_id, **{"step": named(step_id) if step_id else "", "line": line.get(step_id, "")} | fields)
        problems.append(_Problem(part, points, Tip(about, text, points), kind))

    for s in steps:
        if s.status == Status.MISSING and not s.optional:
            add("steps", skip_cost(drill), s.named, "skipped", s.id, after=_said_after(drill, s.id))
        elif s.status == Status.REPEATED:
            add("steps", COST["repeated"], s.named, "repeated", s.id)
    late = _last_broken(drill, steps)
    if late:
        add("order", COST["last"], f"{named(late)} not last", "last", late)
    else:
        for s in steps:
            if s.id in loops and s.optional:  # the concern answered, then straight on: no soft close again
                add("order", COST["order"], f"{named(loops[s.id])} again after {s.named}", "loop", loops[s.id], after=s.named)
            elif s.id in loops:  # the soft close again after the name, no concern between
                add("order", COST["order"], f"{s.named} again", "back", s.id, after=named(loops[s.id]))
            elif s.status == Status.OUT_OF_ORDER:
                add("order", COST["order"], s.named, "order", s.id, sequence=drill.sequence)
    for p in pauses_:
        if p.too_short:
            add("flow", COST["required_pause"], f"pause before {named(p.to_step)}", "required_pause", p.to_step, limit=f"{p.min_s:g} s")
    long = [p for p in pauses_ if p.flagged and not p.too_short]
    if long:  # one tip, told about the furthest over its limit: the same advice six times over is noise
        worst = max(long, key=lambda p: p.gap_s - p.max_s)
        others = [f"{p.gap_s:.2f} s before {named(p.to_step)}" + (f" (limit {p.max_s:g} s)" if p.max_s != worst.max_s else "")
                  for p in long if p is not worst]  # as the pauses table shows them, in spoken order
        cost = sum(COST["pause"] + COST["pause_per_s"] * (p.gap_s - p.max_s) for p in long)
        add("flow", cost, f"pause before {named(worst.to_step)}" if not others else "pauses too long", "pause", worst.to_step,
            gap=f"{worst.gap_s:.2f} s", limit=f"{worst.max_s:g} s", line=_go_on_with(drill, steps, worst))
        if others:
            part, points, tip, kind = problems.pop()
            said = tip.tip.rstrip()
            said += "" if said.endswith((".", "!", "?", "”", "\"", ")")) else "."
            problems.append(_Problem(part, points, replace(tip, tip=f"{said} Also too long: {', '.join(others)}."), kind))
    for t in turns:
        following = ids[ids.index(t.turn.after) + 1] if t.turn.after in ids[:-1] else None
        if not t.continued and following:
            add("flow", COST["stopped"], "after the customer", "stopped", following, phrase=t.turn.text)
        elif not t.answered and following:
            add("flow", COST["unanswered"], "the customer's concern", "unanswered", following, phrase=t.turn.text)
        elif not t.in_time and not any(p.flagged and p.from_step == t.turn.after for p in pauses_):
            gap = "too long" if t.latency_s is None else f"{t.latency_s:.1f} s"
            yes = t.turn.kind == TurnKind.CUE  # their yes is no concern: the sequence starts at once
            add("flow", COST["late_reply"], "after the customer", "late_start" if yes else "late_reply", ids[0] if yes else following,
                phrase=t.turn.text, gap=gap, limit=f"{t.limit_s:g} s")
    low, high = drill.pace_wpm
    if wpm is not None and not low <= wpm <= high:
        distance = low - wpm if wpm < low else wpm - high
        add("pace", min(PART_MAX["pace"], max(COST["pace_least"], COST["pace_per_wpm"] * distance)), "speaking pace", "fast" if too_fast(wpm, high) else "slow",
            wpm=f"{wpm:.0f}", low=f"{low:.0f}", high=f"{high:.0f}")
    for phrase, times in Counter(m.text for m in forbidden).items():  # one tip a phrase, however often said (as fillers): sorted by
        add("clean", COST["forbidden"] * times, f"“{phrase}”", "forbidden", phrase=phrase)  # points, twice said was two halves below a skip
    if fillers:
        add("clean", COST["filler"] * len(fillers), "filler words", "filler", phrase=", ".join(dict.fromkeys(m.text for m in fillers)))
    return problems


def _said_after(drill: Drill, step_id: str) -> str:
    """What a step left out is said after, by name: the required step before it, or what opens the
    rep (the customer's first line; in a drill without one, the start of the call)."""
    before = drill.said_before(step_id)
    return drill.named(before) if before else "the customer's first line" if drill.customer.cue else "the start of the call"


def _last_broken(drill: Drill, steps: Sequence[StepResult]) -> str | None:
    """The first of the drill's `last` steps said while other steps were still to come (payment not last)."""
    said = sorted((s for s in steps if s.start is not None), key=lambda s: s.start)
    for i, s in enumerate(said):
        if s.id in drill.last and any(later.id not in drill.last for later in said[i + 1:]):
            return s.id
    return None


def _whys(drill, steps, pauses_, pace_, unpaused, wpm, fillers, forbidden, problems) -> list[str]:
    """Each score part's reason, in plain words."""
    required = [s for s in steps if not s.optional]
    heard = [s for s in required if s.status != Status.MISSING]
    skipped = [s.named for s in required if s.status == Status.MISSING]
    steps_why = f"{len(heard)} of {len(required)} steps said" + (f" (skipped: {', '.join(skipped)})" if skipped else "")
    out = [p.tip.about for p in problems if p.kind == "order"]
    broken = [p.tip.about for p in problems if p.kind in ("last", "back", "loop")]  # (each says what it broke: "payment not last")
    order_why = "; ".join(broken + ([", ".join(out) + " out of order"] if out else [])) or "in order"
    long = [p for p in pauses_ if p.flagged and not p.too_short]
    short = [p for p in pauses_ if p.too_short]
    reasons = [f"{counted(len(long), 'pause')} too long (longest {max(p.gap_s for p in long):.2f} s, limit {long[0].max_s:g} s)"] if long else []
    reasons += [f"{counted(len(short), 'required pause')} missed"] if short else []
    reasons += ["slow after the customer"] if any(p.kind in ("late_reply", "late_start", "stopped") for p in problems) else []
    reasons += ["a concern not answered"] if any(p.kind == "unanswered" for p in problems) else []
    low, high = drill.pace_wpm
    unpaused_why = "" if wpm is None or wpm == round(pace_.speech_wpm) else f", {unpaused:.0f} leaving out the pauses too long"
    pace_why = "no speech" if wpm is None else f"{pace_.speech_wpm:.0f} words a minute{unpaused_why}, target {low:.0f}–{high:.0f}" + (
        " (too slow)" if wpm < low else " (too fast)" if wpm > high else "")
    counts = ([counted(len(forbidden), "phrase to avoid", "phrases to avoid")] if forbidden else []) + (
        [counted(len(fillers), "filler word")] if fillers else [])
    clean_why = ", ".join(counts) or "no words to avoid, no filler words"
    return [steps_why, order_why, ", ".join(reasons) or "no pause over the limit", pace_why, clean_why]


def tip_examples(drill: Drill) -> list[tuple[str, str]]:
    """Every tip this drill can give, filled in with example figures, each with when it is given:
    what a manager editing the drill's [tips] reads before a rep does (`drills show --tips`)."""
    required = [s for s in drill.steps if not s.optional]
    first, second = required[0], required[min(1, len(required) - 1)]
    low, high = drill.pace_wpm
    limit = drill.pause_limits(first.id, second.id)[1]
    said = {"step": second.named, "line": second.line}
    reply = {"gap": f"{drill.max_pause_s + 1.4:.1f} s", "limit": f"{drill.max_pause_s:g} s", **said}
    hesitation = drill.customer.hesitations[0] if drill.customer.hesitations else "Can I think about it?"
    band = {"low": f"{low:.0f}", "high": f"{high:.0f}"}
    examples = [(f"{s.named} left out", "skipped", s.id, {"step": s.named, "line": s.line, "after": _said_after(drill, s.id)}) for s in required]
    examples += [
        ("a line said twice", "repeated", second.id, said),
        *([(f"{drill.named(drill.last[0])} said before the other steps", "last", drill.last[0],
            {"step": drill.named(drill.last[0]), "line": drill.step(drill.last[0]).line})] if drill.last else []),
        ("a step out of order", "order", second.id, {**said, "sequence": drill.sequence}),
        *([("a step said again once a later one was said", "back", first.id, {"step": first.named, "line": first.line, "after": second.named}),
           ("an answered concern, then straight on", "loop", first.id, {"step": first.named, "line": first.line, "after": "the concern"})]
          if any(s.repeat for s in drill.steps) else []),
        ("a pause over the limit", "pause", second.id, {**said, "gap": f"{limit + 0.4:.2f} s", "limit": f"{limit:g} s"}),
        *[(f"a pause the drill asks for, cut short before {drill.named(r.to_step)}", "required_pause", r.to_step,
           {"step": drill.named(r.to_step), "line": drill.step(r.to_step).line, "limit": f"{r.min_s:g} s"})
          for r in drill.pause_rules if r.min_s],
        *([("a phrase to avoid", "forbidden", None, {"phrase": drill.forbidden[0]})] if drill.forbidden else []),
        *([("filler words", "filler", None, {"phrase": ", ".join(drill.fillers[:2])})] if drill.fillers else []),
        ("too slow", "slow", None, {"wpm": f"{low - 20:.0f}", **band}),
        ("too fast", "fast", None, {"wpm": f"{high + 20:.0f}", **band}),
    ]
    if drill.has_customer:
        examples += [
            ("slow to start after the customer's first line", "late_start", first.id, {**reply, "phrase": drill.customer.cue or "Okay.", "step": first.named, "line": first.line}),
            ("slow to answer the customer", "late_reply", second.id, {**reply, "phrase": hesitation}),
            ("the sequence stopped after the customer hesitated", "stopped", second.id, {**said, "phrase": hesitation}),
            *([] if drill.customer.next_step_answers else [("a hesitation not answered", "unanswered", second.id, {**said, "phrase": hesitation})]),
        ]
    examples += [
        ("a clean rep", "clean", None, {}),
        ("a clean rep at the top of the pace band", "clean_top", None, {"wpm": f"{high:.0f}", **band}),
        ("little of what was said is like the drill's lines", "unlike", None, {"line": first.line}),
        ("nothing of the drill heard", "nothing", None, {}),
    ]
    return [(when, _tip(drill, kind, step_id, **fields)) for when, kind, step_id, fields in examples]


def _tip(drill: Drill, kind: str, step_id: str | None = None, **fields: str) -> str:
    """The drill's coaching line for a kind of problem, filled in with the fields TIP_FIELDS names
    for that kind (a drill's tips are checked against the same list when it loads); a field this
    problem has no value for (no step after the last one) reads as nothing."""
    return drill.tip(kind, step_id).format(**{name: fields.get(name, "") for name in TIP_FIELDS[kind]})
