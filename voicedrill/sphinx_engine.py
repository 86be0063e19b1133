"""The pocketsphinx engine: offline English from the model bundled in its wheel.

With a drill, decoding is biased towards the drill's script (see script_lm); speech is cut into
utterances by pocketsphinx's own endpointer so memory stays flat on long files.
"""

from __future__ import annotations

import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pocketsphinx

from .align import normalise
from .data import Word
from .drills import Drill
from .script_lm import build_arpa

FRAME_S = 0.01  # pocketsphinx's default frame rate is 100/s
BACKGROUND_WORDS = 10000  # general vocabulary kept besides the script
_NOT_WORDS = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+|\(null\))$", re.IGNORECASE)
_MODEL = Path(pocketsphinx.get_model_path()) / "en-us"


@lru_cache(maxsize=1)
def dictionary() -> frozenset[str]:
    with open(_MODEL / "cmudict-en-us.dict", encoding="utf-8") as f:
        return frozenset(line.split(" ", 1)[0] for line in f if "(" not in line.split(" ", 1)[0])


@lru_cache(maxsize=1)
def background_unigrams() -> dict[str, float]:
    """The most frequent words of the general en-us model, with their probabilities."""
    lm = pocketsphinx.NGramModel(pocketsphinx.Config(), pocketsphinx.LogMath(), str(_MODEL / "en-us.lm.bin"))
    scale = np.log(1.0001)  # LogMath's default base
    scored = sorted(((lm.prob([w]), w) for w in dictionary()), reverse=True)[:BACKGROUND_WORDS]
    return {w: float(np.exp(p * scale)) for p, w in scored}


def script_sentences(drill: Drill) -> list[list[str]]:
    words = dictionary()
    return [[t for t in normalise(line) if t in words] for line in drill.script_lines()]


class SphinxRecognizer:
    """One stream: endpointer → utterances → words with absolute times.

    pocketsphinx normalises cepstra with a running mean that starts from a generic guess, so the
    first utterance a fresh decoder hears is badly recognised (a rep's opening line, measured).
    The first utterance is therefore decoded again once that mean has adapted to the speaker.
    """

    def __init__(self, engine: SphinxEngine):
        self._engine = engine
        self._decoder = engine.decoder
        self._endpointer = pocketsphinx.Endpointer(sample_rate=16000)
        self._pending = b""
        self._utt_start = 0.0
        self._in_utt = False
        self._first_utt: bytearray | None = None if engine.warm else bytearray()

    def accept(self, pcm: np.ndarray) -> list[Word]:
        self._pending += pcm.tobytes()
        size = self._endpointer.frame_bytes
        words: list[Word] = []
        while len(self._pending) >= size:
            frame, self._pending = self._pending[:size], self._pending[size:]
            words += self._feed(self._endpointer.process(frame))
        return words

    def _feed(self, speech: bytes | None) -> list[Word]:
        if speech is None:
            return []
        if not self._in_utt:
            self._decoder.start_utt()
            self._utt_start = self._endpointer.speech_start
            self._in_utt = True
        self._decoder.process_raw(speech, False, False)
        if self._first_utt is not None:
            self._first_utt += speech
        return [] if self._endpointer.in_speech else self._end_utterance()

    def _end_utterance(self) -> list[Word]:
        self._decoder.end_utt()
        self._in_utt = False
        if self._first_utt is not None:
            self._decoder.start_utt()
            self._decoder.process_raw(bytes(self._first_utt), False, False)
            self._decoder.end_utt()
            self._first_utt = None
            self._engine.warm = True
        return self._segments()

    def _segments(self) -> list[Word]:
        return [
            Word(
                re.sub(r"\(\d+\)$", "", s.word),
                round(self._utt_start + s.start_frame * FRAME_S, 3),
                round(self._utt_start + (s.end_frame + 1) * FRAME_S, 3),
                round(min(1.0, max(0.0, s.prob)), 3),  # posterior probability of the word
            )
            for s in self._decoder.seg()
            if not _NOT_WORDS.match(s.word)
        ]

    def partial(self) -> list[Word]:
        return self._segments() if self._in_utt else []

    def finish(self) -> list[Word]:
        words: list[Word] = []
        if self._endpointer.in_speech:
            words += self._feed(self._endpointer.end_stream(self._pending))
        self._pending = b""
        if self._in_utt:
            words += self._end_utterance()
        return words


class SphinxEngine:
    """Loads the acoustic model once; with a drill, a script-biased language model."""

    name = "pocketsphinx"

    def __init__(self, drill: Drill | None = None):
        self.warm = False  # has the cepstral mean adapted to real speech yet?
        if drill is None:
            self.decoder = pocketsphinx.Decoder(samprate=16000, loglevel="FATAL")
            self.description = "pocketsphinx, bundled en-us model"
            return
        arpa = build_arpa(script_sentences(drill), background_unigrams())
        fd, path = tempfile.mkstemp(suffix=".arpa")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(arpa)
            self.decoder = pocketsphinx.Decoder(lm=path, samprate=16000, loglevel="FATAL")
        finally:
            os.unlink(path)
        self.description = f"pocketsphinx, bundled en-us model biased to the {drill.name} script"

    def recognizer(self) -> SphinxRecognizer:
        return SphinxRecognizer(self)
