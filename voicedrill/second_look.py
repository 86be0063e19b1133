"""A second listen for steps the words still miss: the stage between transcription and analysis.

A short line said on its own ("Email?") is often misheard as another short word ("he"). When a
required step is missing (or heard only out of place: misheard where it belongs, said again later)
and its gap — between the steps said before and after it — holds speech no step or forbidden
phrase explains, each stretch of that speech (words said without a pause between them) is decoded
again by the engine, allowed to hear only the step's own phrases — then with the words said with
it that a neighbouring step took across a pause, then with more of the audio round it (a line the
recogniser named only by its last words). When what it hears there puts the step where the script
does, and all else heard for sure stands (a step said with its keyword, a forbidden phrase), it
replaces the stretch's words (same span, so pauses are measured as before); anything else leaves
the words as they were.

Then a phrase to avoid not heard word for word, and a stretch no line explains that holds half of
one's words in order, are heard again by the engine's general model, free of the script that pulls
ordinary questions towards its phrases: held against the rep only as that hearing has it.

Then a filler the recogniser named as a word: a lone word that no line explains, too unsure to
count ("bomb", an "um" at low confidence) or no word of the drill and heard less than half sure
("i'm" at 0.41 at 240 wpm; a clear "Okay." at 0.64 stays a word), is decoded again allowed to be
a filler, a word of the script or nothing. Only when a filler explains the sound best is it that
filler ("Perfect." misheard as a faint "um" stays unclear: "perfect" explains it better; a click
may stay nothing). The words too unsure to count are heard again first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .align import MIN_FORBIDDEN_WORDS, Alignment, align, is_filler, normalise, sure, words_in_order
from .analysis import clean_words
from .audio import Silences, with_hiss
from .data import Hit, HitKind, Word
from .drills import Drill, Step
from .metrics import clear

PAD_S = 0.3  # audio kept either side of the stretch: the engine needs silence round a phrase
REACH_S = 1.5  # …or, looked at once more, this much: the part of its line no word was put on ("is right")
RUN_GAP_S = 0.25  # a silence this long between two unexplained words starts another stretch
MAX_STRETCH_S = 8.0  # longer than any one line: not a misheard step
STRETCH_PER_WORD, STRETCH_SPARE = 2, 4  # see _something_else
SOUND_MIN_S = 0.15  # a sound no word was put on, shorter than this, is a click or a breath, not a line
MAX_LOOKS = 8  # looks per missing step, a neighbour's looks again included (the cost stays bounded on long recordings)
MAX_FILLER_LOOKS = 12  # lone words heard again as a possible filler per recording (the cost stays bounded on long ones)
ODD_CONF = 0.5  # a word the drill does not have, heard less sure than this, may be a filler named as a word
NEAR_MISS = 0.5  # a stretch holding this share of a phrase to avoid's words in order (too few to count) is heard again
MAX_PHRASE_LOOKS = 6  # stretches heard again as a possible phrase to avoid per recording
Clip = Callable[[float, float], np.ndarray]  # (start s, end s) → the rep's 16 kHz samples


@runtime_checkable
class FillerListener(Protocol):
    """An engine that can decode a lone sound allowed to be a filler, a script word, or none of them."""

    def hear_filler(self, audio: np.ndarray, fillers: Sequence[str], words: Sequence[str]) -> str | None:
        """What was heard in `audio` (a filler, a word, or None: nothing or something else)."""
        ...


@runtime_checkable
class FreeListener(Protocol):
    """An engine that can decode a stretch of audio free of the drill's script its stream is held to."""

    def hear_freely(self, audio: np.ndarray) -> str | None:
        """What was heard in `audio` free of the script (None: nothing, or the stream is free already)."""
        ...


@runtime_checkable
class Listener(Protocol):
    """An engine that can decode a stretch of audio allowed to hear only some phrases."""

    def hear_only(self, audio: np.ndarray, phrases: Sequence[str]) -> str | None:
        """What was heard in `audio` when only these phrases' words could be (None: nothing)."""
        ...


