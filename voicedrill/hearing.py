"""Choosing between two hearings of one utterance: as streamed, and heard again whole. Pure: no I/O.

A streaming recogniser normalises the sound with a running mean; pocketsphinx's model was trained
with each utterance normalised by its own. Over a telephone line, in another voice or reading the
bare lines, the streamed hearing can miss a line the whole hearing gets (measured in
bench/ACCURACY.md). An utterance heard as the script word for word is taken as streamed;
otherwise the hearing that explains more of the script, in order, after the words said just
before it is kept. The stream's fillers stay either way: hearing whole tends to drop an "um".
"""

from __future__ import annotations

from collections.abc import Sequence

from .align import align, is_filler
from .analysis import clean_words
from .data import Word
from .drills import Drill

CONTEXT_WORDS = 40  # the words said just before an utterance that judge its hearings: the last few lines


def context(before: Sequence[Word], heard: Sequence[Word]) -> list[Word]:
    """The words that judge the next utterance: the last CONTEXT_WORDS of what was kept."""
    return [*before, *heard][-CONTEXT_WORDS:]


def word_for_word(before: Sequence[Word], heard: Sequence[Word], drill: Drill) -> bool:
    """Is the utterance the script, exactly: every word part of a step, forbidden phrase or filler,
    and a step begun in it said as one of its phrases? (Speech heard as no words at all is not.)"""
    before, heard = clean_words(before), clean_words(heard)
    alignment = align(before + heard, drill)
    covered = {i for h in alignment.hits for i in range(h.first, h.last + 1)} | set(alignment.fillers)
    begun = [h for h in alignment.step_hits() if h.first >= len(before)]
    return bool(begun) and all(h.score >= 1.0 for h in begun) and all(i in covered for i in range(len(before), len(before) + len(heard)))


def better(before: Sequence[Word], streamed: Sequence[Word], whole: Sequence[Word], drill: Drill) -> list[Word]:
    """The streamed words, or the whole hearing's (with the stream's fillers) when those explain
    more of the script in order after `before`. A stream "filler" may be a misheard script word:
    put back, it must not undo what the whole hearing won."""
    fillers = [w for w in streamed if is_filler(w, drill)]
    kept = [w for w in whole if not any(f.start <= (w.start + w.end) / 2 <= f.end for f in fillers)]
    merged = sorted(kept + fillers, key=lambda w: (w.start, w.end))
    return merged if _explained([*before, *merged], drill) > _explained([*before, *streamed], drill) else list(streamed)


def _explained(words: Sequence[Word], drill: Drill) -> float:
    """How much of the script the words say where the script puts it: the weight of the step hits in order."""
    alignment = align(clean_words(words), drill)
    return sum(h.weight for h in alignment.step_hits() if h.key not in alignment.out_of_order)
