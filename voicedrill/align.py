"""Match recognised words to drill steps and forbidden phrases; judge order. Pure: no I/O."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache, lru_cache

import numpy as np
from rapidfuzz import fuzz, process

from .data import Hit, HitKind, Word, normalise
from .drills import Drill, Order, Step

MIN_STEP_SCORE = 0.6  # similarity a window needs to count as a step (with a keyword present)
MIN_BARE_SCORE = 0.7  # …and without a keyword (misheard), for phrases of BARE_MIN_WORDS or more
BARE_MIN_WORDS = 4
BARE_MARGIN = 0.1  # …beating every other step's phrases by this much,
BARE_CLOSE = 0.85  # …or, when at least this close, merely beating them
MIN_FORBIDDEN_SCORE = 0.75
MIN_FORBIDDEN_WORDS = 0.75  # …and this share of its words heard, in order: "do you want on" is not "so you want to do it"
ATTACHED_S = 0.3  # a filler-like word this close to a step's words is part of the same breath
SAME_SAYING = 0.8  # two guesses at one step this alike are the same line said twice
SLOT_SCORE = 0.5  # a step the first pass missed, looked for again where it belongs, needs this likeness
PHRASE_TIE = 10  # phrases within this many similarity points of the best are all plausible readings


def marked_line(line: str, heard: str) -> tuple[tuple[str, bool], ...]:
    """A script line word by word, each marked caught or not in what was `heard` (raw recogniser
    words are never shown as what the rep said: the line is, with the words not caught greyed)."""
    caught = set(normalise(heard))
    return tuple((word, bool(set(normalise(word)) & caught)) for word in line.split())


def closest_wording(step: Step, heard: str) -> str:
    """The step's wording (its line, a variant, its example) most like what was `heard`: the one a
    scorecard shows (a rep who said a variant saw the line with its other words greyed, "not heard")."""
    said = " ".join(normalise(heard))
    wordings = dict.fromkeys((*step.phrases, step.example_line))
    return max(wordings, key=lambda wording: fuzz.ratio(" ".join(normalise(wording)), said))


@dataclass(frozen=True)
class Alignment:
    """Where each step and forbidden phrase was heard, and the order verdict."""

    hits: tuple[Hit, ...]  # in spoken order, non-overlapping
    fillers: tuple[int, ...]  # word indices of filler words
    out_of_order: frozenset[str]
    order_notes: tuple[str, ...]
    loops: tuple[tuple[str, str], ...] = ()  # loops broken (judge_order): (step said again, the later step), (optional step, the step not said again)

    def step_hits(self, step_id: str | None = None) -> list[Hit]:
        return [h for h in self.hits if h.kind == HitKind.STEP and (step_id is None or h.key == step_id)]

    def placed(self, step_id: str) -> bool:
        """Is the step heard, and where the script puts it?"""
        return bool(self.step_hits(step_id)) and step_id not in self.out_of_order


@dataclass(frozen=True)
class _Script:
    """A drill's phrases as tokens, normalised once per drill."""

    phrases: dict[str, tuple[list[str], ...]]  # step id → its phrases
    keywords: dict[str, tuple[list[str], ...]]  # step id → its keywords
    rivals: dict[str, tuple[str, ...]]  # step id → every other step's phrases, as text
    forbidden: tuple[list[str], ...]
    fillers: frozenset[str]  # normalised, as a word's text is


@lru_cache(maxsize=16)
def _script(drill: Drill) -> _Script:
    phrases = {step.id: tuple(normalise(p) for p in step.phrases) for step in drill.steps}
    return _Script(
        phrases,
        {step.id: tuple(normalise(k) for k in step.keywords) for step in drill.steps},
        {step.id: tuple(" ".join(p) for other in drill.steps if other is not step for p in phrases[other.id]) for step in drill.steps},
        tuple(normalise(p) for p in drill.forbidden),
        frozenset(" ".join(normalise(f)) for f in drill.fillers) - {""},
    )


