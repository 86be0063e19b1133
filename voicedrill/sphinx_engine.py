"""The pocketsphinx engine: offline English from the model bundled in its wheel.

With a drill, decoding is biased towards the drill's script (see script_lm); speech is cut into
utterances by pocketsphinx's own endpointer so memory stays flat on long files, and an utterance the
script does not explain is heard twice (see SphinxRecognizer).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pocketsphinx

from .align import normalise
from .audio import RATE, with_hiss
from .data import Word
from .drills import Drill
from .hearing import better, context, word_for_word
from .script_lm import build_arpa
from .second_look import phrases_known

FRAME_S = 0.01  # pocketsphinx's default frame rate is 100/s
BACKGROUND_WORDS = 10000  # general vocabulary kept besides the script
MAX_REDECODE_BYTES = 60 * RATE * 2  # a first utterance up to a minute is decoded again once the mean has adapted
MAX_WHOLE_BYTES = 8 * RATE * 2  # utterances up to 8 s (two lines in one breath) may be heard again whole
LOOK = "second-look"  # the grammar search a missing step's stretch is heard again with
SHORT_PHONES = 3  # a filler is this short ("hmm": HH M), so only a word this short can sound like one
_NOT_WORDS = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+|\(null\))$", re.IGNORECASE)
_MODEL = Path(pocketsphinx.get_model_path()) / "en-us"


@lru_cache(maxsize=1)
def _lexicon() -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The dictionary's words, and each word's short pronunciations (e.g. "i'm" → {"AY M", "AH M"})."""
    words: set[str] = set()
    short: dict[str, set[str]] = {}
    with open(_MODEL / "cmudict-en-us.dict", encoding="utf-8") as f:
        for line in f:
            entry, _, phones = line.strip().partition(" ")
            word = re.sub(r"\(\d+\)$", "", entry)
            words.add(word)
            if len(phones.split()) <= SHORT_PHONES:
                short.setdefault(word, set()).add(phones.strip())
    return frozenset(words), {w: frozenset(p) for w, p in short.items()}


def dictionary() -> frozenset[str]:
    return _lexicon()[0]