def second_look(words: Sequence[Word], drill: Drill, engine: object, clip: Clip, silences: Silences = ()) -> list[Word]:
    """The words with the stretch where each missing step belongs heard again — and where a step
    heard only out of place belongs (its line misheard there, said again later: a repeat, not a
    swap) — then each sound there no word was put on, between two of the rep's `silences` (a lone
    "Email?" the recogniser heard as nothing; see _heard_in_sound); then each phrase to avoid not
    heard word for word and each near miss of one, free of the script (see _phrases_heard_again);
    and each lone unsure word between the lines (see _fillers_heard_again). Unchanged if the engine cannot listen again."""
    words = clean_words(words)
    if not isinstance(engine, Listener) or not words:
        return words
    alignment = align(words, drill)  # aligned again only when a look changes the words
    for step in drill.steps:
        if not step.optional and not alignment.placed(step.id):
            words, alignment = _step_found(step, words, alignment, drill, engine, clip, silences) or (words, alignment)
    words, alignment = _phrases_heard_again(words, drill, alignment, engine, clip)
    return _fillers_heard_again(words, drill, alignment, engine, clip)


def step_looked_for(words: list[Word], drill: Drill, engine: object, clip: Clip, silences: Silences, step_id: str,
                    fresh_from: float = 0.0) -> list[Word] | None:
    """The step's words once a step not heard yet is found by looking again where it belongs, as
    second_look looks after the rep (only at what was said from `fresh_from` on: the rest was
    looked at already), or None. Live, the step the rep is on is looked for as soon as what may be
    its line is over: the screen ticks the lone "Email?" the scorecard will find, and the pause
    meter measures from it (not one pause over the silences either side of it)."""
    if not isinstance(engine, Listener) or not words:
        return None
    step = drill.step(step_id)
    found = _step_found(step, words, align(words, drill), drill, engine, clip, silences, fresh_from)
    if found is None:
        return None
    again, realigned = found
    hit = next((h for h in realigned.step_hits() if h.key == step_id and any(w not in words for w in again[h.first : h.last + 1])), None)
    return again[hit.first : hit.last + 1] if hit else None


def _step_found(step: Step, words: list[Word], alignment: Alignment, drill: Drill, engine: Listener, clip: Clip,
                silences: Silences, fresh_from: float = 0.0) -> tuple[list[Word], Alignment] | None:
    """The words and their alignment once a missing step is heard where it belongs: in its gap's
    words (_looked_for), else in a sound there no word was put on (_heard_in_sound); or None.
    Only what begins at `fresh_from` or later is heard again."""
    budget = [MAX_LOOKS]
    return (_looked_for(step, words, alignment, drill, engine, clip, budget, fresh_from=fresh_from)
            or _heard_in_sound(step, words, alignment, drill, engine, clip, silences, budget, fresh_from))


def _looked_for(step: Step, words: list[Word], alignment: Alignment, drill: Drill, engine: Listener, clip: Clip,
                budget: list[int], widen: bool = True, fresh_from: float = 0.0) -> tuple[list[Word], Alignment] | None:
    """The words and their alignment once the step is heard where the script puts it, or None.
    Each stretch of unexplained speech in its gap is heard again allowed only the step's phrases;
    then (`widen`) with the words said with it, without a pause, that a neighbouring step took
    across a pause at its edge ("…is right" + pause + "anything" | "the to limited"); then with
    more of the audio round it, where the part of its line no word was put on may be ("is right"
    for "This address here, right?"). A look is taken only when all else heard for sure reads as
    before (_same_elsewhere); a step that loses its words to a widened look is looked for again without
    them. `budget` holds the looks left for the missing step, those looks again included; only
    stretches begun at `fresh_from` or later are heard."""
    stretches = [(a, b) for a, b in _stretches(words, _unexplained_gap(words, drill, alignment, step.id)) if words[a].start >= fresh_from]
    free = ((set(range(len(words))) - _explained(alignment)) | _apart(words, alignment)) if widen else set()
    widened = [_said_with(words, a, b, free) for a, b in stretches]
    looks = [(a, b, pad) for a, b, pad in [(a, b, PAD_S) for a, b in stretches + widened] + [(a, b, REACH_S) for a, b in stretches]
             if words[b].end - words[a].start <= MAX_STRETCH_S]
    spans = dict.fromkeys((a, b, _span(words, a, b, pad)) for a, b, pad in looks)  # one look per clip
    for first, last, span in spans:
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        heard = engine.hear_only(with_hiss(clip(*span)), step.phrases)
        if not heard or not heard.split() or _something_else(len(heard.split()), last - first + 1):
            continue
        again = words[:first] + _spread(heard.split(), words[first].start, words[last].end) + words[last + 1 :]
        found: tuple[list[Word], Alignment] | None = (again, align(again, drill))
        lost = [s for s in drill.steps if alignment.placed(s.id) and not found[1].placed(s.id)] if widen else []
        for other in lost:  # each must be found again without the words it lost
            if found:
                found = _looked_for(other, *found, drill, engine, clip, budget, widen=False)
        if found and found[1].placed(step.id) and _same_elsewhere(words, alignment, *found, drill, step.id):
            return found
    return None