def is_filler(word: Word, drill: Drill) -> bool:
    """Is the word one of the drill's fillers ("um")?"""
    return " ".join(normalise(word.text)) in _script(drill).fillers


def align(words: Sequence[Word], drill: Drill) -> Alignment:
    """Find every step and forbidden phrase in the words, then check the order rules."""
    script = _script(drill)
    tokens = [normalise(w.text) for w in words]
    fillers = tuple(i for i, t in enumerate(tokens) if t and " ".join(t) in script.fillers)
    # Matching runs over the words that carry content; `index` maps back to word positions.
    index = [i for i, t in enumerate(tokens) if t and i not in set(fillers)]
    content = [" ".join(tokens[i]) for i in index]
    candidates: list[Hit] = []
    texts = window_texts(content)
    reach = {step.id: keyword_reach(content, script.keywords[step.id]) for step in drill.steps}
    for step in drill.steps:
        for phrase in script.phrases[step.id]:
            candidates += _windows(texts, phrase, reach[step.id], script.rivals[step.id], HitKind.STEP, step.id, MIN_STEP_SCORE)
    anywhere = keyword_reach(content, [])
    for phrase, said in zip(drill.forbidden, script.forbidden):
        found = _windows(texts, said, anywhere, [], HitKind.FORBIDDEN, phrase, MIN_FORBIDDEN_SCORE)
        candidates += [h for h in found if words_in_order(said, content[h.first : h.last + 1]) >= MIN_FORBIDDEN_WORDS]
    chosen = _best_non_overlapping(candidates)
    # A window without its step's keyword is a guess at a misheard line: it may find a step heard
    # nowhere else, never say a step was repeated (a misheard name line is not a second "email"):
    # a step heard with its keyword takes no guesses; a step only guessed keeps its best guess,
    # and a second one only if it was heard the same way (the same line said twice).
    bare = {h for h in candidates if h.kind == HitKind.STEP and reach[h.key][h.first] > h.last}
    keep: dict[str, Hit] = {}
    for h in chosen:
        if h.kind == HitKind.STEP and (h.key not in keep or (keep[h.key] in bare and (h not in bare or h.score > keep[h.key].score))):
            keep[h.key] = h
    dropped = {h for h in bare if h.key in keep and keep[h.key] is not h and (keep[h.key] not in bare or _heard_apart(h, keep[h.key], content))}
    if any(h in dropped for h in chosen):
        chosen = _best_non_overlapping([h for h in candidates if h not in dropped])
    chosen = sorted(chosen + _missed_in_slot(chosen, content, drill), key=lambda h: h.first)
    hits = tuple(Hit(h.kind, h.key, index[h.first], index[h.last], h.score, h.weight) for h in chosen)
    hits = _one_breath(_edges_said_with_it(hits, words, drill.max_pause_s), words)
    misheard = _misheard_script_words(fillers, hits, tokens, words, drill)
    out_of_order, notes, loops = judge_order([h.key for h in hits if h.kind == HitKind.STEP], drill)
    return Alignment(hits, tuple(i for i in fillers if i not in misheard), out_of_order, tuple(notes.values()), tuple(loops.items()))