def unlike_fillers(fillers: Sequence[str], words: Sequence[str]) -> list[str]:
    """The `words` the engine knows but for those that sound exactly like one of `fillers` ("a"
    like "uh", "i'm" like "um"): as phrases_known gives them."""
    sounds = _lexicon()[1]
    fillers = phrases_known(fillers, dictionary().__contains__)
    alike = {p for f in fillers for p in sounds.get(f, ())}
    return [w for w in phrases_known(words, dictionary().__contains__) if w not in fillers and not sounds.get(w, frozenset()) & alike]


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
    first utterance is badly recognised until that mean adapts (a rep's opening line, measured).
    Each rep therefore starts from the same initial mean — the same audio always gives the same
    words, whatever was decoded before — and its first utterance is decoded again once adapted.

    The model was trained with each utterance normalised by its own mean (`-cmn batch`), so an
    utterance not heard as the script word for word is also decoded again whole, that way, on
    the engine's second decoder (the stream's state is untouched), and the better hearing kept
    (see hearing). A line heard as written costs nothing more; anything else (a misheard line,
    off-script talk, a lone "um") is heard again, up to 8 s of it.
    """

    def __init__(self, engine: SphinxEngine):
        self._engine = engine
        self._decoder = engine.decoder
        self._decoder.reinit_feat()  # the cepstral mean and its history start afresh
        self._endpointer = pocketsphinx.Endpointer(sample_rate=RATE)
        self._pending = b""
        self._utt_start = 0.0
        self._in_utt = False
        self.closed = False
        self._utt: bytearray | None = None  # this utterance's speech, to decode again (None: too long for that)
        self._first = True
        self._context: list[Word] = []

    def accept(self, pcm: np.ndarray) -> list[Word]:
        self._pending += pcm.tobytes()
        size = self._endpointer.frame_bytes
        words: list[Word] = []
        while len(self._pending) >= size:
            frame, self._pending = self._pending[:size], self._pending[size:]
            words += self._feed(self._endpointer.process(frame))
        return words

    def _feed(self, speech: bytes | None) -> list[Word]:
        if not speech:  # None, or an empty end of stream (a recording that stops mid-speech on a frame edge)
            return []
        if not self._in_utt:
            self._decoder.start_utt()
            self._utt_start = self._endpointer.speech_start
            self._in_utt = True
            self._utt = bytearray()
        self._decoder.process_raw(speech, False, False)
        if self._utt is not None:
            self._utt += speech
            if len(self._utt) > (MAX_REDECODE_BYTES if self._first else MAX_WHOLE_BYTES):
                self._utt = None
        return [] if self._endpointer.in_speech else self._end_utterance()

    def _end_utterance(self) -> list[Word]:
        self._decoder.end_utt()
        self._in_utt = False
        self.closed = False
        heard = self._segments()
        if self._first and self._utt is not None:  # (a very long first utterance has adapted the mean anyway)
            heard = self._adapted(heard)
        self._first = False
        drill = self._engine.drill
        if drill is not None and self._utt is not None and len(self._utt) <= MAX_WHOLE_BYTES and not word_for_word(self._context, heard, drill):
            heard = better(self._context, heard, self._engine.hear_whole(bytes(self._utt), self._utt_start), drill)
        self._context = context(self._context, heard)
        self._utt = None
        return heard

    def _adapted(self, streamed: list[Word]) -> list[Word]:
        """The first utterance decoded again now the mean has adapted; as streamed if pocketsphinx refuses it."""
        try:
            with _utterance(self._decoder):
                self._decoder.process_raw(bytes(self._utt), False, False)
        except RuntimeError:
            return streamed
        return self._segments()

    def _segments(self) -> list[Word]:
        return _words(self._decoder, self._utt_start)

    def partial(self) -> list[Word]:
        return self._segments() if self._in_utt else []

    def close(self) -> None:
        """Give the shared decoder back; a rep cut off mid-utterance (Ctrl-C, a vanished microphone) ends here."""
        if self._in_utt:
            try:
                self._decoder.end_utt()
            except RuntimeError:  # ended already: a stop landed just after end_utt returned, before it was noted
                pass
            self._in_utt = False
        self._utt = None
        self.closed = True

    def finish(self) -> list[Word]:
        words: list[Word] = []
        if self._endpointer.in_speech and self._pending:  # (an empty end is refused by pocketsphinx; the utterance ends below)
            words += self._feed(self._endpointer.end_stream(self._pending))
        self._pending = b""
        if self._in_utt:
            words += self._end_utterance()
        self.closed = True
        return words


def _words(decoder: pocketsphinx.Decoder, start: float) -> list[Word]:
    """The words of the decoder's last utterance, which began `start` seconds into the stream."""
    return [
        Word(
            re.sub(r"\(\d+\)$", "", s.word),
            round(start + s.start_frame * FRAME_S, 3),
            round(start + (s.end_frame + 1) * FRAME_S, 3),
            round(min(1.0, max(0.0, s.prob)), 3),  # posterior probability of the word
        )
        for s in decoder.seg() or ()
        if not _NOT_WORDS.match(s.word)
    ]


@contextlib.contextmanager
def _utterance(decoder: pocketsphinx.Decoder) -> Iterator[None]:
    """One utterance on `decoder`, ended however the block leaves it: interrupted (Ctrl-C) or
    refused, the decoder is left ready for the next and the first error is the one raised."""
    decoder.start_utt()
    try:
        yield
    except BaseException:
        with contextlib.suppress(RuntimeError):
            decoder.end_utt()
        raise
    decoder.end_utt()


def _heard_with(decoder: pocketsphinx.Decoder, grammar: str, audio: np.ndarray) -> str | None:
    """`audio` decoded as one utterance with a JSGF `grammar` (the decoder's own search is back
    afterwards, however it ends): the best hypothesis, or None."""
    free = decoder.current_search()
    decoder.add_jsgf_string(LOOK, grammar)
    decoder.activate_search(LOOK)
    try:
        with _utterance(decoder):
            decoder.process_raw(audio.tobytes(), False, True)
        hypothesis = decoder.hyp()
    finally:
        decoder.activate_search(free)
    return None if hypothesis is None else hypothesis.hypstr


def _biased_decoders(drill: Drill) -> tuple[pocketsphinx.Decoder, pocketsphinx.Decoder]:
    """Two decoders whose language model is the drill's script over general English words."""
    fd, path = tempfile.mkstemp(suffix=".arpa")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(build_arpa(script_sentences(drill), background_unigrams()))
        return tuple(pocketsphinx.Decoder(lm=path, samprate=RATE, loglevel="FATAL") for _ in range(2))
    finally:
        os.unlink(path)