def _heard_in_sound(step: Step, words: list[Word], alignment: Alignment, drill: Drill, engine: Listener, clip: Clip,
                    silences: Silences, budget: list[int], fresh_from: float = 0.0) -> tuple[list[Word], Alignment] | None:
    """The words and their alignment once the step is heard in a sound of its gap that no word was
    put on (begun at `fresh_from` or later), or None. Each such sound, between two silences, is heard allowed only the step's phrases
    (a breath, a cough or room noise ends in none of them: nothing); the phrase heard is spread
    over the sound, so its pauses are the silences round it. Kept, as a word look, only when all
    else heard for sure reads as before (_same_elsewhere)."""
    earlier, later = _neighbours(drill, alignment, step.id)
    if earlier is None and later is None:
        return None
    before = max(words[earlier.last].end if earlier else 0.0, fresh_from)
    after = words[later.first].start if later else math.inf
    between = words[earlier.last + 1 if earlier else 0 : later.first if later else len(words)]
    for start, end in _wordless_sounds(between, silences, before, after):
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        edges = max((w.end for w in between if w.end <= start), default=before), min((w.start for w in between if w.start >= end), default=after)
        heard = engine.hear_only(with_hiss(clip(*_padded(start, end, *edges))), step.phrases)
        if not heard or not heard.split():
            continue
        again = sorted(words + _spread(heard.split(), start, end), key=lambda w: (w.start, w.end))
        realigned = align(again, drill)
        if realigned.placed(step.id) and _same_elsewhere(words, alignment, again, realigned, drill, step.id):
            return again, realigned
    return None


def _wordless_sounds(words: list[Word], silences: Silences, low: float, high: float) -> list[tuple[float, float]]:
    """The sounds from `low` to `high` s between two of the `silences` (in order, apart, as
    SilenceTracker gives them) that none of these `words` overlaps, SOUND_MIN_S to MAX_STRETCH_S
    long (a sound touching a word with no silence between is that word's)."""
    quiet = [(a, b) for a, b in silences if b > low and a < high]
    sounds = [(a[1], b[0]) for a, b in zip(quiet, quiet[1:])]
    return [(s, e) for s, e in sounds if SOUND_MIN_S <= e - s <= MAX_STRETCH_S and not any(w.start < e and w.end > s for w in words)]


def _same_elsewhere(words: list[Word], alignment: Alignment, again: list[Word], realigned: Alignment, drill: Drill, step_id: str) -> bool:
    """Is everything heard for sure before (align.sure) heard as before after a look: every other
    step said with its keyword as often, in order or out of it as before, every forbidden phrase?
    A look must not turn a repeat into a single saying or a swap into a skip, nor take a forbidden
    phrase's words; it may take a guess's ("will that be out told it", guessed as payment where
    the name was said)."""
    before = Counter((h.kind, h.key) for h in alignment.hits if h.key != step_id and sure(h, words, drill))
    after = Counter((h.kind, h.key) for h in realigned.hits if h.key != step_id and sure(h, again, drill))
    keys = {key for _, key in before}
    return all(after[k] == n for k, n in before.items()) and alignment.out_of_order & keys == realigned.out_of_order & keys


def _apart(words: list[Word], alignment: Alignment) -> set[int]:
    """Indices of the words a step's hit took across a pause at its edges: those before its first
    pause and after its last (a line is said in one breath; a misheard one next to it may lend its words)."""
    apart: set[int] = set()
    for h in alignment.step_hits():
        pauses = [i for i in range(h.first + 1, h.last + 1) if words[i].start - words[i - 1].end >= RUN_GAP_S]
        if pauses:
            apart |= set(range(h.first, pauses[0])) | set(range(pauses[-1], h.last + 1))
    return apart