def _missed_in_slot(chosen: list[Hit], content: list[str], drill: Drill) -> list[Hit]:
    """A second look for each step the first pass missed, in the gap where it belongs: among the
    words no hit explains, between the steps heard just before and just after it in drill order.
    There a looser likeness will do (SLOT_SCORE), if no other step's phrases fit those words better.
    A step skipped leaves no words in its gap, so it stays missing; a step not yet followed by
    another (live, the rep may still be saying it) is not looked for again."""
    first_hit = {h.key: h for h in reversed(chosen) if h.kind == HitKind.STEP}
    ids = [s.id for s in drill.steps]
    covered = {i for h in chosen for i in range(h.first, h.last + 1)}
    script = _script(drill)
    found = []
    for position, step in enumerate(drill.steps):
        if step.id in first_hit:
            continue
        before = next((first_hit[i] for i in reversed(ids[:position]) if i in first_hit), None)
        after = next((first_hit[i] for i in ids[position + 1 :] if i in first_hit), None)
        if after is None:
            continue
        free = [i for i in range(before.last + 1 if before else 0, after.first) if i not in covered]
        if not free or free != list(range(free[0], free[-1] + 1)):
            continue  # nothing said there, or other hits in between: not this step's gap
        gap = content[free[0] : free[-1] + 1]
        texts, anywhere = window_texts(gap), keyword_reach(gap, [])
        candidates = [
            h for phrase in script.phrases[step.id] for h in _windows(texts, phrase, anywhere, [], HitKind.STEP, step.id, SLOT_SCORE)
            if h.score > max(fuzz.ratio(r, " ".join(gap[h.first : h.last + 1])) / 100 for r in script.rivals[step.id])
        ]
        if candidates:
            best = max(candidates, key=lambda h: h.weight)
            hit = Hit(HitKind.STEP, step.id, free[0] + best.first, free[0] + best.last, best.score, best.weight)
            found.append(hit)
            first_hit[step.id] = hit
            covered.update(range(hit.first, hit.last + 1))
    return found


def _edges_said_with_it(hits: tuple[Hit, ...], words: Sequence[Word], limit_s: float) -> tuple[Hit, ...]:
    """A line is said without a pause over the drill's limit inside it: an edge word standing
    apart from the rest of its hit by more than that (the "it" of "tech" heard as "do it", then a
    2 s pause, taken as the start of the payment question) is not part of the line."""
    trimmed = []
    for hit in hits:
        first, last = hit.first, hit.last
        while first < last and words[first + 1].start - words[first].end > limit_s:
            first += 1
        while last > first and words[last].start - words[last - 1].end > limit_s:
            last -= 1
        trimmed.append(Hit(hit.kind, hit.key, first, last, hit.score, hit.weight))
    return tuple(trimmed)


def _one_breath(hits: tuple[Hit, ...], words: Sequence[Word]) -> tuple[Hit, ...]:
    """A step's line said once, in one breath, can match twice ("a credit card or a debit card"):
    back-to-back hits of one step with no pause between their words are one saying of it.
    Said again after a pause, it is a repeat."""
    joined: list[Hit] = []
    for hit in hits:
        last = joined[-1] if joined else None
        span = words[last.last : hit.first + 1] if last else ()
        if last and hit.kind == last.kind == HitKind.STEP and hit.key == last.key and all(
            b.start - a.end < ATTACHED_S for a, b in zip(span, span[1:])
        ):
            joined[-1] = Hit(hit.kind, hit.key, last.first, hit.last, max(last.score, hit.score), last.weight + hit.weight)
        else:
            joined.append(hit)
    return tuple(joined)


def _misheard_script_words(
    fillers: tuple[int, ...], hits: tuple[Hit, ...], tokens: list[list[str]], words: Sequence[Word], drill: Drill
) -> set[int]:
    """Filler-like words ("ah") that stand where a step's script word went unheard ("phone ah for
    you" for "phone number for you"), said in the same breath: the recogniser's substitutions, not
    the rep's hesitations. A filler the script has no room for ("a good, um, phone number") stays.
    The phrases that explain it are those of the step about as close to what was heard as the best;
    for a filler just outside the matched words, any phrase of the step: the line may go on where
    the words heard stopped ("…credit or debit ah" for "…credit or debit card today").
    """
    phrases = _script(drill).phrases
    misheard = set()
    for i in fillers:
        for hit in hits:
            if hit.kind != HitKind.STEP or not hit.first - 1 <= i <= hit.last + 1:
                continue
            first, last = min(hit.first, i), max(hit.last, i)
            heard = [(j, t) for j in range(first, last + 1) for t in tokens[j]]
            content = " ".join(t for j, t in heard if j not in fillers)
            spot = next(k for k, (j, _) in enumerate(heard) if j == i)
            likeness = {tuple(p): fuzz.ratio(" ".join(p), content) for p in phrases[hit.key]}
            floor = max(likeness.values()) - PHRASE_TIE
            if i > hit.last:  # after the words heard: the line may go on there (never before its first word)
                floor = min(floor, MIN_STEP_SCORE * 100)
            plausible = [p for p, score in likeness.items() if score >= floor]
            replaced = any(
                tag == "replace" and b1 <= spot < b2
                for script in plausible
                for tag, _, _, b1, b2 in SequenceMatcher(None, script, [t for _, t in heard], autojunk=False).get_opcodes()
            )
            near = [abs(words[j].start - words[i].end) if j > i else abs(words[i].start - words[j].end)
                    for j in (i - 1, i + 1) if first <= j <= last and j not in fillers]
            if replaced and near and min(near) <= ATTACHED_S:
                misheard.add(i)
    return misheard


