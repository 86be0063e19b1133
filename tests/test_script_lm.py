"""The script language model is a proper probability model that pocketsphinx loads."""

from __future__ import annotations

import math
import re

import pytest

from voicedrill.script_lm import build_arpa


def parse(arpa: str) -> list[dict[tuple[str, ...], tuple[float, float]]]:
    grams: list[dict] = [{}, {}, {}]
    order = 0
    for line in arpa.splitlines():
        header = re.match(r"\\(\d)-grams:", line)
        if header:
            order = int(header.group(1))
            continue
        fields = line.split("\t")
        if order and len(fields) >= 2:
            backoff = float(fields[2]) if len(fields) == 3 else 0.0
            grams[order - 1][tuple(fields[1].split())] = (10 ** float(fields[0]), 10**backoff)
    return grams


def prob(grams, words: tuple[str, ...]) -> float:
    if words in grams[len(words) - 1]:
        return grams[len(words) - 1][words][0]
    return grams[len(words) - 2].get(words[:-1], (0, 1.0))[1] * prob(grams, words[1:])


SENTENCES = [["what's", "the", "best", "name"], ["what's", "a", "good", "phone", "number"], ["email"]]
BACKGROUND = {"the": 0.5, "a": 0.3, "dog": 0.2}


def test_distributions_sum_to_one():
    grams = parse(build_arpa(SENTENCES, BACKGROUND))
    vocab = [w for (w,) in grams[0] if w != "<s>"]
    assert sum(prob(grams, (w,)) for w in vocab) == pytest.approx(1.0, abs=1e-3)
    for history in [("what's",), ("<s>",), ("dog",), ("<s>", "what's"), ("what's", "the")]:
        assert sum(prob(grams, (*history, w)) for w in vocab) == pytest.approx(1.0, abs=1e-3), history


def test_script_is_favoured_but_other_words_remain():
    grams = parse(build_arpa(SENTENCES, BACKGROUND))
    assert prob(grams, ("what's", "the", "best")) > 0.5
    assert 0 < prob(grams, ("what's", "the", "dog")) < 0.05


def test_pocketsphinx_loads_it(tmp_path):
    import pocketsphinx

    path = tmp_path / "lm.arpa"
    path.write_text(build_arpa(SENTENCES, BACKGROUND))
    model = pocketsphinx.NGramModel(pocketsphinx.Config(), pocketsphinx.LogMath(), str(path))
    assert model.size() == 3
    assert math.isfinite(model.prob(["best"]))