def _said_with(words: list[Word], first: int, last: int, free: set[int]) -> tuple[int, int]:
    """The stretch widened to the `free` words said with it, without a pause."""
    while first - 1 in free and words[first].start - words[first - 1].end < RUN_GAP_S:
        first -= 1
    while last + 1 in free and words[last + 1].start - words[last].end < RUN_GAP_S:
        last += 1
    return first, last


def _phrases_heard_again(words: list[Word], drill: Drill, alignment: Alignment, engine: object, clip: Clip) -> tuple[list[Word], Alignment]:
    """The words and their alignment once each phrase to avoid not heard word for word, and each
    stretch of unexplained speech holding half of one's words in order (too few to count), is heard
    again free of the script (see FreeListener). Held to a script that has the phrase, the
    recogniser bends an ordinary question towards it ("so you want to get started" came back as
    "so you want to stopped it": held against the rep); and a phrase said over a telephone line
    came back as "so you want to eight" (the name line taking its "so" across a pause): let off.
    The stretch's words become what the free hearing heard, or the phrase it heard where those
    words alone do not make it (same span, as sure as the words they replace); a hit stays as it
    was where nothing is heard freely, past MAX_PHRASE_LOOKS, or where all else heard for sure
    would not stand."""
    phrases = {key: p for p in reversed(drill.forbidden) if (key := " ".join(normalise(p)))}  # (the first spelling of each)
    if not isinstance(engine, FreeListener) or not phrases:
        return words, alignment
    unexplained = [i for i in range(len(words)) if i not in _explained(alignment)]
    free = set(unexplained) | _apart(words, alignment)
    held = [(h.first, h.last, h.key) for h in alignment.hits
            if h.kind == HitKind.FORBIDDEN and " ".join(t for w in words[h.first : h.last + 1] for t in normalise(w.text)) not in phrases]
    near = [(a, b, "") for a, b in (_said_with(words, a, b, free) for a, b in _stretches(words, unexplained)) if _near_misses(words[a : b + 1], phrases)]
    for first, last, key in sorted((held + near)[:MAX_PHRASE_LOOKS], reverse=True):  # (phrases held first; from the end: a change moves no stretch before it)
        freely = normalise(engine.hear_freely(with_hiss(clip(*_span(words, first, last)))) or "")
        phrase = max(phrases, key=lambda p: (words_in_order(p.split(), freely), p == " ".join(normalise(key))))
        if words_in_order(phrase.split(), freely) < MIN_FORBIDDEN_WORDS or _something_else(len(phrase.split()), len(freely)):
            phrase = ""
        sure_as = sum(w.conf for w in words[first : last + 1]) / (last - first + 1)
        # what was heard freely, else the phrase it has (a filler said inside it stays); a near miss not heard as the phrase stays as it was
        tries = [tuple(freely), tuple(phrase.split())] if phrase else [tuple(freely)] if key and freely else []
        for heard in dict.fromkeys(tries):
            again = words[:first] + _spread(list(heard), words[first].start, words[last].end, sure_as) + words[last + 1 :]
            realigned = align(again, drill)
            caught = any(h.kind == HitKind.FORBIDDEN and first <= h.first < first + len(heard) for h in realigned.hits)
            if caught == bool(phrase) and _same_elsewhere(words, alignment, again, realigned, drill, key or phrases.get(phrase, "")):
                words, alignment = again, realigned
                break
    return words, alignment


def _near_misses(stretch: list[Word], phrases: dict[str, str]) -> bool:
    """Does the stretch hold half of a phrase to avoid's words in order, too few to count, and not far more words?"""
    heard = [t for w in stretch for t in normalise(w.text)]
    return any(NEAR_MISS <= words_in_order(p.split(), heard) < MIN_FORBIDDEN_WORDS and not _something_else(len(p.split()), len(stretch)) for p in phrases)