def sure(hit: Hit, words: Sequence[Word], drill: Drill) -> bool:
    """Was the hit heard as what it is, not guessed: a forbidden phrase, or a step's words holding one of its keywords?"""
    if hit.kind != HitKind.STEP:
        return True
    script = _script(drill)
    content = [" ".join(t) for w in words[hit.first : hit.last + 1] if (t := normalise(w.text)) and " ".join(t) not in script.fillers]
    return bool(content) and keyword_reach(content, script.keywords[hit.key])[0] < len(content)  # (no keywords: -1, any words do)


def keyword_reach(content: list[str], keywords: Sequence[list[str]]) -> list[int]:
    """For each position, the last position a window starting there must reach to hold one of the
    keywords, its tokens in a row (a content word may hold several tokens: "credit card" holds
    "card"); len(content) if none lies ahead; -1 everywhere with no keywords."""
    if not keywords:
        return [-1] * len(content)
    starts, position = [], 1
    for word in content:
        starts.append(position)
        position += len(word) + 1
    text = f" {' '.join(content)} "
    reach = [len(content)] * (len(content) + 1)
    for keyword in keywords:
        pattern = f" {' '.join(keyword)} "
        at = text.find(pattern)
        while at != -1:
            first = bisect_right(starts, at + 1) - 1
            reach[first] = min(reach[first], bisect_right(starts, at + len(pattern) - 2) - 1)
            at = text.find(pattern, at + 1)
    for i in range(len(content) - 1, -1, -1):
        reach[i] = min(reach[i], reach[i + 1])
    return reach[:-1]


def window_texts(content: list[str]) -> Callable[[int], list[str]]:
    """`texts(n)`: the text of every window of n content words, in order, joined once per n."""

    @cache
    def texts(length: int) -> list[str]:
        return [" ".join(content[first : first + length]) for first in range(len(content) - length + 1)]

    return texts


