"""A small ARPA trigram model of a drill's script, backed off to a general unigram vocabulary.

This biases a decoder towards what the rep is meant to say while any other common word stays
recognisable, so off-script speech still shows up as off-script words. Pure: text in, text out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

DISCOUNT = 0.5  # absolute discount taken from every seen n-gram for the lower order


def build_arpa(sentences: Sequence[Sequence[str]], background: Mapping[str, float], script_weight: float = 0.5) -> str:
    """ARPA text for script trigrams over a unigram mix of script and `background` (word → prob)."""
    grams: list[Counter] = [Counter(), Counter(), Counter()]
    for sentence in sentences:
        tokens = ["<s>", *sentence, "</s>"]
        for n in range(3):
            for i in range(len(tokens) - n):
                grams[n][tuple(tokens[i : i + n + 1])] += 1
    del grams[0][("<s>",)]
    script_total = sum(grams[0].values())
    bg_total = sum(background.values()) or 1.0
    vocab = {w for (w,) in grams[0]} | set(background)
    uni = {
        w: script_weight * grams[0][(w,)] / script_total + (1 - script_weight) * background.get(w, 0.0) / bg_total
        for w in vocab
    }

    def lower(gram: tuple[str, ...]) -> float:
        """Probability of gram[-1] given the shorter history, following back-offs."""
        if len(gram) == 1:
            return uni[gram[0]]
        if gram in probs[len(gram) - 1]:
            return probs[len(gram) - 1][gram]
        return backoff.get(gram[:-1], 1.0) * lower(gram[1:])

    probs: list[dict[tuple[str, ...], float]] = [{(w,): p for w, p in uni.items()}, {}, {}]
    backoff: dict[tuple[str, ...], float] = {}
    for n in (1, 2):
        histories: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for gram in grams[n]:
            histories.setdefault(gram[:-1], []).append(gram)
        for history, seen in histories.items():
            total = sum(grams[n][g] for g in seen)
            mass = DISCOUNT * len(seen) / total
            for gram in seen:
                probs[n][gram] = (grams[n][gram] - DISCOUNT) / total + mass * lower(gram[1:])
            left = 1.0 - sum(probs[n][g] for g in seen)
            left_lower = 1.0 - sum(lower(g[1:]) for g in seen)
            backoff[history] = left / left_lower if left_lower > 1e-12 else 1.0

    lines = ["\\data\\", *(f"ngram {n + 1}={len(probs[n]) + (n == 0)}" for n in range(3)), ""]
    for n in range(3):
        lines.append(f"\\{n + 1}-grams:")
        if n == 0:
            lines.append(f"-99.0000\t<s>\t{_log(backoff.get(('<s>',), 1.0)):.4f}")
        for gram, p in sorted(probs[n].items()):
            text = " ".join(gram)
            if n < 2:
                lines.append(f"{_log(p):.4f}\t{text}\t{_log(backoff.get(gram, 1.0)):.4f}")
            else:
                lines.append(f"{_log(p):.4f}\t{text}")
        lines.append("")
    lines.append("\\end\\")
    return "\n".join(lines) + "\n"


def _log(p: float) -> float:
    return math.log10(p) if p > 0 else -99.0