def _fillers_heard_again(words: list[Word], drill: Drill, alignment: Alignment, engine: object, clip: Clip) -> list[Word]:
    """The words with each lone word that no hit explains, too unsure to count or no word of the
    drill and under ODD_CONF, heard again (see FillerListener): where a filler explains it best it
    replaces the word (same span, heard clearly)."""
    if not isinstance(engine, FillerListener) or not drill.fillers:
        return words
    script = {t for line in drill.script_lines() for t in normalise(line)}
    explained = _explained(alignment)
    lone = [a for a, b in _stretches(words, [i for i in range(len(words)) if i not in explained]) if a == b]
    unsure = [i for i in lone if not clear(words[i : i + 1])]
    odd = [i for i in lone if i not in unsure and words[i].conf < ODD_CONF and not set(normalise(words[i].text)) <= script]
    offered, words = sorted(script), list(words)
    for i in (unsure + odd)[:MAX_FILLER_LOOKS]:
        heard = engine.hear_filler(with_hiss(clip(*_span(words, i, i))), drill.fillers, offered)
        if heard and is_filler(Word(heard, 0.0, 0.0), drill):
            words[i] = Word(heard, words[i].start, words[i].end)
    return words


def _span(words: list[Word], first: int, last: int, pad: float = PAD_S) -> tuple[float, float]:
    """Where the audio of words[first..last] is, with `pad` seconds either side, never into their neighbours."""
    end = words[last].end
    return _padded(words[first].start, end, words[first - 1].end if first else 0.0, words[last + 1].start if last + 1 < len(words) else end + pad, pad)


def _padded(start: float, end: float, before: float, after: float, pad: float = PAD_S) -> tuple[float, float]:
    """`start`–`end` s with `pad` seconds either side, never before `before` nor after `after` (the neighbours' words)."""
    return max(before, start - pad), min(after, end + pad)


def _explained(alignment: Alignment) -> set[int]:
    """Indices of the words some hit (a step's line, a forbidden phrase) explains."""
    return {i for h in alignment.hits for i in range(h.first, h.last + 1)}


def _stretches(words: list[Word], indices: list[int]) -> list[tuple[int, int]]:
    """The runs of consecutive word indices said without a pause, as (first, last)."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1 and words[i].start - words[i - 1].end < RUN_GAP_S:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _neighbours(drill: Drill, alignment: Alignment, step_id: str) -> tuple[Hit | None, Hit | None]:
    """The hits of the steps said before and after `step_id`, in the script's order (None: none heard)."""
    ids = [s.id for s in drill.steps]
    spot = ids.index(step_id)
    heard = {h.key: h for h in alignment.step_hits()}
    earlier = next((heard[i] for i in reversed(ids[:spot]) if i in heard), None)
    later = next((heard[i] for i in ids[spot + 1 :] if i in heard), None)
    return earlier, later


def _unexplained_gap(words: list[Word], drill: Drill, alignment: Alignment, step_id: str) -> list[int]:
    """Indices of the words between the steps said before and after `step_id` (in the script's
    order) that no hit explains; none when no step at all was heard."""
    earlier, later = _neighbours(drill, alignment, step_id)
    low = earlier.last + 1 if earlier else 0
    high = later.first if later else len(words)
    if low >= high or (earlier is None and later is None):
        return []
    explained = _explained(alignment)
    return [i for i in range(low, high) if i not in explained]


def _something_else(phrase_words: int, stretch_words: int) -> bool:
    """Was a stretch heard as far more words than the phrase heard again in it has (more than
    STRETCH_PER_WORD a word, and STRETCH_SPARE more)? Then something longer was said there, never
    the step: another drill's "note for the tech… debit card today", 15 words, was taken as "Let's
    put a date in the calendar". A short line misheard as a few words ("he may you") is heard again."""
    return stretch_words > STRETCH_PER_WORD * phrase_words and stretch_words >= phrase_words + STRETCH_SPARE


def _spread(tokens: list[str], start: float, end: float, conf: float = 1.0) -> list[Word]:
    """The phrase's words spread evenly over the stretch they were heard in, each `conf` sure."""
    size = (end - start) / len(tokens)
    return [Word(t, round(start + i * size, 3), round(start + (i + 1) * size, 3), conf) for i, t in enumerate(tokens)]


def phrases_known(phrases: Sequence[str], known: Callable[[str], bool]) -> list[str]:
    """The phrases as normalised word strings, keeping those whose every word the engine knows."""
    said = [" ".join(normalise(p)) for p in phrases]
    return sorted({p for p in said if p and all(known(w) for w in p.split())})