class SphinxEngine:
    """Loads the acoustic model once; with a drill, a script-biased language model on two decoders:
    one follows the stream, the other hears an utterance (or a look's stretch) again on its own mean."""

    name = "pocketsphinx"
    model_name = "en-us (bundled)"

    description = "pocketsphinx (built in)"

    def __init__(self, drill: Drill | None = None):
        self.drill = drill
        if drill is None:
            self.decoder, self._whole = pocketsphinx.Decoder(samprate=RATE, loglevel="FATAL"), None
        else:
            self.decoder, self._whole = _biased_decoders(drill)
        self._general: pocketsphinx.Decoder | None = None  # the bundled general English model, made when first needed (hear_freely)
        self.recipe = partial(SphinxEngine, drill)  # it holds Python's lock while decoding: live, it decodes in a child
        self._current: SphinxRecognizer | None = None  # one stream at a time on the shared decoder

    def hear_only(self, audio: np.ndarray, phrases: Sequence[str]) -> str | None:
        """Decode `audio` with a grammar of just these phrases (see second_look): the phrase
        heard, or None when the search cannot end in any of them."""
        return self._hear(audio, phrases_known(phrases, dictionary().__contains__))

    def hear_filler(self, audio: np.ndarray, fillers: Sequence[str], words: Sequence[str]) -> str | None:
        """Decode a lone sound allowed to be one of `fillers`, one of `words` or nothing at all (see
        second_look): what was heard, or None. A word that sounds exactly like a filler ("a" and
        "uh", "or" and "er") is left out: alone between two lines, that sound is the filler."""
        allowed = phrases_known(fillers, dictionary().__contains__)
        return self._hear(audio, allowed + unlike_fillers(allowed, words), nothing=True) if allowed else None

    def _hear(self, audio: np.ndarray, allowed: list[str], nothing: bool = False) -> str | None:
        """`audio` decoded with a grammar of the `allowed` phrases (and, with `nothing`, of no
        word at all): the phrase heard, or None. Heard on the stream's decoder, with the mean the
        rep left; when that finds none of them, on the second decoder normalised by the stretch's
        own mean, as the model was trained (a faint "um" between two lines of a silent room is
        only heard that way; under a room's noise the rep's mean hears more). While a stream is
        open (a live look, decoded here), the first decoder is the stream's: only the second hears it."""
        streaming = self._current is not None and not self._current.closed
        if not allowed or not audio.size or (streaming and self._whole is None):
            return None
        choices = ["<NULL>"] * nothing + [f"( {p} )" for p in allowed]
        grammar = "#JSGF V1.0;\ngrammar look;\npublic <look> = " + " | ".join(choices) + " ;\n"
        try:
            heard = None if streaming else _heard_with(self.decoder, grammar, audio)
            if heard not in allowed and self._whole is not None:
                self._whole.reinit_feat()
                heard = _heard_with(self._whole, grammar, audio)
        except RuntimeError:  # pocketsphinx refused the stretch: no second look, the rep keeps its words
            return None
        return heard if heard in allowed else None

    def hear_freely(self, audio: np.ndarray) -> str | None:
        """`audio` decoded by the bundled general English model, normalised by its own mean: what
        was heard free of the drill's script (see second_look), or None."""
        try:
            if self._general is None:
                self._general = pocketsphinx.Decoder(samprate=RATE, loglevel="FATAL")
            self._general.reinit_feat()
            with _utterance(self._general):
                self._general.process_raw(audio.tobytes(), False, True)
        except RuntimeError:
            return None
        return " ".join(w.text for w in _words(self._general, 0.0)) or None

    def hear_whole(self, speech: bytes, start: float) -> list[Word]:
        """An utterance's 16-bit speech decoded again whole on the second decoder: normalised by its
        own mean, with nothing carried over from the last one; its words timed from `start`.
        Nothing (the streamed hearing stands) if pocketsphinx refuses it."""
        try:
            self._whole.reinit_feat()
            with _utterance(self._whole):
                self._whole.process_raw(with_hiss(np.frombuffer(speech, np.int16)).tobytes(), False, True)
        except RuntimeError:
            return []
        return _words(self._whole, start)

    def recognizer(self) -> SphinxRecognizer:
        if self._current is not None and not self._current.closed:
            raise RuntimeError("a pocketsphinx stream was left open: finish() or close() it before the next")
        self._current = SphinxRecognizer(self)
        return self._current