def _windows(
    texts: Callable[[int], list[str]],
    phrase: list[str],
    reach: list[int],
    rivals: Sequence[str],
    kind: str,
    key: str,
    min_score: float,
) -> list[Hit]:
    """Every window of about the phrase's length (`texts`, see window_texts) similar enough to it.

    A window holding one of the step's keywords (`reach`, see keyword_reach) needs `min_score`.
    One without (the keyword was misheard) needs a longer phrase, MIN_BARE_SCORE, and to resemble
    this step more than any other step (`rivals`), clearly so unless very close: the hard close's
    lines share openings like "what's the best", so a garbled line must not be taken for its neighbour.
    A hit's weight is its score squared times the words it matched (at most the phrase's length):
    a close match outweighs a loose one, and padding a window with neighbouring words never pays.
    Hits come in window order (by first word, then last).
    """
    if not phrase:
        return []
    target = " ".join(phrase)
    slack = max(1, len(phrase) // 3)
    bare_score = MIN_BARE_SCORE if len(phrase) >= BARE_MIN_WORDS else np.inf  # inf: no window without a keyword
    reaches = np.asarray(reach)
    hits = []
    for length in range(max(1, len(phrase) - slack), len(phrase) + slack + 1):
        candidates = texts(length)
        if not candidates:
            break
        keyword = reaches[: len(candidates)] <= np.arange(len(candidates)) + length - 1
        scores = process.cdist([target], candidates, scorer=fuzz.ratio, dtype=np.float64, workers=1)[0]
        for first in np.flatnonzero(scores >= np.where(keyword, min_score, bare_score) * 100):
            score = float(scores[first]) / 100
            if not keyword[first]:
                rival = max((fuzz.ratio(r, candidates[first]) / 100 for r in rivals), default=0.0)
                if not (score - rival >= BARE_MARGIN or (score >= BARE_CLOSE and score > rival)):
                    continue
            hits.append(Hit(kind, key, int(first), int(first) + length - 1, score, score**2 * min(length, len(phrase))))
    return sorted(hits, key=lambda h: (h.first, h.last))


def words_in_order(phrase: list[str], window: list[str]) -> float:
    """The share of the phrase's words found in the window, in order (letters alike are not enough)."""
    blocks = SequenceMatcher(None, phrase, window, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks) / len(phrase)


def _heard_apart(a: Hit, b: Hit, content: list[str]) -> bool:
    """Were two stretches heard differently (not the same words said twice)?"""
    return fuzz.ratio(" ".join(content[a.first : a.last + 1]), " ".join(content[b.first : b.last + 1])) < SAME_SAYING * 100


def _best_non_overlapping(candidates: list[Hit]) -> list[Hit]:
    """Weighted interval scheduling: the set of non-overlapping hits with the most matched evidence."""
    ordered = sorted(candidates, key=lambda h: (h.last, h.first))
    ends = [h.last for h in ordered]
    best = [0.0] * (len(ordered) + 1)
    take = [False] * len(ordered)
    for i, hit in enumerate(ordered):
        before = bisect_right(ends, hit.first - 1, 0, i)
        with_hit = best[before] + hit.weight
        take[i] = with_hit > best[i]
        best[i + 1] = with_hit if take[i] else best[i]
    chosen = []
    i = len(ordered) - 1
    while i >= 0:
        if take[i]:
            chosen.append(ordered[i])
            i = bisect_right(ends, ordered[i].first - 1, 0, i) - 1
        else:
            i -= 1
    return chosen[::-1]


def judge_order(spoken: Sequence[str], drill: Drill) -> tuple[frozenset[str], dict[str, str], dict[str, str]]:
    """Steps heard out of order, with a human note for each (by step id), and the loops broken:
    a step said again after a later one (with that step), or an optional step the loop's first
    step did not follow (with that step).

    A step the drill keeps last, said before others, is out of order first; the written order is
    judged on the rest (name, payment, phone: payment early, not phone late, which live showed
    while the rep said it and the scorecard then took back), by each step's first saying. An
    optional step (the concern, said when they hesitate) is in order wherever it comes. A step
    that may be said again (the soft close) is out of order said again once a later required step
    has begun, unless an optional step came between: soft to hard, not hard to soft, but after a
    hesitation "address the concern, then soft close again" — and an optional step after such a
    step is out of order when a later step, not that one again, comes next (the concern answered,
    then straight to the name)."""
    firsts = list(dict.fromkeys(spoken))
    rank = {s.id: drill.order_rank(s.id) for s in drill.steps}
    optional = {s.id for s in drill.steps if s.optional}
    bad: set[str] = set()
    notes: dict[str, str] = {}
    for step_id in [s for s in drill.last if s in firsts]:
        later = firsts[firsts.index(step_id) + 1 :]
        intruders = [s for s in later if s not in drill.last]
        wrong_tail = [s for s in later if s in drill.last and drill.last.index(s) < drill.last.index(step_id)]
        if intruders or wrong_tail:
            notes[step_id] = f"{drill.named(step_id)} must come after {', '.join(map(drill.named, intruders + wrong_tail))}"
            bad.add(step_id)
    loops: dict[str, str] = {}  # (Alignment.loops)
    if drill.order == Order.STRICT:
        rest = [s for s in firsts if s not in bad and s not in optional]
        keep = set(_longest_in_order([rank[s] for s in rest]))
        for position, step_id in enumerate(rest):
            if position not in keep:
                bad.add(step_id)
                notes[step_id] = _misplaced_note(step_id, rest, rank, drill.named)
        for step_id, later in _gone_back(spoken, drill, rank).items():
            if step_id not in bad:
                bad.add(step_id)
                loops[step_id] = later
                notes[step_id] = f"{drill.named(step_id)} {loop_words(drill, step_id, later)}"
        for step_id, head in _loop_not_closed(spoken, drill, rank).items():
            bad.add(step_id)
            loops[step_id] = head
            notes[step_id] = f"{drill.named(step_id)} {loop_words(drill, step_id, head)} again"
    return frozenset(bad), notes, loops


def loop_words(drill: Drill, step_id: str, other: str) -> str:
    """A loop the step broke, in words (Alignment.loops): the soft close "came again after name",
    the concern "not followed by soft close"."""
    return f"not followed by {drill.named(other)}" if drill.step(step_id).optional else f"came again after {drill.named(other)}"


def _loop_not_closed(spoken: Sequence[str], drill: Drill, rank: dict[str, int]) -> dict[str, str]:
    """Optional steps that close no loop: said after a step that may be said again (the concern
    after the soft close), then followed by a later step instead of that one (straight to the
    name), each with that step (seed 00: "Answer their concern. Then soft close again.")."""
    heads = [s.id for s in drill.steps if s.repeat]
    optional = {s.id for s in drill.steps if s.optional}
    unclosed: dict[str, str] = {}
    for position, step_id in enumerate(spoken[:-1]):
        head = next((h for h in heads if rank[h] < rank[step_id] and h in spoken[:position]), None) if step_id in optional else None
        following = spoken[position + 1]
        if head and following != head and following not in optional:
            unclosed.setdefault(step_id, head)
    return unclosed


def _gone_back(spoken: Sequence[str], drill: Drill, rank: dict[str, int]) -> dict[str, str]:
    """Steps that may be said again, said again after a later required step with no optional step
    between (soft close, name, soft close), each with that later step. (A step that may not be said
    again is "said twice" wherever it comes.)"""
    required = {s.id for s in drill.steps if not s.optional}
    optional = {s.id for s in drill.steps if s.optional}
    again = {s.id for s in drill.steps if s.repeat}
    back: dict[str, str] = {}
    for position, step_id in enumerate(spoken):
        if step_id in again and step_id in spoken[:position]:
            later = [i for i, s in enumerate(spoken[:position]) if s in required and rank[s] > rank[step_id]]
            if later and not optional & set(spoken[later[-1] + 1 : position]):
                back.setdefault(step_id, spoken[later[0]])
    return back


def _misplaced_note(step_id: str, firsts: list[str], rank: dict[str, int], named: Callable[[str], str]) -> str:
    """What an out-of-order step came before or after, in the steps' names."""
    position = firsts.index(step_id)
    early = [s for s in firsts[position + 1 :] if rank[s] < rank[step_id]]
    if early:
        return f"{named(step_id)} came before {', '.join(map(named, early))}"
    late = [s for s in firsts[:position] if rank[s] > rank[step_id]]
    return f"{named(step_id)} came after {', '.join(map(named, late))}"


def _longest_in_order(values: list[int]) -> list[int]:
    """Positions of one longest non-decreasing subsequence (earliest positions on ties).

    Non-decreasing, so steps of one group (same rank) may come in any order among themselves.
    """
    if not values:
        return []
    length = [1] * len(values)
    previous = [-1] * len(values)
    for i, value in enumerate(values):
        for j in range(i):
            if values[j] <= value and length[j] + 1 > length[i]:
                length[i], previous[i] = length[j] + 1, j
    i = max(range(len(values)), key=lambda k: (length[k], -k))
    chain = []
    while i != -1:
        chain.append(i)
        i = previous[i]
    return chain[::-1]
