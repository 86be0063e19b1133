"""A second listen for steps the words still miss: the stage between transcription and analysis.

A short line said on its own ("Email?") is often misheard as another short word ("he"). When a
required step is missing (or heard only out of place: misheard where it belongs, said again later)
and its gap — between the steps said before and after it — holds speech no step or forbidden
phrase explains, each stretch of that speech (words said without a pause between them) is decoded
again by the engine, allowed to hear only the step's own phrases. When what it hears there puts
the step where the script does, it replaces the stretch's words (same span, so pauses are
measured as before); anything else leaves the words as they were.

Then a filler the recogniser named as a word: a lone word it was unsure of ("i'm", "bomb", an
"um" at low confidence), said between the lines, is decoded again allowed only the drill's fillers
and the script's words. When a filler explains the sound better than every word of the script, it
is that filler ("Perfect." misheard as "um" stays unclear: "perfect" explains it better).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .align import align, normalise
from .analysis import clean_words
from .audio import with_hiss
from .data import Word
from .drills import Drill

PAD_S = 0.3  # audio kept either side of the stretch: the engine needs silence round a phrase
RUN_GAP_S = 0.25  # a silence this long between two unexplained words starts another stretch
MAX_STRETCH_S = 8.0  # longer than any one line: not a misheard step
MAX_LOOKS = 4  # stretches listened to per missing step (the cost stays bounded on long recordings)
FAINT_CONF = 0.5  # below this the recogniser was unsure which word it heard: a lone one may be a filler
Clip = Callable[[float, float], np.ndarray]  # (start s, end s) → the rep's 16 kHz samples


@runtime_checkable
class Listener(Protocol):
    """An engine that can decode a stretch of audio allowed to hear only some phrases."""

    def hear_only(self, audio: np.ndarray, phrases: Sequence[str]) -> str | None:
        """What was heard in `audio` when only these phrases' words could be (None: nothing)."""
        ...


def second_look(words: Sequence[Word], drill: Drill, engine: object, clip: Clip) -> list[Word]:
    """The words with the stretch where each missing step belongs heard again — and where a step
    heard only out of place belongs (its line misheard there, said again later: a repeat, not a
    swap) — and each lone unsure word between the lines (see _fillers_heard_again). Unchanged if
    the engine cannot listen again."""
    words = clean_words(words)
    if not isinstance(engine, Listener) or not words:
        return words
    alignment = align(words, drill)  # aligned again only when a look changes the words
    for step in drill.steps:
        if step.optional or alignment.placed(step.id):
            continue
        stretches = _stretches(words, _unexplained_gap(words, drill, alignment, step.id))
        for first, last in [(a, b) for a, b in stretches if words[b].end - words[a].start <= MAX_STRETCH_S][:MAX_LOOKS]:
            heard = _hear_again(words, first, last, step.phrases, engine, clip)
            if not heard:
                continue
            again = words[:first] + _spread(heard.split(), words[first].start, words[last].end) + words[last + 1 :]
            realigned = align(again, drill)
            if realigned.placed(step.id):
                words, alignment = again, realigned
                break
    return _fillers_heard_again(words, drill, alignment, engine, clip)


def _fillers_heard_again(words: list[Word], drill: Drill, alignment, engine: Listener, clip: Clip) -> list[Word]:
    """The words with each lone unsure word no hit explains heard again among the fillers and the
    script's words: where a filler wins it replaces the word (same span, heard clearly)."""
    fillers = {" ".join(normalise(f)) for f in drill.fillers} - {""}
    if not fillers:
        return words
    vocabulary = sorted(fillers | {t for line in drill.script_lines() for t in normalise(line)})
    explained = {i for h in alignment.hits for i in range(h.first, h.last + 1)}
    lone = [a for a, b in _stretches(words, [i for i in range(len(words)) if i not in explained]) if a == b]
    words = list(words)
    for i in (i for i in lone if words[i].conf < FAINT_CONF):
        heard = _hear_again(words, i, i, vocabulary, engine, clip)
        if heard in fillers:
            words[i] = Word(heard, words[i].start, words[i].end)
    return words


def _hear_again(words: list[Word], first: int, last: int, phrases: Sequence[str], engine: Listener, clip: Clip) -> str | None:
    """words[first..last] decoded again, held to `phrases`, with silence either side up to their neighbours."""
    start, end = words[first].start, words[last].end
    before = words[first - 1].end if first else 0.0
    after = words[last + 1].start if last + 1 < len(words) else end + PAD_S
    return engine.hear_only(with_hiss(clip(max(before, start - PAD_S), min(after, end + PAD_S))), phrases)


def _stretches(words: list[Word], indices: list[int]) -> list[tuple[int, int]]:
    """The runs of consecutive word indices said without a pause, as (first, last)."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1 and words[i].start - words[i - 1].end < RUN_GAP_S:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _unexplained_gap(words: list[Word], drill: Drill, alignment, step_id: str) -> list[int]:
    """Indices of the words between the steps said before and after `step_id` (in the script's
    order) that no hit explains; none when no step at all was heard."""
    ids = [s.id for s in drill.steps]
    spot = ids.index(step_id)
    heard = {h.key: h for h in alignment.step_hits()}
    earlier = next((heard[i] for i in reversed(ids[:spot]) if i in heard), None)
    later = next((heard[i] for i in ids[spot + 1 :] if i in heard), None)
    low = earlier.last + 1 if earlier else 0
    high = later.first if later else len(words)
    if low >= high or (earlier is None and later is None):
        return []
    explained = {i for h in alignment.hits for i in range(h.first, h.last + 1)}
    return [i for i in range(low, high) if i not in explained]


def _spread(tokens: list[str], start: float, end: float) -> list[Word]:
    """The phrase's words spread evenly over the stretch they were heard in."""
    size = (end - start) / len(tokens)
    return [Word(t, round(start + i * size, 3), round(start + (i + 1) * size, 3)) for i, t in enumerate(tokens)]


def phrases_known(phrases: Sequence[str], known: Callable[[str], bool]) -> list[str]:
    """The phrases as normalised word strings, keeping those whose every word the engine knows."""
    said = [" ".join(normalise(p)) for p in phrases]
    return sorted({p for p in said if p and all(known(w) for w in p.split())})
